"""Acceptance corpus: real export shapes (synth.exports) through the data-preparation flow, compared with their truth.

Each style's file goes through prepare_data (no model: the flow stops before tokenizing) and must come out exactly
as the truth says: the accepted lines (date, amount, side, account code) in file order, the non-line rows rejected
under their rules (summary_row, account_block, repeated_header, repeated_title) and rows_in = accepted + rejected.
A plain ledger CSV of the same lines is the control: it must pass whatever the shapes do.
"""

import pandas as pd
import pytest

from flows.prepare import prepare_data
from params.prepare import PrepareParams
from synth.export_common import STANDARD_HEADERS, Recorder, select_lines
from synth.exports import EXTENSIONS, STYLES, ExportTruth, write_export
from synth.ledger import make_ledger, write_ledger

pytestmark = pytest.mark.usefixtures("prefect_harness")
COMPARED = ["date", "amount", "side", "account_code"]
SEED = 7


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


def check_against_truth(truth: ExportTruth, work_dir: str) -> None:
    params = PrepareParams(input=truth.path, work_dir=work_dir, labels_required=truth.labelled)
    summary = prepare_data(params).summary
    # the non-line rows, by rule, and nothing else rejected
    assert summary.rejected_by_rule == truth.rejected
    # every data row below the header is counted, and each is a line or a non-line row
    assert summary.rows_in == truth.rows_in == summary.rows_accepted + summary.rows_rejected
    # the lines, in file order
    got = accepted_lines(summary.data_path, truth.labelled)
    pd.testing.assert_frame_equal(got, truth.lines[COMPARED].reset_index(drop=True), check_dtype=False)


def test_control_plain_csv(ledger, tmp_path):
    # given the same kind of lines written as one plain table (today's `synth` output)
    lines = select_lines(ledger, 60)
    path = write_ledger(lines[STANDARD_HEADERS], str(tmp_path / "plain.csv"))
    rec = Recorder()
    for r in lines.to_dict("records"):
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    # then the flow reads it exactly (the harness and the comparison work)
    check_against_truth(rec.truth("plain", path), str(tmp_path / "work"))


@pytest.mark.parametrize("style", STYLES, ids=STYLES)
def test_export_shape_is_read_as_its_truth(ledger, tmp_path, style):
    # given a real export shape of a labelled ledger, and what a correct reader must make of it
    truth = write_export(ledger, style, tmp_path / f"{style}{EXTENSIONS[style]}", seed=SEED)
    # when it is prepared, then the accepted and rejected rows are exactly the truth's
    check_against_truth(truth, str(tmp_path / "work"))
