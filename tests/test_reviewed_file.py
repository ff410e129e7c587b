"""A prediction file given back after review is labelled input (ledger/reviewed_file.py, ledger/standardize.py,
tasks/predict_output.py: prediction_table): the accountant's 확정 계정코드 is the label, the product's own columns
are no features, and the review lines left empty are rejected with a reason, never guessed."""

import pandas as pd
import pytest
from openpyxl import load_workbook

from flows.prepare import prepare_data
from ledger.conf import load_yaml
from ledger.prediction_file import localize, write_csv, write_xlsx
from ledger.reviewed_file import PENDING_RULE, pending_lines, reviewed_file
from params.prepare import PrepareParams
from synth.ledger import make_ledger
from tasks.predict_output import OUTPUT_WORDS, prediction_table

WORDS = load_yaml(OUTPUT_WORDS)
KOREAN = ["행번호", "일자", "적요", "금액", "처리", "확정 계정코드", "검토 사유", "예측1 계정코드", "예측1 확률"]


# ---- recognising the file --------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [KOREAN, ["row_id", "date", "decision", "confirmed_code", "pred1_code"]])
def test_a_prediction_file_is_recognised_in_korean_or_stored_names(headers):
    # given the headers predict writes / when looked at / then the label and the generated columns are named
    found = reviewed_file(headers)
    assert found is not None and found.confirmed in ("확정 계정코드", "confirmed_code")
    assert set(found.generated) == set(headers) - {"일자", "적요", "금액", "date"}


def test_a_plain_ledger_is_no_prediction_file():
    # given an export with a 계정코드 but no 처리 / 확정 계정코드 pair, then it is read as any ledger
    assert reviewed_file(["일자", "거래처", "금액", "계정코드", "처리"]) is None


def test_empty_codes_are_pending_and_say_whether_the_line_was_for_review():
    # given two review lines (one filled) and two auto lines (one cleared)
    found = reviewed_file(KOREAN)
    raw = pd.DataFrame({"처리": ["자동", "검토", "검토", "자동"], "확정 계정코드": ["811", None, " 812 ", " "]})
    # when the pending lines are found
    mask, detail = pending_lines(raw, found)
    # then the empty ones, each with why
    assert mask.tolist() == [False, True, False, True]
    assert "not reviewed yet" in detail[1] and "cleared" in detail[3]


def test_the_prediction_table_fills_the_confirmed_code_on_auto_lines_only():
    # given two predicted lines, one auto and one for review, beside the rows as read
    preds = pd.DataFrame({"row_id": [0, 1], "pred1_code": ["830", "811"], "decision": ["auto", "review"],
                          "review_reason": ["", "low_confidence"]})  # fmt: skip
    rows = pd.DataFrame({"row_id": [0, 1], "적요": ["복사용지", "식대"], "row_digest": [1, 2]})
    # when the table is made
    table = prediction_table(preds, rows)
    # then the user's columns come first, the confirmed code beside the decision, filled on the auto line only
    assert list(table.columns) == ["row_id", "적요", "decision", "confirmed_code", "pred1_code", "review_reason"]
    assert table["confirmed_code"].iloc[0] == "830" and pd.isna(table["confirmed_code"].iloc[1])


# ---- the file given back to prepare ----------------------------------------------------------------------------


