"""The prediction file an accountant opens: Korean headers and words, three xlsx sheets with the review lines
filled, formulas defused; the summary's headline and how the validation promise held on a labelled ledger."""

import pandas as pd
import pytest
from openpyxl import load_workbook

from contracts.calibration import Calibration, SplitFigures
from contracts.label_map import LabelMap, LabelSlot
from ledger.conf import load_yaml
from ledger.prediction_file import localize, write_csv, write_xlsx
from params.prepare import PrepareParams
from tasks.predict import TrainedRun
from tasks.predict_output import OUTPUT_WORDS, PredictSummary, expectation, summary_markdown, summary_rows

WORDS = load_yaml(OUTPUT_WORDS)
HYPERLINK = '=HYPERLINK("http://x.example","click")'


def predictions() -> pd.DataFrame:
    """Three predicted lines with the ledger's own columns first (one of them a formula), as predict joins them."""
    return pd.DataFrame(
        {
            "row_id": [0, 1, 2],
            "거래처": ["쿠팡", "KT", HYPERLINK],
            "적요": ["복사용지", "인터넷 요금", "자동"],  # a user cell that happens to read like a decision word
            "pred1_code": ["830", "814", "811"],
            "pred1_name": ["소모품비", "통신비", "복리후생비"],
            "pred1_prob": [0.99, 0.62, 0.41],
            "pred2_code": ["811", "830", "830"],
            "decision": ["auto", "review", "review"],
            "review_reason": ["", "low_confidence", "low_confidence;new_vendor"],
            "label_check": ["match", "differs", None],
        }
    )


def test_localize_renames_generated_columns_and_puts_codes_in_words():
    # given predictions beside the ledger's own columns
    table = predictions()
    # when localized with conf/prediction_output.yaml
    out = localize(table, WORDS)
    # then the generated columns have Korean headers, rank by rank
    assert list(out.columns) == [
        "행번호", "거래처", "적요", "예측1 계정코드", "예측1 계정과목", "예측1 확률", "예측2 계정코드",
        "처리", "검토 사유", "장부 계정 대조",
    ]  # fmt: skip
    # and the decision, reasons (joined by ', ') and label check read as words; a missing check stays missing
    assert out["처리"].tolist() == ["자동", "검토", "검토"]
    assert out["검토 사유"].tolist() == ["", "확신도 낮음", "확신도 낮음, 처음 보는 거래처"]
    assert out["장부 계정 대조"].tolist()[:2] == ["일치", "다름"] and pd.isna(out["장부 계정 대조"][2])
    # and the user's columns and the figures are untouched, the input frame too
    assert out["거래처"].tolist() == table["거래처"].tolist()
    assert out["적요"].tolist() == ["복사용지", "인터넷 요금", "자동"]
    assert out["예측1 확률"].tolist() == [0.99, 0.62, 0.41] and "decision" in table.columns


def test_every_review_reason_code_has_words():
    # given every reason the review step can give, when localized, then none is left as a code
    from scoring.review import REASONS

    out = localize(pd.DataFrame({"review_reason": [";".join(REASONS)]}), WORDS)
    assert out["검토 사유"][0] == ", ".join(WORDS["values"]["review_reason"][code] for code in REASONS)


def write_file(tmp_path, table: pd.DataFrame, decision: str = "decision") -> tuple:
    """The xlsx as write_prediction_file writes it: all lines, the review lines least confident first, a summary."""
    review = table[table[decision].isin(["review", "검토"])].sort_values(table.columns[5], kind="stable")
    path = tmp_path / "predictions.xlsx"
    rows = [("요약 (summary)", "1 line coded automatically"), ("검토 (review)", "2")]
    write_xlsx(table, review, rows, path, WORDS, localized=decision != "decision")
    return path, load_workbook(path)


