"""Synthetic export shapes (synth.exports): file formats, the truth's row counts, determinism and the traps."""

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from synth.export_common import REJECT_RULES, TRUTH_COLUMNS
from synth.exports import EXTENSIONS, STYLES, write_export
from synth.ledger import make_ledger

ZIP, OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FORMATS = {".xlsx": "zip", ".csv": "csv", ".txt": "tsv"}
BINARY_XLS = {"xls-biff": "ole2", "html-xls": "html"}
CSV_ENCODINGS = {"journal-two-amounts": "cp949", "journal-paged": "utf-8-sig", "bank-statement": "utf-8-sig",
                 "web-erp": "utf-8", "signed-tsv": "cp949", "numbered-headers": "utf-8-sig"}  # fmt: skip
TSV = {"signed-tsv"}
DATE_HEADERS = {"일자", "①일자", "거래일시", "승인일자", "날짜", "① 거래 일자", "이용일시", "거래 일자"}
TWO_ROW_HEADERS = {"html-xls", "simple-book", "income-expense-book"}


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    return make_ledger(400, 40, seed=3)


@pytest.fixture(scope="module")
def written(ledger, tmp_path_factory):
    """style -> (truth, path) for seed 7, written once per module."""
    folder = tmp_path_factory.mktemp("exports")
    return {s: write_export(ledger, s, folder / f"{s}{EXTENSIONS[s]}", seed=7) for s in STYLES}


def sniff(data: bytes) -> str:
    if data.startswith(ZIP):
        return "zip"
    if data.startswith(OLE2):
        return "ole2"
    if data.lstrip()[:6].lower() in (b"<html>", b"<html ", b"<!doct"):
        return "html"
    if b"\x00" in data:
        return "unknown"
    first = data.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first else "csv" if b"," in first else "unknown"


def sheet_rows(path: str, style: str) -> list[list[str]]:
    """The rows of the sheet (or CSV / HTML table) that holds the ledger, every cell as text ('' = blank)."""
    if style in CSV_ENCODINGS:
        with open(path, encoding=CSV_ENCODINGS[style], newline="") as fh:
            return [[c.strip() for c in row] for row in csv.reader(fh, delimiter="\t" if style in TSV else ",")]
    if style == "html-xls":
        import lxml.html

        with open(path, "rb") as fh:
            tree = lxml.html.fromstring(fh.read().decode("cp949"))
        return [[c.text_content().strip() for c in tr.xpath("./th|./td")] for tr in tree.iter("tr")]
    sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine="calamine")
    table = list(sheets.values())[-1]
    return [["" if pd.isna(c) else str(c).strip() for c in row] for row in table.itertuples(index=False)]


def data_rows(rows: list[list[str]], style: str) -> list[list[str]]:
    """Rows below the (first) header up to the last non-blank one, counted independently of the writer."""
    header = next(i for i, row in enumerate(rows) if DATE_HEADERS & set(row))
    below = rows[header + (2 if style in TWO_ROW_HEADERS else 1) :]
    filled = [i for i, row in enumerate(below) if any(row)]
    return below[: filled[-1] + 1] if filled else []


@pytest.mark.parametrize("style", STYLES)
def test_file_format_and_row_counts(written, style):
    # given an export written in this style
    truth = written[style]
    with open(truth.path, "rb") as fh:
        data = fh.read()
    # then its bytes are the intended format
    assert sniff(data) == BINARY_XLS.get(style, FORMATS.get(EXTENSIONS[style])), data[:40]
    # and the truth accounts for every data row of the file, lines first
    assert list(truth.lines.columns) == TRUTH_COLUMNS
    assert set(truth.rejected) <= set(REJECT_RULES) and all(n > 0 for n in truth.rejected.values())
    assert truth.rows_in == len(truth.lines) + sum(truth.rejected.values())
    assert len(data_rows(sheet_rows(truth.path, style), style)) == truth.rows_in
    # and the lines are well formed
    lines = truth.lines
    assert lines["date"].str.fullmatch(r"2024-\d{2}-\d{2}").all()
    assert lines["side"].isin(["차변", "대변", "입금", "출금"]).all()
    assert (lines["amount"] != 0).all() and lines["amount"].dtype == "float64"
    assert lines["vendor"].notna().any() and 20 <= len(lines) <= 300


@pytest.mark.parametrize("style", STYLES)
def test_same_seed_same_file(ledger, written, style, tmp_path):
    # given the same ledger written again with the same seed
    again = write_export(ledger, style, tmp_path / f"again{EXTENSIONS[style]}", seed=7)
    first = written[style]
    # then the truth is the same, and so is the file's content
    pd.testing.assert_frame_equal(again.lines, first.lines)
    assert (again.rejected, again.rows_in) == (first.rejected, first.rows_in)
    assert sheet_rows(again.path, style) == sheet_rows(first.path, style)


def test_labels_only_where_the_style_carries_them(written):
    assert written["bank-statement"].lines["account_code"].isna().all()
    assert written["bank-statement"].lines["side"].isin(["입금", "출금"]).all()
    assert set(written["simple-book"].lines["side"]) == {"입금", "출금"}
    for style in set(STYLES) - {"bank-statement"}:
        assert written[style].lines["account_code"].notna().all(), style
    assert written["html-xls"].lines["account_code"].str.fullmatch(r"\d{3}00").all()
    assert written["web-erp"].lines["account_code"].str.fullmatch(r"0\d{3}").all()
    assert written["xls-biff"].lines["account_code"].str.fullmatch(r"\d{3}").all()


