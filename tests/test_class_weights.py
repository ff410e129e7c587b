"""Class weights of the training program: inverse frequency, alpha smoothing, caps with the sum kept."""

import logging

import numpy as np
import pytest

from training.config import LossSettings
from training.weights import cap_keeping_sum, compute_class_weights

NUM_SLOTS = 300
REAL = [3, 7, 11, 20, 42]  # 5 real slots among 300; the other 295 are dummy slots
COUNTS = [5000, 800, 40, 3, 1]  # heavily imbalanced, most frequent first
TOL = 1e-9


def imbalanced_labels(slots=REAL, counts=COUNTS) -> np.ndarray:
    """A label vector with `counts[i]` rows of `slots[i]`."""
    return np.repeat(np.asarray(slots), np.asarray(counts))


def real_weights(weights: np.ndarray, slots=REAL) -> np.ndarray:
    return weights[np.asarray(slots)]


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_caps_hold_and_sum_is_kept_on_imbalanced_labels(alpha):
    # given: counts 5000 / 800 / 40 / 3 / 1 and the default caps [0.1, 10]
    settings = LossSettings(alpha=alpha)
    # when
    weights, report = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: every real weight is within the caps and the real weights average 1
    real = real_weights(weights)
    assert (real >= settings.min_weight - TOL).all() and (real <= settings.max_weight + TOL).all()
    assert real.sum() == pytest.approx(len(REAL), abs=1e-6)
    assert report["weight_sum_real"] == pytest.approx(len(REAL), abs=1e-6)
    assert report["real_classes"] == len(REAL) and report["num_slots"] == NUM_SLOTS
    assert report["counts"] == dict(zip(REAL, COUNTS, strict=True))


def test_sum_is_kept_before_capping_too():
    # given: caps disabled, so the weights are the smoothed inverse frequencies only
    settings = LossSettings(alpha=0.5, min_weight=None, max_weight=None)
    # when
    weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: the uncapped weights average 1 as well and the smallest is below the default cap (capping matters)
    real = real_weights(weights)
    assert real.sum() == pytest.approx(len(REAL), abs=1e-6)
    assert real.min() < LossSettings().min_weight


def test_cap_keeping_sum_clips_and_rescales_the_free_weights():
    # given: weights summing to 5 with one below the low cap and one above the high cap
    weights = np.array([0.01, 0.5, 1.0, 1.49, 2.0])
    # when
    capped, iterations = cap_keeping_sum(weights, 0.2, 1.8, 5.0)
    # then: caps hold, the sum is kept, and the order is unchanged
    assert capped.min() >= 0.2 - TOL and capped.max() <= 1.8 + TOL
    assert capped.sum() == pytest.approx(5.0, abs=1e-6)
    assert (np.diff(capped) >= -TOL).all()
    assert 1 <= iterations <= 100


def test_zero_count_class_gets_the_default_count_and_the_largest_weight():
    # given: slot 42 is a real class with no train rows; the mean nonzero count * share is below 1
    slots, counts = [3, 7, 11, 42], [100, 50, 20, 0]
    settings = LossSettings(alpha=1.0, min_weight=None, max_weight=None)
    # when
    weights, report = compute_class_weights(imbalanced_labels(slots, counts), slots, NUM_SLOTS, settings)
    # then: it is counted as max(1, mean nonzero * zero_count_share) = 1 row, so alpha=1 gives it the top weight
    real = real_weights(weights, slots)
    assert report["zero_count_classes"] == [42]
    assert report["counts"][42] == 0
    assert real.argmax() == 3
    default = max(1.0, np.mean(counts[:3]) * settings.zero_count_share)
    assert real[3] / real[0] == pytest.approx(counts[0] / default, rel=1e-9)


def test_zero_count_default_count_uses_the_share_of_the_mean():
    # given: large counts, so mean nonzero * share (0.5 * 2000 = 1000) is above 1
    slots, counts = [0, 1, 2], [3000, 1000, 0]
    settings = LossSettings(alpha=1.0, min_weight=None, max_weight=None, zero_count_share=0.5)
    # when
    weights, report = compute_class_weights(imbalanced_labels(slots, counts), slots, 10, settings)
    # then: the zero class weighs as if it had 1000 rows (like slot 1), and more than the 3000-row class
    real = real_weights(weights, slots)
    assert report["zero_count_classes"] == [2]
    assert real[2] == pytest.approx(real[1], rel=1e-9)
    assert real[2] > real[0]


