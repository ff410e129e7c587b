"""Calibration with suspected mis-postings set aside (scoring/report.py: calibrate_model(suspected=...),
reachable_target) and the line that reports it (tasks/calibrate.py: describe).

A model sure of every valid line, right on all but the 20 whose written code is a slip: those cap any threshold's
measured accuracy at 90%, so a 98% target is out of reach until they are left out of the fit."""

import numpy as np
import pytest

from scoring.report import REACHABLE_TARGETS, calibrate_model, reachable_target
from scoring.selective import NO_THRESHOLD
from tasks.calibrate import describe

CLASSES = 5
ROWS = 200
TARGET = 0.98
SLIPS = np.arange(ROWS) % 10 == 0  # every 10th line by confidence, the surest first


def sure_lines(rows: int, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits sure of slot i % CLASSES (surest first, no two alike); labels that prediction, but another slot where
    `wrong`."""
    predicted = np.arange(rows) % CLASSES
    logits = np.eye(CLASSES)[predicted] * np.linspace(8.0, 3.0, rows)[:, None]
    return logits, np.where(wrong, (predicted + 1) % CLASSES, predicted)


@pytest.fixture(scope="module")
def splits():
    """Valid: 180 right, 20 slips; test: 100 lines, the 2 least sure wrong."""
    return sure_lines(ROWS, SLIPS), sure_lines(100, np.arange(100) >= 98)


@pytest.fixture(scope="module")
def as_written(splits, tmp_path_factory):
    valid, test = splits
    return calibrate_model("llm", valid, test, None, TARGET, tmp_path_factory.mktemp("as_written"))


@pytest.fixture(scope="module")
def set_aside(splits, tmp_path_factory):
    valid, test = splits
    out = tmp_path_factory.mktemp("set_aside")
    return calibrate_model("llm", valid, test, None, TARGET, out, suspected={"valid": SLIPS})


# ---- calibrate_model(suspected=...) ---------------------------------------------------------------------------


def test_slips_counted_as_errors_keep_the_target_out_of_reach(as_written):
    # given every valid code as written, when calibrated, then no threshold reaches 98%
    assert not as_written.automates and as_written.threshold == NO_THRESHOLD
    assert as_written.valid.rows == ROWS and as_written.valid.accuracy == pytest.approx(0.9)
    # and a lower target that the lines do reach is named: at best 90% right in any top set, so 85%, all lines
    assert as_written.reachable["target"] == 0.85
    assert as_written.reachable["coverage"] == pytest.approx(1.0)
    assert as_written.valid_as_written is None and as_written.suspected == {}


def test_with_the_slips_set_aside_the_threshold_is_found_on_the_other_lines(set_aside):
    # given the 20 slips marked suspected, when calibrated, then the 180 others make a threshold
    assert set_aside.automates and set_aside.reachable is None
    assert set_aside.valid.rows == 180 and set_aside.valid.accuracy == 1.0
    assert set_aside.valid.auto_accuracy >= TARGET
    assert set_aside.suspected == {"valid": 20}


def test_the_figures_against_the_codes_as_written_are_kept_beside(set_aside):
    written = set_aside.valid_as_written
    assert written.rows == ROWS and written.accuracy == pytest.approx(0.9)
    assert written.accuracy < set_aside.valid.accuracy
    # the same threshold read on every line: the slips are among the auto lines, and wrong
    assert written.auto_lines == set_aside.valid.auto_lines + 20
    assert written.auto_accuracy < set_aside.valid.auto_accuracy
    # test had no suspects: its figures are on all its lines, with no second reading
    assert set_aside.test.rows == 100 and set_aside.test_as_written is None


def test_plots_are_written_into_the_out_dir(splits, tmp_path):
    valid, test = splits
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path, suspected={"valid": SLIPS})
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["reliability.png", "risk_coverage.png"]
    assert set(calibration.plots) == {"reliability", "risk_coverage"}


def test_test_suspects_are_left_out_of_the_test_figures(splits, tmp_path):
    # given: the 2 wrong test lines suspected too
    valid, test = splits
    masks = {"valid": SLIPS, "test": np.arange(100) >= 98}
    # when
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path, suspected=masks)
    # then
    assert calibration.suspected == {"valid": 20, "test": 2}
    assert (calibration.test.rows, calibration.test.accuracy) == (98, 1.0)
    assert (calibration.test_as_written.rows, calibration.test_as_written.accuracy) == (100, pytest.approx(0.98))


def test_an_all_false_mask_is_the_same_as_none(splits, as_written, tmp_path):
    # given: masks that suspect nothing
    valid, test = splits
    masks = {"valid": np.zeros(ROWS, dtype=bool), "test": np.zeros(100, dtype=bool)}
    # when
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path, suspected=masks)
    # then: every figure as without a mask, and no second reading
    assert calibration.suspected == {} and calibration.valid_as_written is None and calibration.test_as_written is None
    assert calibration.model_dump(exclude={"plots"}) == as_written.model_dump(exclude={"plots"})


def test_a_mask_for_another_split_is_ignored(splits, as_written, tmp_path):
    valid, test = splits
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path, suspected={"train": SLIPS})
    assert calibration.model_dump(exclude={"plots"}) == as_written.model_dump(exclude={"plots"})


# ---- reachable_target -----------------------------------------------------------------------------------------


def test_the_highest_lower_target_reached_is_named_with_its_threshold_and_coverage():
    # given: 100 sure lines all right, then 100 less sure lines half right
    confidence = np.r_[np.full(100, 0.99), np.full(100, 0.6)]
    correct = np.r_[np.ones(100, dtype=bool), np.arange(100) % 2 == 0]
    # when asked for 0.999
    reach = reachable_target(confidence, correct, 0.999)
    # then: 100/100 is at 0.99 less one standard error (Wilson: ~0.990), the top tie covers half the lines
    assert reach == {"target": 0.99, "threshold": 0.99, "coverage": pytest.approx(0.5)}


def test_only_targets_below_the_asked_one_are_offered():
    # given: lines all right (any target is reached), when asked for 0.96, then 0.95 is the offer, not 0.99
    confidence, correct = np.linspace(0.9, 1.0, 300), np.ones(300, dtype=bool)
    assert reachable_target(confidence, correct, 0.96)["target"] == 0.95
    assert reachable_target(confidence, correct, min(REACHABLE_TARGETS)) is None


def test_nothing_reachable_gives_none():
    # given: lines right only half the time
    confidence, correct = np.linspace(0.5, 1.0, 200), np.arange(200) % 2 == 0
    assert reachable_target(confidence, correct, TARGET) is None


# ---- describe -------------------------------------------------------------------------------------------------


def test_describe_reports_both_readings_when_lines_were_suspected(set_aside):
    text = describe(set_aside)
    assert "valid accuracy 90.0% against the codes as written, 100.0% on the 180 lines not suspected" in text
    assert "20 valid lines suspected" in text
    assert "set on the 180 valid lines not suspected" in text and "test coverage" in text


def test_describe_offers_a_reachable_target_when_the_asked_one_is_missed(as_written):
    text = describe(as_written)
    assert "no threshold reached 98% on valid: every line goes to review" in text
    assert "85% is within reach (100.0% of valid lines automatic)" in text
    assert "set target_accuracy=0.85" in text
    assert "against the codes as written" not in text


def test_describe_names_the_basis_when_the_target_is_missed_even_without_slips(splits, tmp_path):
    # given: the slips set aside but a target no 180 lines can show (0.999)
    valid, test = splits
    calibration = calibrate_model("llm", valid, test, None, 0.999, tmp_path, suspected={"valid": SLIPS})
    # when, then
    text = describe(calibration)
    assert not calibration.automates and calibration.reachable["target"] == 0.99
    assert "on the 180 valid lines not suspected: every line goes to review" in text
    assert "set target_accuracy=0.99" in text


def test_a_temperature_that_makes_valid_ece_worse_is_reported_and_not_applied(splits, tmp_path, monkeypatch):
    import scoring.report

    # given a fit that returns a temperature far too low (overconfident) for these lines
    monkeypatch.setattr(scoring.report, "fit_temperature", lambda *args: 0.05)
    valid, test = sure_lines(ROWS, np.arange(ROWS) % 4 == 0), splits[1]
    # when calibrated
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path)
    # then the raw softmax is kept, and the rejected temperature is named in the summary line
    assert calibration.temperature == 1.0 and calibration.rejected_temperature == 0.05
    assert calibration.valid.ece_after == calibration.valid.ece_before
    assert "the fitted 0.05 made valid ECE worse: not applied" in describe(calibration)


def test_a_temperature_that_improves_valid_ece_is_applied(splits, tmp_path):
    # given lines right 3 times in 4 whose logits are far surer than that
    valid, test = sure_lines(ROWS, np.arange(ROWS) % 4 == 0), splits[1]
    # when calibrated, then the fitted temperature is applied and nothing is rejected
    calibration = calibrate_model("llm", valid, test, None, TARGET, tmp_path)
    assert calibration.rejected_temperature is None and calibration.temperature > 1.0
    assert calibration.valid.ece_after < calibration.valid.ece_before