def test_summary_rows_of_the_journal(written):
    truth = written["journal-two-amounts"]
    rows = data_rows(sheet_rows(truth.path, "journal-two-amounts"), "journal-two-amounts")
    summaries = [r for r in rows if r[5] in ("[ 일 계 ]", "[ 월 계 ]")]
    assert len(summaries) == truth.rejected["summary_row"]
    assert sum(r[5] == "[ 월 계 ]" for r in rows) == truth.lines["date"].str.slice(0, 7).nunique()
    lines = [r for r in rows if r[0]]
    assert all((r[6] == "0") != (r[7] == "0") for r in lines)  # one side filled, the other 0


def test_ledger_by_account_code_column_is_the_vendor_code(written):
    # the trap: the 코드 column holds 5-digit 거래처 codes (leading zeros), never the account
    truth = written["ledger-by-account"]
    rows = sheet_rows(truth.path, "ledger-by-account")
    header = rows.index(["일자", "코드", "거래처", "적요", "차변", "대변", "잔액"])
    lines = [r for r in rows[header + 1 :] if re.fullmatch(r"\d{2}-\d{2}", r[0])]
    assert len(lines) == len(truth.lines)
    codes = [r[1] for r in lines if r[1]]
    assert codes and all(re.fullmatch(r"0\d{4}", c) for c in codes)
    blocks = [r[0] for r in rows if re.match(r"\[\d{3}\]", r[0])]
    assert len(blocks) == truth.rejected["account_block"] == truth.lines["account_code"].nunique()
    assert not set(codes) & set(truth.lines["account_code"])


def test_card_cancellations_repeat_their_approval(written):
    truth = written["card-approvals"]
    rows = data_rows(sheet_rows(truth.path, "card-approvals"), "card-approvals")
    approvals = {r[1]: r for r in rows if r[4] == "승인"}
    cancels = [r for r in rows if r[4] == "취소"]
    assert cancels and len(cancels) == (truth.lines["amount"] < 0).sum()
    for c in cancels:  # same 승인번호, merchant, amount and account as an earlier approval
        assert approvals[c[1]][1:4] == c[1:4] and approvals[c[1]][6] == c[6]
    negative = truth.lines[truth.lines["amount"] < 0]
    assert (negative["side"] == "차변").all()
    # two identical approvals at two times of one day: two real lines, not a duplicate
    key = lambda r: (r[0][:10], r[2], r[3], r[6])  # noqa: E731
    twins = pd.Series([key(r) for r in approvals.values()]).value_counts()
    assert (twins >= 2).any()


def test_html_xls_two_row_header_and_text_codes(written):
    raw = Path(written["html-xls"].path).read_bytes().decode("cp949")
    assert "charset=euc-kr" in raw and '<th colspan="3">금액</th>' in raw
    assert re.search(r'<td>="\d{3}00"</td>', raw)


def test_web_erp_codes_and_full_width_amounts(written):
    raw = Path(written["web-erp"].path).read_bytes().decode("utf-8")
    assert raw.startswith("①일자,②거래처(상호),③적 요,④금 액,차대구분,⑤계정코드")
    assert re.search(r',="0\d{3}"\r\n', raw) and re.search(r"[０-９]", raw)


def test_xls_biff_codes_and_amounts_are_numbers(written):
    table = pd.read_excel(written["xls-biff"].path, engine="calamine")
    assert pd.api.types.is_numeric_dtype(table["계정코드"]) and pd.api.types.is_numeric_dtype(table["금액"])


def test_cover_sheet_and_simple_book_layout(written):
    from openpyxl import load_workbook

    assert load_workbook(written["cover-sheet"].path).sheetnames == ["조회조건", "전표내역"]
    merged = {str(r) for r in load_workbook(written["simple-book"].path).active.merged_cells.ranges}
    assert {"D2:E2", "F2:G2", "A2:A3"} <= merged


def test_paged_journal_repeats_title_and_header(written):
    truth = written["journal-paged"]
    rows = data_rows(sheet_rows(truth.path, "journal-paged"), "journal-paged")
    assert sum(r[0] == "일자" for r in rows) == truth.rejected["repeated_header"] == 2
    assert sum(r[0].startswith("분개장") for r in rows) == truth.rejected["repeated_title"]


def test_unknown_style_and_too_few_lines(ledger, tmp_path):
    with pytest.raises(ValueError, match="unknown export style"):
        write_export(ledger, "nope", tmp_path / "x.csv")
    with pytest.raises(ValueError, match="at least 3"):
        write_export(ledger, "web-erp", tmp_path / "x.csv", lines=2)


def test_blank_rows_are_counted_apart(written):
    assert written["journal-paged"].blank_rows == written["journal-paged"].rejected["repeated_header"]
    assert all(written[s].blank_rows == 0 for s in set(STYLES) - {"journal-paged"})


def test_cli_synth_style(tmp_path, capsys):
    from flows.cli import main

    out = tmp_path / "card.xlsx"
    assert main(["synth", "--style", "card-approvals", "--rows", "20", "--accounts", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_bytes().startswith(ZIP) and f"card-approvals -> {out}" in printed and "account_code" in printed