@pytest.mark.parametrize("dummy_weight", [0.0, 1.0, 2.5])
def test_dummy_slots_get_exactly_the_dummy_weight_and_stay_out_of_the_sum(dummy_weight):
    # given
    settings = LossSettings(dummy_weight=dummy_weight)
    # when
    weights, report = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: all 295 unused slots hold dummy_weight exactly; only the real ones sum to 5
    dummy = np.delete(weights, REAL)
    assert weights.shape == (NUM_SLOTS,)
    assert dummy.size == NUM_SLOTS - len(REAL)
    assert (dummy == dummy_weight).all()
    assert real_weights(weights).sum() == pytest.approx(len(REAL), abs=1e-6)
    assert report["weight_sum_real"] == pytest.approx(len(REAL), abs=1e-6)


def test_alpha_zero_gives_uniform_weights():
    # given / when
    weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, LossSettings(alpha=0.0))
    # then
    np.testing.assert_allclose(real_weights(weights), np.ones(len(REAL)), atol=1e-12)


def test_alpha_one_is_proportional_to_inverse_count_without_caps():
    # given: caps disabled
    settings = LossSettings(alpha=1.0, min_weight=None, max_weight=None)
    # when
    weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: weight_i * count_i is the same for every class, and the weights sum to 5
    real = real_weights(weights)
    products = real * np.asarray(COUNTS)
    np.testing.assert_allclose(products, products[0], rtol=1e-9)
    inverse = 1 / np.asarray(COUNTS, dtype=float)
    np.testing.assert_allclose(real, len(REAL) * inverse / inverse.sum(), rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("caps", [(0.1, 10.0), (0.5, 2.0), (None, None)])
def test_rarer_class_never_gets_a_smaller_weight(alpha, caps):
    # given: counts in random order, so slot order says nothing about frequency
    rng = np.random.default_rng(0)
    counts = rng.permutation([5000, 800, 40, 3, 1, 250, 17])
    slots = list(range(len(counts)))
    settings = LossSettings(alpha=alpha, min_weight=caps[0], max_weight=caps[1])
    # when
    weights, _ = compute_class_weights(imbalanced_labels(slots, counts), slots, 50, settings)
    # then: sorted by count ascending, weights never increase
    by_count = real_weights(weights, slots)[np.argsort(counts)]
    assert (np.diff(by_count) <= TOL).all()


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (LossSettings(alpha=0.5, min_weight=2.0, max_weight=10.0), "min_weight=2.0000 infeasible"),
        (LossSettings(alpha=0.5, min_weight=None, max_weight=0.5), "max_weight=0.5000 infeasible"),
        pytest.param(
            LossSettings(alpha=0.5, min_weight=0.1, max_weight=0.5),
            "max_weight=0.5000 infeasible",
            id="max-infeasible-with-low-cap",
        ),
    ],
)
def test_infeasible_caps_are_adjusted_with_a_warning(caplog, settings, needle):
    # given: min_weight * 5 > 5 (or max_weight * 5 < 5): no 5 weights in the caps can sum to 5
    # when
    with caplog.at_level(logging.WARNING, logger="training.weights"):
        weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: no error, a warning, the sum kept (the only feasible answer is all ones)
    assert any(needle in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    real = real_weights(weights)
    assert real.sum() == pytest.approx(len(REAL), abs=1e-6)
    np.testing.assert_allclose(real, np.ones(len(REAL)), atol=1e-6)


def test_sum_is_kept_when_both_caps_bind_with_the_default_caps():
    # given: 11 classes with 10000 rows and one with a single row, alpha=1, default caps [0.1, 10]
    labels = np.repeat(np.arange(12), [10000] * 11 + [1])
    # when
    weights, report = compute_class_weights(labels, list(range(12)), 12, LossSettings(alpha=1.0))
    # then: a feasible answer exists (10 and 11 x 2/11) but the code returns 10 and 11 x 0.1 (sum 11.1, not 12)
    assert weights.max() <= 10.0 + TOL
    assert weights.sum() == pytest.approx(12.0, abs=1e-6)


def test_cap_keeping_sum_keeps_sum_when_the_high_cap_must_release():
    # given: four weights lifted to the low cap 0.9 leave 1.4 for the last one, under its high cap 1.5
    # when
    capped, _ = cap_keeping_sum(np.array([0.01, 0.01, 0.01, 0.01, 4.96]), 0.9, 1.5, 5.0)
    # then
    assert capped.sum() == pytest.approx(5.0, abs=1e-6)
