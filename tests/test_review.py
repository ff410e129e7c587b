"""Which lines go to review and why (scoring/review.py), and the calibration contract (contracts/calibration.py)."""

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from contracts.calibration import CALIBRATION_FILE, Calibration, SplitFigures, read_logits, save_logits
from contracts.train_profile import TRAIN_VENDORS_FILE, normalize_vendors, read_train_vendors, write_train_vendors
from scoring.review import SEPARATOR, reason_counts, review_reasons
from scoring.selective import NO_THRESHOLD

THRESHOLD = 0.8
KNOWN = {"쿠팡", "kt"}  # as the train split's vendors are stored: normalised


def reasons(*args, **kwargs) -> list[str]:
    return review_reasons(*args, **kwargs)["review_reason"].tolist()


# ---- review_reasons -------------------------------------------------------------------------------------------


def test_confident_lines_are_auto_with_no_reason():
    # given: two lines at or above the threshold, from known vendors, whose ledger code the model agrees with
    frame = review_reasons(
        np.array([0.95, THRESHOLD]),
        THRESHOLD,
        vendor=pd.Series(["쿠팡", "KT"]),
        known_vendors=KNOWN,
        label_check=pd.Series(["match", "match"]),
    )
    # then
    assert frame["decision"].tolist() == ["auto", "auto"]
    assert frame["review_reason"].tolist() == ["", ""]


def test_low_confidence():
    # given one line below the threshold and one above, when decided, then only the low one is reviewed
    frame = review_reasons(np.array([0.5, 0.9]), THRESHOLD)
    assert frame["decision"].tolist() == ["review", "auto"]
    assert frame["review_reason"].tolist() == ["low_confidence", ""]


def test_no_threshold_sends_every_line_to_review_under_one_reason():
    # given: validation never reached the target, and lines of any confidence (even 1.0)
    # when, then: all are reviewed for that reason alone, not also for low confidence
    assert reasons(np.array([0.2, 0.99, 1.0]), NO_THRESHOLD) == ["no_threshold"] * 3


def test_new_vendor():
    # given: a vendor the train split never had next to a known one
    got = reasons(np.array([0.9, 0.9]), THRESHOLD, vendor=pd.Series(["네이버", "쿠팡"]), known_vendors=KNOWN)
    # then
    assert got == ["new_vendor", ""]


def test_a_missing_vendor_is_not_new():
    # given: lines without a vendor (NaN, None, blank)
    vendor = pd.Series([np.nan, None, "   "], dtype="object")
    # when, then: nothing to compare, so not flagged
    assert reasons(np.full(3, 0.9), THRESHOLD, vendor=vendor, known_vendors=KNOWN) == ["", "", ""]


@pytest.mark.parametrize("typed", ["(주)쿠팡", "㈜쿠팡", "주식회사 쿠팡", "쿠팡 주식회사", "  쿠팡  ", "Kt", " KT "])
def test_the_same_vendor_however_typed_is_known(typed):
    # given a known vendor typed with a company marker, other case or spaces, when decided, then it is not new
    assert reasons(np.array([0.9]), THRESHOLD, vendor=pd.Series([typed]), known_vendors=KNOWN) == [""]


def test_without_known_vendors_no_line_is_new():
    # given: a model trained without a vendor column (read_train_vendors gave None)
    assert reasons(np.array([0.9]), THRESHOLD, vendor=pd.Series(["네이버"]), known_vendors=None) == [""]


def test_code_differs_and_code_unknown():
    # given: the ledger's own codes checked against the prediction (None: the line carried no code)
    check = pd.Series(["match", "differs", "unknown to the model", None])
    # when, then
    assert reasons(np.full(4, 0.9), THRESHOLD, label_check=check) == ["", "code_differs", "code_unknown", ""]


def test_several_reasons_on_one_line_are_joined_in_order():
    # given: a line that is unsure, from a new vendor, with a ledger code the model disagrees with
    frame = review_reasons(
        np.array([0.3]),
        THRESHOLD,
        vendor=pd.Series(["네이버"]),
        known_vendors=KNOWN,
        label_check=pd.Series(["differs"]),
    )
    # then: every reason, in REASONS order
    assert frame["decision"].tolist() == ["review"]
    assert frame["review_reason"].iloc[0] == SEPARATOR.join(["low_confidence", "new_vendor", "code_differs"])


