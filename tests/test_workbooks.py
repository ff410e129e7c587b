"""Real exports: format by content, any sheet, two-row headers, BIFF .xls, HTML as .xls, ods, Excel's text marks."""

import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ledger.headers import combine_header, normalize_header
from ledger.readers import LedgerFileError, read_ledger_file
from ledger.sniff import sniff_format
from params.prepare import IngestParams

PARAMS = IngestParams()
# header spellings as the caller builds them from conf/columns.yaml, per-side amount headers included
ALIASES = "일자 거래일자 적요 거래내용 거래처 금액 부가세 공급가액 계정코드 계정과목"
SIDED = "차변금액 대변금액 수입금액 수입부가세 비용금액 비용부가세"
KNOWN = {normalize_header(a) for a in (ALIASES + " " + SIDED).split()}
PERIOD = "기간 : 2024-01-01 ~ 2024-03-31"


def read(path: Path, sheet=PARAMS.sheet):
    return read_ledger_file(str(path), KNOWN, PARAMS.encodings, sheet, PARAMS.header_search_rows)


def texts(row: pd.Series) -> list[str | None]:
    """A row's cells with missing as None."""
    return [None if pd.isna(v) else v for v in row]


def xlsx_bytes(sheets: dict[str, list[list]], merge: dict[str, list[str]] | None = None) -> bytes:
    """A workbook with one sheet per entry, rows from A1 (None: empty cell), `merge` ranges per sheet."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cells in (merge or {}).get(name, []):
            sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


LEDGER = [["일자", "거래처", "금액", "계정코드"], [dt.date(2024, 1, 5), "쿠팡", 11000, "0830"]]


# --- format by content ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fmt"),
    [
        (xlsx_bytes({"원장": LEDGER}), "xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "xls"),
        (b"PAR1\x15\x04", "parquet"),
        (b'\xef\xbb\xbf  <html><meta charset="euc-kr"><TABLE><tr><td>x</td></tr></TABLE></html>', "html"),
        (b"<!DOCTYPE html><html><body>no rows</body></html>", "html"),
        ("일자,금액\n2024-01-05,<b>\n".encode(), "csv"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "csv"),  # none of the formats: the CSV reader refuses it as binary
    ],
)
def test_format_is_sniffed_from_the_bytes(raw, fmt):
    assert sniff_format(raw) == fmt


def test_csv_name_holding_xlsx_bytes_is_read_as_xlsx(tmp_path):
    # given a workbook saved under a .csv name
    path = tmp_path / "ledger.csv"
    path.write_bytes(xlsx_bytes({"원장": LEDGER}))
    # when read
    df, report = read(path)
    # then it is read as the workbook it is, the code's leading zero kept
    assert report.format == "xlsx" and report.sheets == ["원장"] and report.sheet == "원장"
    assert df.to_dict("records") == [{"일자": "2024-01-05", "거래처": "쿠팡", "금액": "11000", "계정코드": "0830"}]
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)


# --- sheets ---------------------------------------------------------------------------------------


def test_cover_page_sheet_is_skipped_for_the_ledger_sheet(tmp_path):
    # given a workbook whose first sheet is a 조회조건 cover page (one header-like word on it)
    cover = [["조회조건"], [PERIOD], ["계정과목", "전체"]]
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes({"조회조건": cover, "원장": LEDGER}))
    # when read with no sheet named
    df, report = read(path)
    # then the ledger sheet is read and both sheets are reported
    assert report.sheet == "원장" and report.sheets == ["조회조건", "원장"]
    assert report.header_rows == [1] and report.title_lines == []
    assert df.loc[0, "거래처"] == "쿠팡"


def test_a_sheet_given_by_index_or_name_is_read_and_an_absent_one_lists_the_sheets(tmp_path):
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes({"a": LEDGER, "b": [["일자", "금액"], ["2024-02-01", 7]]}))
    df, report = read(path, sheet=1)
    assert report.sheet == "b" and df.loc[0, "금액"] == "7"
    assert read(path, sheet="a")[1].sheet == "a" and read(path, sheet="-1")[1].sheet == "b"
    with pytest.raises(LedgerFileError, match=r"has no sheet '매출' \(its sheets: \['a', 'b'\]\)"):
        read(path, sheet="매출")


def test_workbook_without_a_ledger_header_names_its_sheets(tmp_path):
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes({"표지": [["안녕"]], "메모": [["name", "age"]]}))
    with pytest.raises(LedgerFileError) as info:
        read(path)
    assert info.value.problem == "no sheet has a ledger header (sheets: ['표지', '메모']); set ingest.sheet"


# --- two-row headers ------------------------------------------------------------------------------


def test_title_period_and_merged_two_row_header_of_an_xlsx(tmp_path):
    # given a title, a period row and 차변/대변 merged over 금액/부가세 (일자 and 적요 merged down both rows)
    rows = [
        ["계정별원장", None, None, None, None, None],
        [PERIOD],
        ["일자", "적 요", "차변", None, "대변", None],
        [None, None, "금액", "부가세", "금액", "부가세"],
        [dt.datetime(2024, 1, 5), "식대", 10000, 1000.0, None, None],
        [],
        ["2024-01-06", "환불", None, None, 5500, 500],
    ]
    merge = {"원장": ["A1:F1", "A3:A4", "B3:B4", "C3:D3", "E3:F3"]}
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(xlsx_bytes({"원장": rows}, merge))
    # when read
    df, report = read(path)
    # then one combined header per column, the data right under the lower header row, the blank row kept
    assert list(df.columns) == ["일자", "적 요", "차변금액", "부가세", "대변금액", "부가세.1"]
    assert report.header_rows == [3, 4] and report.header_row == 4
    assert report.title_lines == ["계정별원장", PERIOD]
    assert texts(df.loc[0]) == ["2024-01-05", "식대", "10000", "1000", None, None]
    assert df.loc[1].isna().all() and df.loc[2, "대변금액"] == "5500" and report.rows == 3


def test_group_row_over_sub_headers_builds_known_names():
    # given the 국세청 간편장부 header: 수입 and 비용 over 금액/부가세, 일자 merged down (blank below)
    group = ["일자", "거래내용", "수입", None, "비용", None, "비고"]
    sub = [None, None, "금액", "부가세", "금액", "부가세", None]
    # then each column takes the first known of group+sub, sub, group, else "group sub"
    assert combine_header(group, sub, KNOWN) == [
        "일자",
        "거래내용",
        "수입금액",
        "수입부가세",
        "비용금액",
        "비용부가세",
        "비고",
    ]
    assert combine_header(["자산", None], ["증가", "감소"], KNOWN) == ["자산 증가", "자산 감소"]


# --- BIFF .xls, HTML saved as .xls, ods -----------------------------------------------------------


def test_biff_xls_cells_are_text_without_float_tails(tmp_path):
    # given a real BIFF .xls: a date cell, an integer code, a float amount, a code kept as text
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("원장")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for c, header in enumerate(["일자", "계정코드", "금액", "적요"]):
        sheet.write(0, c, header)
    sheet.write(1, 0, dt.date(2024, 1, 5), day)
    sheet.write(1, 1, 81100)
    sheet.write(1, 2, 45000.0)
    sheet.write(1, 3, 1234.56)
    sheet.write(2, 0, dt.datetime(2024, 1, 6, 13, 5), xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM"))
    sheet.write(2, 1, "0813")
    sheet.write(2, 2, 0.1)
    path = tmp_path / "ledger.xls"
    book.save(str(path))
    # when read
    df, report = read(path)
    # then numbers read as a person sees them, dates as ISO, the text code keeps its zero
    assert report.format == "xls" and report.sheet == "원장"
    assert texts(df.loc[0]) == ["2024-01-05", "81100", "45000", "1234.56"]
    assert texts(df.loc[1]) == ["2024-01-06 13:05:00", "0813", "0.1", None]


HTML = """<html><head><meta charset="euc-kr"><title>거래내역</title></head><body>
<table><tr><td>조회기간</td><td>2024-01-01 ~ 2024-03-31</td></tr></table>
<table border="1">
<tr><th rowspan="2">일자</th><th rowspan="2">거래내용</th><th colspan="2">수입</th><th colspan="2">비용</th></tr>
<tr><th>금액</th><th>부가세</th><th>금액</th><th>부가세</th></tr>
<tr><td>2024.01.05</td><td> 똠양꿍&nbsp;식당 매출 </td><td>110,000</td><td>10,000</td><td></td><td></td></tr>
<tr><td>2024.01.06</td><td>임차료</td><td></td><td></td><td>550,000</td><td>50,000</td></tr>
</table></body></html>"""


def test_html_table_saved_as_xls_is_read_with_its_charset_and_spans(tmp_path):
    # given an HTML page named .xls, CP949 bytes labelled euc-kr (똠 is CP949 only), a colspan group header
    path = tmp_path / "거래내역.xls"
    path.write_bytes(HTML.encode("cp949"))
    # when read
    df, report = read(path)
    # then the table with the ledger header is read, its two header rows aligned
    assert report.format == "html" and report.encoding == "cp949"
    assert report.sheet == "table 2" and report.sheets == ["table 1", "table 2"]
    assert list(df.columns) == ["일자", "거래내용", "수입금액", "수입부가세", "비용금액", "비용부가세"]
    assert report.header_rows == [1, 2]
    assert texts(df.loc[0]) == ["2024.01.05", "똠양꿍 식당 매출", "110,000", "10,000", None, None]
    assert df.loc[1, "비용금액"] == "550,000"


def test_html_charset_from_http_equiv_meta(tmp_path):
    page = HTML.replace(
        '<meta charset="euc-kr">', '<meta http-equiv="Content-Type" content="text/html; charset=ks_c_5601-1987">'
    )
    path = tmp_path / "ledger.html"
    path.write_bytes(page.encode("cp949"))
    df, report = read(path)
    assert report.encoding == "cp949" and df.loc[0, "거래내용"] == "똠양꿍 식당 매출"


MANIFEST = """<?xml version="1.0"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""


