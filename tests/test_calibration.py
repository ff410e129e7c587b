"""Temperature scaling and the expected calibration error (scoring/calibration.py).

Synthetic logits with a known answer: labels drawn from softmax(z / T_true), so the temperature that explains them
best is T_true, and a model read at T = 1 is over- (T_true > 1) or under-confident (T_true < 1).
"""

import numpy as np
import pytest

from contracts.predictions import softmax
from scoring.calibration import (
    PROB_FLOOR,
    TEMPERATURE_RANGE,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
    scaled_probs,
    top_confidence,
)

CLASSES = 10
ROWS = 20_000
TEMPERATURE_TOLERANCE = 0.05  # relative; 20k rows recover T_true to about 1% (checked over seeds)


def sample_labels(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per row drawn from its probabilities."""
    return (probs.cumsum(axis=1) > rng.random((len(probs), 1))).argmax(axis=1)


def labelled_logits(true_temperature: float, rows: int = ROWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits z and labels drawn from softmax(z / true_temperature)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(rows, CLASSES))
    return z, sample_labels(softmax(z / true_temperature), rng)


# ---- fit_temperature ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["top1", "nll"])
@pytest.mark.parametrize("true_temperature", [0.5, 2.5], ids=["underconfident", "overconfident"])
def test_fitted_temperature_recovers_the_temperature_labels_were_drawn_at(true_temperature, objective):
    # given: labels drawn from softmax(z / T_true)
    z, y = labelled_logits(true_temperature)
    # when fitted on the top-1 log loss (the default) or the full negative log-likelihood
    fitted = fit_temperature(z, y, objective=objective)
    # then both give T_true back
    assert fitted == pytest.approx(true_temperature, rel=TEMPERATURE_TOLERANCE)


def test_already_calibrated_logits_keep_a_temperature_near_one():
    # given: labels drawn from softmax(z) itself
    z, y = labelled_logits(1.0, seed=1)
    # when, then
    assert fit_temperature(z, y) == pytest.approx(1.0, rel=TEMPERATURE_TOLERANCE)


def test_no_rows_gives_temperature_one():
    # given: an empty split, when fitted, then there is nothing to move T away from 1
    assert fit_temperature(np.zeros((0, CLASSES)), np.zeros(0, dtype="int64")) == 1.0


def test_fitted_temperature_stays_in_range_for_perfectly_separated_rows():
    # given: every label is the top logit by a wide margin (the likelihood keeps improving as T -> 0)
    z = np.eye(CLASSES)[np.arange(200) % CLASSES] * 5.0
    y = np.arange(200) % CLASSES
    # when
    fitted = fit_temperature(z, y)
    # then: a finite T inside the search range, sharper than the raw logits, that makes every line near-certain
    assert TEMPERATURE_RANGE[0] <= fitted < 1.0
    assert top_confidence(scaled_probs(z, fitted))[1].min() > 0.999


# ---- the allowed mask and the probability floor ---------------------------------------------------------------


@pytest.fixture
def allowed() -> np.ndarray:
    """Slots 0, 2 and 5 of 6 exist for this model; 1, 3 and 4 never do."""
    return np.array([True, False, True, False, False, True])


def test_disallowed_slots_never_carry_probability(allowed):
    # given: logits that favour the disallowed slots most
    z = np.random.default_rng(0).normal(size=(50, 6))
    z[:, ~allowed] += 20.0
    # when
    probs = scaled_probs(z, 0.7, allowed)
    # then: all the mass is on the allowed slots, and the top slot is always an allowed one
    assert np.all(probs[:, ~allowed] == 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert set(top_confidence(probs)[0].tolist()) <= {0, 2, 5}


def test_a_true_label_the_model_gives_no_mass_costs_the_floor_not_infinity(allowed):
    # given: one row whose true label (slot 1) is outside the allowed slots
    z = np.array([[1.0, 9.0, 0.5, 0.0, 0.0, -1.0]])
    # when
    nll = negative_log_likelihood(z, np.array([1]), 1.0, allowed)
    # then: log of the floor, finite
    assert nll == pytest.approx(-np.log(PROB_FLOOR))


def test_temperature_is_finite_when_some_true_labels_are_disallowed(allowed):
    # given: rows whose labels are mostly allowed slots, a tenth in a slot the model never allows
    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.0, size=(500, 6))
    y = np.where(rng.random(500) < 0.1, 3, rng.choice([0, 2, 5], size=500))
    # when
    fitted = fit_temperature(z, y, allowed)
    nll = negative_log_likelihood(z, y, fitted, allowed)
    # then
    assert np.isfinite(fitted) and TEMPERATURE_RANGE[0] <= fitted <= TEMPERATURE_RANGE[1]
    assert np.isfinite(nll)


# ---- reliability_table and expected_calibration_error ---------------------------------------------------------


def test_reliability_table_bins_rows_and_leaves_empty_bins_out():
    # given: five lines in three of ten bins (1.0 falls in the last bin, not an eleventh)
    confidence = np.array([0.05, 0.07, 0.55, 0.95, 1.0])
    correct = np.array([True, False, True, True, False])
    # when
    table = reliability_table(confidence, correct, bins=10)
    # then
    assert [(r["low"], r["high"]) for r in table] == [(0.0, 0.1), (0.5, 0.6), (0.9, 1.0)]
    assert [r["rows"] for r in table] == [2, 1, 2]
    assert sum(r["rows"] for r in table) == len(confidence)
    assert [r["confidence"] for r in table] == pytest.approx([0.06, 0.55, 0.975])
    assert [r["accuracy"] for r in table] == pytest.approx([0.5, 1.0, 0.5])


def test_perfectly_calibrated_lines_have_ece_near_zero():
    # given: each line right with probability equal to its confidence
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, size=200_000)
    correct = rng.random(200_000) < confidence
    # when, then: only sampling noise is left (about 0.003 at this size)
    assert expected_calibration_error(confidence, correct) < 0.01


def test_an_overconfident_model_has_ece_of_its_gap():
    # given: every line at confidence 0.9, 60% of them right
    confidence = np.full(1000, 0.9)
    correct = np.arange(1000) < 600
    # when, then
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.3)


def test_ece_of_no_rows_is_zero():
    assert expected_calibration_error(np.zeros(0), np.zeros(0, dtype=bool)) == 0.0


# ---- temperature scaling end to end ---------------------------------------------------------------------------


def test_temperature_scaling_lowers_ece_and_keeps_every_prediction():
    # given: an overconfident model (labels drawn at T = 2.5), valid and test drawn apart
    valid_z, valid_y = labelled_logits(2.5, rows=10_000, seed=3)
    test_z, test_y = labelled_logits(2.5, rows=10_000, seed=4)
    # when: T is fitted on valid and applied to test
    temperature = fit_temperature(valid_z, valid_y)
    raw_pred, raw_conf = top_confidence(scaled_probs(test_z, 1.0))
    pred, conf = top_confidence(scaled_probs(test_z, temperature))
    before = expected_calibration_error(raw_conf, raw_pred == test_y)
    after = expected_calibration_error(conf, pred == test_y)
    # then: the raw model is clearly miscalibrated, the scaled one much less; the argmax never moves
    assert temperature > 1.0
    assert before > 0.1
    assert after < before / 3
    np.testing.assert_array_equal(pred, raw_pred)
