"""Acceptance corpus: real export shapes (synth.exports) through the data-preparation flow, compared with their truth.

Each style's file goes through prepare_data (no model: the flow stops before tokenizing) and must come out exactly
as the truth says: the accepted lines (date, amount, side, account code) in file order, the non-line rows rejected
under their rules (summary_row, account_block, repeated_header, repeated_title) and rows_in = accepted + rejected.
A plain ledger CSV of the same lines is the control: it must pass whatever the shapes do. The styles with headers
spelled as real exports spell them (numbered-headers, suffixed-headers, income-expense-book) also say in the mapping
report why a loosened header was mapped; a file whose two headers fit one column equally loosely is refused, naming
both and the ingest.columns line that settles it, and that line reads it exactly.
"""

import pandas as pd
import pytest

from flows.prepare import prepare_data
from ledger.errors import HeaderClashError
from params.prepare import PrepareParams
from synth.export_common import STANDARD_HEADERS, Recorder, select_lines
from synth.exports import EXTENSIONS, STYLES, ExportTruth, write_competing, write_export
from synth.ledger import make_ledger, write_ledger
from tests._tiers import fast_sample

pytestmark = pytest.mark.usefixtures("prefect_harness")
COMPARED = ["date", "amount", "side", "account_code"]
SEED = 7
# per style, mapping report entries of headers matched only once loosened (conf header_rules), with why
NOTED = {
    "numbered-headers": {"4) 거래처(상호)": "vendor (by dropping (상호))", "금액(원)": "amount (by dropping (원))"},
    "suffixed-headers": {"적요란": "description (by suffix 란)", "총금액": "amount (by prefix 총)",
                         "이용일시": "date (by ending 일시 as 일자)", "공급액": "supply_amount (by ending 액 as 금액)"},
    "income-expense-book": {"① 수입(원)금액": "amount (입금, by dropping (원))",
                            "비용 (지출)부가세": "vat (출금, by dropping (지출))",
                            "적요란": "description (by suffix 란)"},
}  # fmt: skip


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    return make_ledger(400, 40, seed=3)


def accepted_lines(data_path: str, labelled: bool) -> pd.DataFrame:
    """The flow's accepted rows in file order, as the truth spells them."""
    df = pd.read_parquet(data_path).sort_values("row_id", kind="stable").reset_index(drop=True)
    codes = df["account_code"] if labelled and "account_code" in df.columns else pd.Series([None] * len(df))
    return pd.DataFrame(
        {
            "date": pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d").astype("object"),
            "amount": df["amount"].astype("float64"),
            "side": df["side"].astype("object") if "side" in df.columns else None,
            "account_code": codes.astype("object").where(codes.notna(), None),
        }
    )


def check_against_truth(truth: ExportTruth, work_dir: str, columns: dict[str, str] | None = None):
    params = PrepareParams(
        input=truth.path, work_dir=work_dir, labels_required=truth.labelled, ingest={"columns": columns or {}}
    )
    summary = prepare_data(params).summary
    # the non-line rows, by rule, and nothing else rejected
    assert summary.rejected_by_rule == truth.rejected
    # every data row below the header is counted, and each is a line or a non-line row
    assert summary.rows_in == truth.rows_in == summary.rows_accepted + summary.rows_rejected
    # the lines, in file order
    got = accepted_lines(summary.data_path, truth.labelled)
    pd.testing.assert_frame_equal(got, truth.lines[COMPARED].reset_index(drop=True), check_dtype=False)
    return summary


def test_control_plain_csv(ledger, tmp_path):
    # given the same kind of lines written as one plain table (today's `synth` output)
    lines = select_lines(ledger, 60)
    path = write_ledger(lines[STANDARD_HEADERS], str(tmp_path / "plain.csv"))
    rec = Recorder()
    for r in lines.to_dict("records"):
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    # then the flow reads it exactly (the harness and the comparison work)
    check_against_truth(rec.truth("plain", path), str(tmp_path / "work"))


@pytest.mark.parametrize("style", fast_sample(STYLES, {"journal-two-amounts", "html-xls", "xls-biff"}))
def test_export_shape_is_read_as_its_truth(ledger, tmp_path, style):
    # given a real export shape of a labelled ledger, and what a correct reader must make of it
    truth = write_export(ledger, style, tmp_path / f"{style}{EXTENSIONS[style]}", seed=SEED)
    # when it is prepared, then the accepted and rejected rows are exactly the truth's
    summary = check_against_truth(truth, str(tmp_path / "work"))
    # and a header matched only once loosened says why in the mapping report
    (mapped,) = [f["mapping"] for f in summary.files]
    assert {h: mapped.get(h) for h in NOTED.get(style, {})} == NOTED.get(style, {})


def test_two_headers_fitting_one_column_equally_loosely_are_refused_until_settled(ledger, tmp_path):
    # given a file with 적요란 and 비고란: both fit description only by suffix 란
    truth, settle = write_competing(ledger, tmp_path / "competing.csv")
    # when prepared, then it is refused, naming the file, both headers and the override that settles it
    with pytest.raises(HeaderClashError) as err:
        prepare_data(PrepareParams(input=truth.path, work_dir=str(tmp_path / "work")))
    message = str(err.value)
    assert "competing.csv: headers '적요란' (by suffix 란) and '비고란' (by suffix 란) fit column description" in (
        message
    )
    assert """--set 'ingest.columns={"적요란": "description"}'""" in message and settle == {"적요란": "description"}
    # and with that override it is read exactly as its truth, 비고란 left unmapped
    summary = check_against_truth(truth, str(tmp_path / "work"), columns=settle)
    assert summary.files[0]["unmapped"] == ["비고란"]
