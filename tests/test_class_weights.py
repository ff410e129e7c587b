"""Class weights of the training program: inverse frequency, alpha smoothing, caps with the sum kept, then
normalised: by default so that a train row weighs 1 on average (normalize="examples"), or so that the real
classes average 1 (normalize="classes")."""

import logging

import numpy as np
import pytest
import torch

from training.config import LossSettings
from training.weights import cap_keeping_sum, compute_class_weights

NUM_SLOTS = 300
REAL = [3, 7, 11, 20, 42]  # 5 real slots among 300; the other 295 are dummy slots
COUNTS = [5000, 800, 40, 3, 1]  # heavily imbalanced, most frequent first
TOL = 1e-9
CLASSES = {"normalize": "classes"}  # the real weights average 1: the caps are absolute


def imbalanced_labels(slots=REAL, counts=COUNTS) -> np.ndarray:
    """A label vector with `counts[i]` rows of `slots[i]`."""
    return np.repeat(np.asarray(slots), np.asarray(counts))


def real_weights(weights: np.ndarray, slots=REAL) -> np.ndarray:
    return weights[np.asarray(slots)]


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_caps_hold_and_sum_is_kept_on_imbalanced_labels(alpha):
    # given: counts 5000 / 800 / 40 / 3 / 1, the default caps [0.1, 10], classes averaging 1
    settings = LossSettings(alpha=alpha, **CLASSES)
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
    settings = LossSettings(alpha=0.5, min_weight=None, max_weight=None, **CLASSES)
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


@pytest.mark.parametrize("normalize", ["examples", "classes"])
@pytest.mark.parametrize("dummy_weight", [0.0, 1.0, 2.5])
def test_dummy_slots_get_exactly_the_dummy_weight_and_stay_out_of_the_sum(dummy_weight, normalize):
    # given
    settings = LossSettings(dummy_weight=dummy_weight, normalize=normalize)
    # when
    weights, report = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: all 295 unused slots hold dummy_weight exactly (no normalisation touches them); the report's sum is
    # the real slots' only
    dummy = np.delete(weights, REAL)
    assert weights.shape == (NUM_SLOTS,)
    assert dummy.size == NUM_SLOTS - len(REAL)
    assert (dummy == dummy_weight).all()
    assert report["weight_sum_real"] == pytest.approx(real_weights(weights).sum(), rel=1e-12)
    assert report["normalize"] == normalize


def test_alpha_zero_gives_uniform_weights():
    # given / when
    weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, LossSettings(alpha=0.0))
    # then
    np.testing.assert_allclose(real_weights(weights), np.ones(len(REAL)), atol=1e-12)


def test_alpha_one_is_proportional_to_inverse_count_without_caps():
    # given: caps disabled, classes averaging 1
    settings = LossSettings(alpha=1.0, min_weight=None, max_weight=None, **CLASSES)
    # when
    weights, _ = compute_class_weights(imbalanced_labels(), REAL, NUM_SLOTS, settings)
    # then: weight_i * count_i is the same for every class, and the weights sum to 5
    real = real_weights(weights)
    products = real * np.asarray(COUNTS)
    np.testing.assert_allclose(products, products[0], rtol=1e-9)
    inverse = 1 / np.asarray(COUNTS, dtype=float)
    np.testing.assert_allclose(real, len(REAL) * inverse / inverse.sum(), rtol=1e-9)


@pytest.mark.parametrize("normalize", ["examples", "classes"])
@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("caps", [(0.1, 10.0), (0.5, 2.0), (None, None)])
def test_rarer_class_never_gets_a_smaller_weight(alpha, caps, normalize):
    # given: counts in random order, so slot order says nothing about frequency
    rng = np.random.default_rng(0)
    counts = rng.permutation([5000, 800, 40, 3, 1, 250, 17])
    slots = list(range(len(counts)))
    settings = LossSettings(alpha=alpha, min_weight=caps[0], max_weight=caps[1], normalize=normalize)
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
    weights, report = compute_class_weights(labels, list(range(12)), 12, LossSettings(alpha=1.0, **CLASSES))
    # then: a feasible answer exists (10 and 11 x 2/11) but the code returns 10 and 11 x 0.1 (sum 11.1, not 12)
    assert weights.max() <= 10.0 + TOL
    assert weights.sum() == pytest.approx(12.0, abs=1e-6)


def test_cap_keeping_sum_keeps_sum_when_the_high_cap_must_release():
    # given: four weights lifted to the low cap 0.9 leave 1.4 for the last one, under its high cap 1.5
    # when
    capped, _ = cap_keeping_sum(np.array([0.01, 0.01, 0.01, 0.01, 4.96]), 0.9, 1.5, 5.0)
    # then
    assert capped.sum() == pytest.approx(5.0, abs=1e-6)


# ---- normalize="examples" (the default): a train row weighs 1 on average ---------------------------------------


def test_examples_is_the_default_normalisation():
    # given / when / then
    assert LossSettings().normalize == "examples"