def test_inputs_with_a_filtered_index_line_up_by_position():
    # given: vendor and label_check cut from a larger frame (index 5, 7, 9), as after dropping rows
    vendor = pd.Series(["네이버", "쿠팡", "쿠팡"], index=[5, 7, 9])
    check = pd.Series(["match", "differs", "match"], index=[5, 7, 9])
    # when
    frame = review_reasons(np.full(3, 0.9), THRESHOLD, vendor=vendor, known_vendors=KNOWN, label_check=check)
    # then: the i-th flag belongs to the i-th line
    assert frame["review_reason"].tolist() == ["new_vendor", "code_differs", ""]
    assert frame.index.tolist() == [0, 1, 2]


def test_reason_counts_counts_a_line_under_each_of_its_reasons():
    # given: one auto line, one with two reasons, one with one
    joined = pd.Series(["", f"low_confidence{SEPARATOR}new_vendor", "new_vendor"])
    # when, then
    assert reason_counts(joined) == {"new_vendor": 2, "low_confidence": 1}
    assert reason_counts(pd.Series(["", ""])) == {}


# ---- contracts.calibration ------------------------------------------------------------------------------------


def figures(**changes) -> SplitFigures:
    values = dict(rows=100, accuracy=0.9, f1_macro=0.8, ece_before=0.12, ece_after=0.03, coverage=0.6)
    return SplitFigures(**{**values, "auto_accuracy": 0.98, "auto_lines": 60, **changes})


def test_calibration_round_trips_through_its_file(tmp_path):
    # given: a calibration with every field set
    written = Calibration(
        model="llm",
        temperature=1.7,
        target_accuracy=0.98,
        threshold=0.91,
        valid=figures(),
        test=figures(rows=120, auto_accuracy=None, coverage=0.0, auto_lines=0),
        risk_coverage=[{"coverage": 0.1, "threshold": 0.99, "accuracy": 1.0}],
        reliability={"before": [{"low": 0.9, "high": 1.0, "rows": 3, "confidence": 0.95, "accuracy": 2 / 3}]},
        plots={"reliability": "/x/reliability.png"},
    )
    # when
    path = written.write(tmp_path)
    # then
    assert path == tmp_path / CALIBRATION_FILE
    assert Calibration.read(tmp_path) == written


def test_reading_a_folder_without_calibration_gives_none(tmp_path):
    assert Calibration.read(tmp_path) is None


@pytest.mark.parametrize(("threshold", "automates"), [(0.5, True), (1.0, True), (NO_THRESHOLD, False)])
def test_automates_only_with_a_threshold_a_probability_can_reach(threshold, automates):
    calibration = Calibration(model="baseline", temperature=1.0, target_accuracy=0.98, threshold=threshold)
    assert calibration.automates is automates


def test_temperature_must_be_positive():
    with pytest.raises(ValidationError):
        Calibration(model="llm", temperature=0.0, target_accuracy=0.98, threshold=0.9)


def test_logits_round_trip(tmp_path):
    # given: a split's logits (float64 in, stored as float32) and labels
    logits = np.random.default_rng(0).normal(size=(7, 5))
    labels = np.array([0, 4, 2, 2, 1, 3, 0])
    # when
    path = save_logits(logits, labels, tmp_path / "valid_logits.npz")
    back_logits, back_labels = read_logits(path)
    # then: the same values to float32 precision, read back as float64, labels exact
    assert back_logits.dtype == np.float64
    np.testing.assert_allclose(back_logits, logits, rtol=1e-6)
    np.testing.assert_array_equal(back_labels, labels)


def test_train_vendors_round_trip_normalised(tmp_path):
    # given: the train split's vendor column, with duplicates however typed and missing values
    vendors = pd.Series(["(주)쿠팡", "쿠팡", "KT", " kt", None, np.nan, "한국전력공사"])
    # when
    path = write_train_vendors(vendors, tmp_path)
    # then: one normalised, sorted entry per vendor, Hangul written as is
    assert path == tmp_path / TRAIN_VENDORS_FILE
    assert read_train_vendors(tmp_path) == {"쿠팡", "kt", "한국전력공사"}
    assert json.loads(path.read_text(encoding="utf-8")) == sorted({"쿠팡", "kt", "한국전력공사"})
    assert "쿠팡" in path.read_text(encoding="utf-8")


def test_train_vendors_absent_is_none(tmp_path):
    # given a model folder without train_vendors.json, when read, then None (trained without a vendor column)
    assert read_train_vendors(tmp_path) is None


def test_normalize_vendors_keeps_the_index_and_blanks_missing():
    values = pd.Series(["  A  B  ", "㈜", None], index=[3, 4, 5])
    normalized = normalize_vendors(values)
    assert normalized.index.tolist() == [3, 4, 5]
    assert normalized.iloc[0] == "a b"
    assert normalized.iloc[1:].isna().all()
