"""Selective classification (scoring/selective.py): the auto / review threshold, and what it covers.

Calibrated synthetic lines: each line is right with probability equal to its confidence, so a threshold chosen on
one such split should hold on another drawn the same way.
"""

import math

import numpy as np
import pytest

from scoring.selective import (
    COVERAGE_LEVELS,
    NO_THRESHOLD,
    choose_threshold,
    curve,
    min_auto_lines,
    risk_coverage,
    select,
)

ROWS = 20_000
# The threshold is the lowest at which valid reached the target, so test falls a little short of it by chance;
# over 40 seed pairs the worst shortfall at 20k rows was 0.007.
HOLD_TOLERANCE = 0.01


def calibrated_split(seed: int, rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Confidence skewed towards 1 (Beta(8, 1)), and whether each line is right, drawn at that confidence."""
    rng = np.random.default_rng(seed)
    confidence = rng.beta(8, 1, size=rows)
    return confidence, rng.random(rows) < confidence


def lines(*groups: tuple[float, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, how many lines, how many of them right) per group; the right ones first within a group."""
    confidence = np.concatenate([np.full(n, c) for c, n, _ in groups])
    correct = np.concatenate([np.arange(n) < k for _, n, k in groups])
    return confidence, correct


# ---- choose_threshold / select --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.98, 0.95])
def test_a_threshold_chosen_on_valid_holds_on_test(target):
    # given: valid and test drawn apart, both calibrated
    valid_conf, valid_correct = calibrated_split(seed=0)
    test_conf, test_correct = calibrated_split(seed=1)
    # when
    threshold = choose_threshold(valid_conf, valid_correct, target)
    held = select(test_conf, test_correct, threshold)
    # then: some lines are automatic, and they are about as accurate as the target asked
    assert threshold <= 1.0
    assert held.coverage > 0
    assert held.accuracy >= target - HOLD_TOLERANCE


def test_threshold_is_the_lowest_confidence_reaching_the_target():
    # given: 30 sure lines all right, 10 at 0.7 with one wrong (39/40 >= 0.9), 10 at 0.5 all wrong (39/50 < 0.9)
    confidence, correct = lines((0.99, 30, 30), (0.7, 10, 9), (0.5, 10, 0))
    # when, then
    assert choose_threshold(confidence, correct, 0.9) == 0.7


def test_ties_are_never_split():
    # given: 20 lines at 0.95 all right, then 20 tied at 0.8 of which only the first 10 are right. Within the tie
    # the first 13 lines would still be at 30/33 >= 0.9, but the whole tie is at 30/40.
    confidence, correct = lines((0.95, 20, 20), (0.8, 20, 10))
    # when
    threshold = choose_threshold(confidence, correct, 0.9)
    # then: the tie is left out as a whole
    assert threshold == 0.95
    assert select(confidence, correct, threshold).auto_lines == 20


def test_the_order_of_tied_lines_does_not_matter():
    # given: the same lines in any order
    confidence, correct = lines((0.95, 20, 20), (0.8, 20, 10), (0.6, 10, 2))
    order = np.random.default_rng(0).permutation(len(confidence))
    # when, then
    assert choose_threshold(confidence[order], correct[order], 0.9) == choose_threshold(confidence, correct, 0.9)


@pytest.mark.parametrize(("target", "expected"), [(0.5, 2), (0.9, 10), (0.95, 20), (0.98, 50), (0.99, 100)])
def test_min_auto_lines_is_one_over_the_error_rate(target, expected):
    # given a target whose 1 - target is not exact in floating point, when counted, then the exact ceiling
    assert min_auto_lines(target) == expected == math.ceil(round(1 / (1 - target), 6))


def test_fewer_lines_than_min_auto_lines_never_make_a_threshold():
    # given: 19 and 20 sure lines, all right, at target 0.95 (which needs 20)
    few = lines((0.99, min_auto_lines(0.95) - 1, min_auto_lines(0.95) - 1))
    enough = lines((0.99, min_auto_lines(0.95), min_auto_lines(0.95)))
    # when, then
    assert choose_threshold(*few, 0.95) == NO_THRESHOLD
    assert choose_threshold(*enough, 0.95) == 0.99


def test_no_threshold_when_the_target_is_never_reached():
    # given: lines right half of the time at any confidence
    confidence = np.linspace(0.5, 1.0, 200)
    correct = np.arange(200) % 2 == 0
    # when
    threshold = choose_threshold(confidence, correct, 0.9)
    chosen = select(confidence, correct, threshold)
    # then: no line is automatic, and there is no accuracy to report
    assert threshold == NO_THRESHOLD > 1.0
    assert (chosen.coverage, chosen.accuracy, chosen.auto_lines, chosen.lines) == (0.0, None, 0, 200)


def test_select_counts_lines_at_or_above_the_threshold():
    # given: four lines, one exactly at the threshold
    confidence = np.array([0.99, 0.9, 0.8, 0.3])
    correct = np.array([True, False, True, True])
    # when
    chosen = select(confidence, correct, 0.8)
    # then
    assert (chosen.lines, chosen.auto_lines, chosen.coverage) == (4, 3, 0.75)
    assert chosen.accuracy == pytest.approx(2 / 3)
    # and without correctness (new lines to predict): coverage only
    assert select(confidence, None, 0.8).accuracy is None


def test_empty_input():
    # given no lines at all
    empty_conf, empty_correct = np.zeros(0), np.zeros(0, dtype=bool)
    # when, then: no threshold, nothing selected, no curve
    assert choose_threshold(empty_conf, empty_correct, 0.9) == NO_THRESHOLD
    chosen = select(empty_conf, empty_correct, 0.5)
    assert (chosen.coverage, chosen.accuracy, chosen.lines, chosen.auto_lines) == (0.0, None, 0, 0)
    assert risk_coverage(empty_conf, empty_correct) == []
    coverage, accuracy = curve(empty_conf, empty_correct)
    assert len(coverage) == len(accuracy) == 0


# ---- risk_coverage / curve ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranked() -> tuple[np.ndarray, np.ndarray]:
    return calibrated_split(seed=2)


def test_risk_coverage_has_one_row_per_level(ranked):
    # given: 20k calibrated lines
    confidence, correct = ranked
    # when
    rows = risk_coverage(confidence, correct)
    # then: the coverage asked for, thresholds falling as coverage grows
    assert [r["coverage"] for r in rows] == pytest.approx(list(COVERAGE_LEVELS))
    thresholds = [r["threshold"] for r in rows]
    assert thresholds == sorted(thresholds, reverse=True)
    # and each row's accuracy is that of the lines at or above its threshold
    for r in rows:
        assert r["accuracy"] == pytest.approx(select(confidence, correct, r["threshold"]).accuracy)


def test_accuracy_falls_as_coverage_grows_for_a_calibrated_ranking(ranked):
    # given calibrated lines, when more of them are taken, then accuracy does not rise (beyond sampling noise)
    accuracy = [r["accuracy"] for r in risk_coverage(*ranked)]
    assert all(later <= earlier + 0.005 for earlier, later in zip(accuracy, accuracy[1:], strict=False))
    assert accuracy[0] > accuracy[-1] + 0.05


def test_full_coverage_is_the_overall_accuracy(ranked):
    confidence, correct = ranked
    full = risk_coverage(confidence, correct, levels=(1.0,))
    assert full == [
        {"coverage": 1.0, "threshold": float(confidence.min()), "accuracy": pytest.approx(float(correct.mean()))}
    ]


def test_a_tiny_level_still_takes_one_line():
    # given: three lines and a coverage level below one line's share
    rows = risk_coverage(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]), levels=(0.01,))
    # when, then: the most confident line alone
    assert rows == [{"coverage": pytest.approx(1 / 3), "threshold": 0.9, "accuracy": 0.0}]


def test_curve_is_thinned_and_ends_at_full_coverage(ranked):
    # given 20k lines
    confidence, correct = ranked
    # when
    coverage, accuracy = curve(confidence, correct, points=200)
    # then: about 200 points, coverage rising to 1.0 where the accuracy is the overall one
    assert len(coverage) == len(accuracy) <= 200
    assert len(coverage) > 150
    assert np.all(np.diff(coverage) > 0)
    assert coverage[-1] == 1.0
    assert accuracy[-1] == pytest.approx(correct.mean())


def test_curve_keeps_every_line_when_there_are_few():
    # given: three lines, fewer than the points asked for
    coverage, accuracy = curve(np.array([0.7, 0.9, 0.8]), np.array([True, False, True]), points=200)
    # when ranked 0.9, 0.8, 0.7, then the running accuracy at each
    np.testing.assert_allclose(coverage, [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(accuracy, [0.0, 0.5, 2 / 3])