def test_xlsx_has_all_lines_the_review_lines_and_a_summary(tmp_path):
    # given localized predictions with two review lines
    table = localize(predictions(), WORDS)
    # when written as xlsx
    path, book = write_file(tmp_path, table, "처리")
    # then the three sheets are there, in order
    assert book.sheetnames == ["전체", "검토 대상", "요약"]
    every = pd.read_excel(path, sheet_name="전체", dtype=str)
    review = pd.read_excel(path, sheet_name="검토 대상", dtype=str)
    summary = pd.read_excel(path, sheet_name="요약", dtype=str)
    # and the first has every line, the second only the review lines, least confident first
    assert every["예측1 계정코드"].tolist() == ["830", "814", "811"]
    assert set(review["처리"]) == {"검토"} and review["예측1 계정코드"].tolist() == ["811", "814"]
    assert summary.columns.tolist() == ["항목", "값"] and summary["값"].tolist() == ["1 line coded automatically", "2"]


def _fill_rules(sheet) -> list[tuple[str, list[str], str]]:
    """(range, formulas, fill colour) of each conditional-formatting rule of a sheet."""
    return [
        (str(cf.sqref), list(rule.formula), rule.dxf.fill.fgColor.rgb)
        for cf in sheet.conditional_formatting
        for rule in cf.rules
    ]


def test_review_rows_are_filled_by_a_conditional_formatting_rule(tmp_path):
    # given localized predictions (the decision in column H), when written as xlsx
    _, book = write_file(tmp_path, localize(predictions(), WORDS), "처리")
    # then the first sheet has one rule over all data rows and columns, true on rows whose decision is 검토
    rules = _fill_rules(book["전체"])
    assert len(rules) == 1
    cells, formulas, colour = rules[0]
    assert cells == "A2:J4" and formulas == ['$H2="검토"'] and colour.endswith(WORDS["review_fill"])
    # and the header row is bold and stays put
    sheet = book["전체"]
    assert sheet.freeze_panes == "A2" and all(cell.font.bold for cell in sheet[1])


def test_review_rows_are_filled_in_an_english_file_too(tmp_path):
    # given predictions left as stored (language en: codes and column names, not Korean words)
    # when written as xlsx, then the review lines are still filled on the first sheet
    _, book = write_file(tmp_path, predictions())
    rules = _fill_rules(book["전체"])
    assert [(cells, colour[-6:]) for cells, _, colour in rules] == [("A2:J4", WORDS["review_fill"])], rules
    assert "$H2" in rules[0][1][0] and '"review"' in rules[0][1][0]  # the decision column, as stored


def test_a_formula_in_a_user_cell_is_written_as_text(tmp_path):
    # given a vendor cell that would run as a formula in Excel
    path, book = write_file(tmp_path, localize(predictions(), WORDS), "처리")
    # then in both sheets it is a quoted string, never a formula
    for name in ("전체", "검토 대상"):
        cells = [row[1] for row in book[name].iter_rows(min_row=2)]
        vendor = next(cell for cell in cells if "HYPERLINK" in str(cell.value))
        assert vendor.data_type == "s" and vendor.value == "'" + HYPERLINK, name
    # and in the CSV as well
    write_csv(localize(predictions(), WORDS), tmp_path / "p.csv")
    assert "'" + HYPERLINK in pd.read_csv(tmp_path / "p.csv", encoding="utf-8-sig")["거래처"].tolist()


def summary(**figures) -> PredictSummary:
    base = {"rows_in": 1300, "rows_predicted": 1290, "rows_rejected": 10, "output": "o.xlsx", "rejects": "r.csv"}
    return PredictSummary(**{**base, **figures})


def test_headline_with_a_threshold_gives_the_expected_accuracy():
    # given 1,234 auto and 56 review lines at a threshold whose auto lines were 98.5% right on validation
    done = summary(rows_auto=1234, rows_review=56, threshold=0.91, target_accuracy=0.98, expected_accuracy=0.985)
    # when the headline is read, then it gives both counts and the accuracy to expect
    assert done.headline() == (
        "1,234 of 1,290 (95.7%) lines coded automatically (expected accuracy 98.5% from validation), 56 lines to review"
    )
    unknown = summary(rows_auto=3, rows_review=0, rows_predicted=3, threshold=0.9).headline()
    assert unknown.startswith("3 of 3 (100.0%) lines coded automatically (expected accuracy - from validation)")
    # and the share is of the predicted lines: 662 of 2,000 is 33.1%, whatever share was above the threshold
    ordinary = summary(rows_auto=662, rows_review=1338, rows_predicted=2000, threshold=0.9)
    assert "662 of 2,000 (33.1%)" in ordinary.headline()