def reviewed_workbook(tmp_path, fmt: str):
    """A predicted next month as predict writes it: 60 lines, every third for review, the ledger's own 계정코드
    column wrong on purpose (the accountant's code must win); the accountant fills all review lines but four, and
    writes a code the ledger never used on one. Returns the path and the expected {row: code}, pending rows."""
    ledger = make_ledger(60, 8, 3).reset_index(drop=True)
    truth = ledger["계정코드"].astype("str")
    rows = ledger.assign(계정코드="999", row_id=range(len(ledger)), source_file="ledger.csv", source_row=range(2, 62))
    review = pd.Series(range(len(ledger))) % 3 == 0
    preds = pd.DataFrame({"row_id": range(len(ledger)), "pred1_code": truth,
                          "decision": review.map({True: "review", False: "auto"}),
                          "review_reason": review.map({True: "low_confidence", False: ""})})  # fmt: skip
    table = prediction_table(preds, rows)
    pending = list(table.index[review][:4])
    filled = table.index[review][4:]
    table.loc[filled, "confirmed_code"] = truth[filled]
    table.loc[filled[0], "confirmed_code"] = "826"  # 도서인쇄비: new to this ledger
    expected = {i: c for i, c in table["confirmed_code"].items() if pd.notna(c)}
    shown = table if fmt == "en.csv" else localize(table, WORDS)  # en: stored names, as --language en writes
    path = tmp_path / f"reviewed.{fmt}"
    if fmt == "xlsx":
        write_xlsx(shown, shown[review.to_numpy()], [("요약 (summary)", "-")], path, WORDS)
    else:
        write_csv(shown, path)
    return path, expected, pending


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("fmt", ["xlsx", "csv", "en.csv"])
def test_a_reviewed_prediction_file_prepares_as_labelled_input(tmp_path, fmt):
    # given a prediction file reviewed by an accountant, four review lines left empty
    path, expected, pending = reviewed_workbook(tmp_path, fmt)
    if fmt == "xlsx":  # the 전체 sheet is the one read: the review sheet repeats its lines
        assert load_workbook(path).sheetnames[0] == WORDS["sheets"]["all"]
    # when it is prepared as labelled input
    params = PrepareParams(input=str(path), work_dir=str(tmp_path / "work"), model=None,
                           mispostings={"detect": False})  # fmt: skip
    summary = prepare_data(params).summary
    # then the empty lines are rejected with their reason, every other line is accepted, nothing lost
    assert summary.rejected_by_rule == {PENDING_RULE: 4}
    assert summary.rows_in == 60 == summary.rows_accepted + summary.rows_rejected
    rejects = pd.read_csv(summary.rejects_csv, encoding="utf-8-sig", dtype=str)
    assert rejects["detail"].str.contains("not reviewed yet").all()
    # and each accepted line carries the accountant's code, not the ledger's own column
    accepted = pd.read_parquet(summary.data_path).sort_values("source_row")
    assert accepted["account_code"].tolist() == [expected[i] for i in sorted(expected)]
    assert "999" not in set(accepted["account_code"]) and "826" in set(accepted["account_code"])
    # and the product's own columns were recognised, not read as the ledger's (where each line came from included)
    (layout,) = summary.files
    names = ("decision", "pred1_code", "source_row", "confirmed_code")
    if fmt != "en.csv":
        names = ("처리", "예측1 계정코드", "원본 행", "확정 계정코드")
    assert set(names[:3]) <= set(layout["generated"])
    assert layout["mapping"][names[3]] == "account_code" and "계정코드" in layout["unmapped"]


def test_the_csvs_predict_writes_beside_a_prediction_file_are_left_out_with_why(tmp_path):
    # given a folder with a prediction csv, its review and rejects csv, and an unrelated ledger named *.review.csv
    from ledger.sources import find_sources

    for name in ("p.csv", "p.review.csv", "p.rejects.csv", "other.review.csv"):
        (tmp_path / name).write_text("일자,금액\n", encoding="utf-8")
    # when the folder's ledgers are listed
    found = find_sources(str(tmp_path), [".csv"])
    # then the two companions are left out, each saying which file it belongs to; the rest are read
    assert sorted(u.rsplit("/", 1)[-1] for u in found.urls) == ["other.review.csv", "p.csv"]
    reasons = {s.url.rsplit("/", 1)[-1]: s.reason for s in found.skipped}
    assert set(reasons) == {"p.review.csv", "p.rejects.csv"} and all("beside p.csv" in r for r in reasons.values())


def test_a_ledger_with_columns_named_like_ingests_own_keeps_them_beside(tmp_path):
    from params.prepare import IngestParams
    from tasks.ingest import read_rows

    # given a ledger whose export has row_id and source_row columns of its own
    ledger = make_ledger(5, 3, 1).assign(row_id=range(100, 105), source_row="x")
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    # when its rows are read / then ingest's line numbers stand beside the file's own columns, renamed, not lost
    rows, _ = read_rows(str(path), IngestParams())
    assert rows["source_row"].tolist() == [2, 3, 4, 5, 6]
    assert rows["row_id_in_file"].tolist() == ["100", "101", "102", "103", "104"]
    assert rows["source_row_in_file"].eq("x").all()