def train_mean_weight(weights: np.ndarray, labels: np.ndarray) -> float:
    """The weight of the average train row: the class weights weighted by their train frequency."""
    return float(weights[labels].mean())


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("caps", [(0.1, 10.0), (None, None)], ids=["capped", "uncapped"])
def test_a_train_row_weighs_one_on_average(alpha, caps):
    # given: the imbalanced counts 5000 / 800 / 40 / 3 / 1
    labels = imbalanced_labels()
    settings = LossSettings(alpha=alpha, min_weight=caps[0], max_weight=caps[1])
    # when
    weights, report = compute_class_weights(labels, REAL, NUM_SLOTS, settings)
    # then: the train-frequency-weighted mean of the weights is 1
    assert train_mean_weight(weights, labels) == pytest.approx(1.0, abs=1e-9)
    counts = np.asarray(COUNTS, dtype=float)
    assert float((counts * real_weights(weights)).sum() / counts.sum()) == pytest.approx(1.0, abs=1e-9)
    assert report["normalize"] == "examples"


def test_a_zero_count_class_does_not_change_the_mean_over_train_rows():
    # given: slot 42 is a real class without train rows (it gets the largest weight, but no row carries it)
    slots, counts = [3, 7, 11, 42], [100, 50, 20, 0]
    labels = imbalanced_labels(slots, counts)
    # when
    weights, report = compute_class_weights(labels, slots, NUM_SLOTS, LossSettings(alpha=1.0))
    # then
    assert report["zero_count_classes"] == [42]
    assert train_mean_weight(weights, labels) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_the_weighted_loss_at_uniform_logits_is_the_plain_loss(alpha):
    # given: uniform logits over every slot, so each row's cross-entropy is log(slots)
    labels = imbalanced_labels()
    weights, _ = compute_class_weights(labels, REAL, NUM_SLOTS, LossSettings(alpha=alpha))
    logits = torch.zeros(labels.size, NUM_SLOTS)
    targets = torch.as_tensor(labels)
    # when: the training program's loss, the mean of the weighted per-example cross-entropy
    per_example = torch.nn.functional.cross_entropy(
        logits, targets, weight=torch.as_tensor(weights, dtype=torch.float32), reduction="none"
    )
    weighted = per_example.double().mean().item()
    # then: it keeps the plain loss's scale (and the learning rate its meaning)
    plain = torch.nn.functional.cross_entropy(logits, targets).item()
    assert plain == pytest.approx(np.log(NUM_SLOTS), rel=1e-6)
    assert weighted == pytest.approx(plain, rel=1e-5)


def test_classes_normalisation_scales_that_loss_by_the_mean_row_weight():
    # given: the same loss with normalize="classes", where the frequent classes weigh well below 1
    labels = imbalanced_labels()
    weights, report = compute_class_weights(labels, REAL, NUM_SLOTS, LossSettings(alpha=0.5, **CLASSES))
    # when
    per_row = weights[labels] * np.log(NUM_SLOTS)
    # then: the loss shrinks by the mean train-row weight the report gives (what "examples" divides by)
    assert report["mean_weight_per_example_before"] < 0.5
    assert per_row.mean() == pytest.approx(np.log(NUM_SLOTS) * report["mean_weight_per_example_before"], rel=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_the_two_normalisations_differ_by_one_factor(alpha):
    # given
    labels = imbalanced_labels()
    # when
    examples, report = compute_class_weights(labels, REAL, NUM_SLOTS, LossSettings(alpha=alpha))
    classes, _ = compute_class_weights(labels, REAL, NUM_SLOTS, LossSettings(alpha=alpha, **CLASSES))
    # then: the real weights are the same up to the mean train-row weight; their order and ratios are kept
    np.testing.assert_allclose(
        real_weights(examples) * report["mean_weight_per_example_before"], real_weights(classes), rtol=1e-9
    )


@pytest.mark.parametrize("normalize", ["examples", "classes"])
@pytest.mark.parametrize(("low", "high"), [(0.1, 10.0), (0.5, 2.0), (0.2, 1.5)])
def test_capping_bounds_the_ratio_of_the_largest_to_the_smallest_weight(normalize, low, high):
    # given: 1 row against 50000 (full inverse frequency would be a ratio of 50000)
    labels = np.repeat([0, 1, 2, 3], [50000, 2000, 10, 1])
    settings = LossSettings(alpha=1.0, min_weight=low, max_weight=high, normalize=normalize)
    # when
    weights, report = compute_class_weights(labels, [0, 1, 2, 3], 6, settings)
    # then: whatever the scale, the rarest class weighs at most high / low times the most frequent one
    real = weights[:4]
    assert real.max() / real.min() <= high / low * (1 + 1e-9)
    assert real[3] == real.max() and real[0] == real.min()  # capped ones may tie
    assert report["max"] / report["min"] == pytest.approx(real.max() / real.min(), rel=1e-12)