def test_headline_without_a_threshold_says_why_nothing_was_automatic():
    # given a model whose validation never reached the target
    done = summary(rows_auto=0, rows_review=1290, threshold=None, target_accuracy=0.98)
    # then the headline says so, and that every line is to review
    assert done.headline() == (
        "0 lines coded automatically (validation never reached 98% accuracy at any threshold), 1,290 lines to review"
    )
    assert "the target accuracy" in summary(rows_review=5).headline()
    # and the summary sheet leads with it and shows no threshold
    rows = dict(summary_rows(done))
    assert rows["요약 (summary)"] == done.headline() and rows["자동 기준 확신도 (threshold)"] == "-"


def trained_run(threshold: float | None) -> TrainedRun:
    figures = {"rows": 50, "accuracy": 0.9, "f1_macro": 0.8, "ece_before": 0.1, "ece_after": 0.02, "auto_lines": 30}
    calibration = Calibration(
        model="baseline", temperature=1.3, target_accuracy=0.98, threshold=threshold,
        valid=SplitFigures(coverage=0.6, auto_accuracy=0.99, **figures),
    ) if threshold is not None else None  # fmt: skip
    return TrainedRun(
        kind="baseline",
        model_dir="/work/baselines/b",
        label_map=LabelMap(num_slots=2, dummy_prefix="__unused_", labels=[LabelSlot(id=0, code="811", name="x")]),
        prepare_params=PrepareParams(input="ledger.csv"),
        calibration=calibration,
    )


def labelled_predictions() -> pd.DataFrame:
    # 4 labelled lines (3 at or above 0.8: 2 right, 1 wrong) and 2 unlabelled (one very confident)
    return pd.DataFrame(
        {
            "pred1_prob": [0.95, 0.80, 0.85, 0.50, 0.30, 0.99],
            "label_check": ["match", "differs", "match", "match", None, None],
        }
    )


def test_expectation_measures_the_lines_above_the_threshold_on_labelled_lines_only():
    # given a threshold of 0.8 (60% coverage and 99% accuracy on validation) and a labelled ledger
    held = expectation(labelled_predictions(), trained_run(0.8))
    # then coverage and accuracy are of the labelled lines at or above the threshold, beside validation's
    assert (held.labelled_lines, held.auto_lines) == (4, 3)
    assert held.coverage == pytest.approx(0.75) and held.accuracy == pytest.approx(2 / 3)
    assert (held.expected_coverage, held.expected_accuracy) == (0.6, 0.99)


def test_expectation_with_no_line_above_the_threshold_has_no_accuracy():
    held = expectation(labelled_predictions(), trained_run(1.5))  # validation never reached the target
    assert (held.auto_lines, held.coverage, held.accuracy) == (0, 0.0, None)


@pytest.mark.parametrize(
    ("frame", "threshold"),
    [
        (labelled_predictions().drop(columns="label_check"), 0.8),  # the ledger had no account codes
        (labelled_predictions().assign(label_check=None), 0.8),  # ... or an empty code column
        (labelled_predictions(), None),  # a model without calibration.json
    ],
)
def test_expectation_is_none_without_labels_or_calibration(frame, threshold):
    assert expectation(frame, trained_run(threshold)) is None


def test_the_ui_summary_leads_with_the_headline_and_names_the_files():
    # given a prediction with auto and review lines and a labelled ledger's figures
    done = summary(rows_auto=1234, rows_review=56, threshold=0.91, target_accuracy=0.98, expected_accuracy=0.985,
                   review_reasons={"low_confidence": 50, "new_vendor": 9}, review_file="o.review.csv")  # fmt: skip
    # when rendered for the Prefect UI
    text = summary_markdown(done)
    # then the headline comes first, then the figures, the reasons and the files
    assert text.splitlines()[2] == f"**{done.headline()}**"
    assert "| 검토 사유 (reason; a line can have several): new_vendor | 9 |" in text
    assert "| 자동 (auto) | 1,234 |" in text
    assert "- predictions: `o.xlsx`" in text and "- review lines: `o.review.csv`" in text
