"""Class weights for an imbalanced head: inverse frequency, alpha smoothing, capped with the sum kept."""

import logging

import numpy as np

from training.config import LossSettings

LOGGER = logging.getLogger(__name__)
MAX_ITERATIONS = 200
TOLERANCE = 1e-9


def cap_keeping_sum(
    weights: np.ndarray, low: float | None, high: float | None, target: float
) -> tuple[np.ndarray, int]:
    """Scale then clip to [low, high] so the weights sum to `target`; their order is kept."""
    n = weights.size
    if low is not None and low * n > target:
        LOGGER.warning(
            "min_weight=%.4f infeasible for %d classes summing to %.2f: using %.4f", low, n, target, target / n
        )
        low = target / n
    if high is not None and high * n < target:
        LOGGER.warning(
            "max_weight=%.4f infeasible for %d classes summing to %.2f: using %.4f", high, n, target, target / n
        )
        high = target / n
    lower = -np.inf if low is None else low
    upper = np.inf if high is None else high
    w = weights.astype("float64")

    def total(scale: float) -> float:
        return float(np.clip(scale * w, lower, upper).sum())

    # the clipped sum only grows with the scale: bisect for the scale that hits the target
    lo, hi = 0.0, 1.0
    while total(hi) < target and hi < 1e12:
        hi *= 2
    iterations = 0
    while iterations < MAX_ITERATIONS and abs(total(hi) - target) > TOLERANCE * max(1.0, target):
        iterations += 1
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
    return np.clip(hi * w, lower, upper), iterations


def compute_class_weights(
    labels: np.ndarray, real_slots: list[int], num_slots: int, settings: LossSettings
) -> tuple[np.ndarray, dict]:
    """Per-slot weights and a report. normalize='examples': a train row weighs 1 on average; 'classes': real
    slots average 1. Unused (dummy) slots get `dummy_weight`."""
    counts = np.bincount(labels, minlength=num_slots).astype("float64")
    real = np.asarray(sorted(real_slots), dtype=int)
    real_counts = counts[real]
    zero = real_counts == 0
    if (~zero).any():
        real_counts = np.where(zero, max(1.0, real_counts[~zero].mean() * settings.zero_count_share), real_counts)
    else:
        real_counts = np.ones_like(real_counts)
    raw = real_counts.sum() / (real.size * real_counts)
    smoothed = raw**settings.alpha
    target = float(real.size)
    smoothed *= target / smoothed.sum()
    capped, iterations = cap_keeping_sum(smoothed, settings.min_weight, settings.max_weight, target)
    example_mean = float((counts[real] * capped).sum() / max(counts[real].sum(), 1.0))
    if settings.normalize == "examples" and example_mean > 0:
        # a train row weighs 1 on average: the weighted loss keeps the plain loss's scale (and so the learning
        # rate its meaning); with classes averaging 1, frequent classes weigh ~0.3 and learning crawls
        capped = capped / example_mean
    weights = np.full(num_slots, settings.dummy_weight, dtype="float64")
    weights[real] = capped
    report = {
        "num_slots": num_slots,
        "real_classes": int(real.size),
        "zero_count_classes": [int(i) for i in real[zero]],
        "weight_sum_real": float(capped.sum()),
        "min": float(capped.min()),
        "max": float(capped.max()),
        "iterations": iterations,
        "alpha": settings.alpha,
        "normalize": settings.normalize,
        "mean_weight_per_example_before": example_mean,
        "counts": {int(i): int(c) for i, c in zip(real, counts[real], strict=True)},
    }
    return weights, report