def ods_bytes(rows: list[str]) -> bytes:
    """A minimal OpenDocument spreadsheet: mimetype, content.xml holding `rows` (table XML), the manifest."""
    ns = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ' + (
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = f'<?xml version="1.0"?><office:document-content {ns}><office:body><office:spreadsheet>'
    content += f'<table:table table:name="원장">{"".join(rows)}</table:table>'
    content += "</office:spreadsheet></office:body></office:document-content>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    return out.getvalue()


def _ods_row(*cells: str) -> str:
    return (
        "<table:table-row>" + "".join(f"<table:table-cell {c}</table:table-cell>" for c in cells) + "</table:table-row>"
    )


def test_ods_is_read(tmp_path):
    # given an ods with a date cell and a number cell
    header = _ods_row(
        'office:value-type="string"><text:p>일자</text:p>', 'office:value-type="string"><text:p>금액</text:p>'
    )
    data = _ods_row(
        'office:value-type="date" office:date-value="2024-01-05"><text:p>1/5</text:p>',
        'office:value-type="float" office:value="81100"><text:p>81,100</text:p>',
    )
    path = tmp_path / "ledger.ods"
    path.write_bytes(ods_bytes([header, data]))
    # when read
    df, report = read(path)
    # then like any workbook
    assert report.format == "ods" and df.loc[0].tolist() == ["2024-01-05", "81100"]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("ledger.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"damaged" * 100, "not a readable xls workbook ("),
        ("ledger.xls", b"<html><body><p>no data</p></body></html>", "an HTML page with no table rows"),
        ("ledger.xls", b"<table><tr><td>name</td><td>age</td></tr></table>", "no table has a ledger header"),
    ],
)
def test_unreadable_exports_say_what_is_wrong(tmp_path, name, raw, problem):
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(LedgerFileError) as info:
        read(path)
    assert problem in info.value.problem and info.value.url == str(path)
