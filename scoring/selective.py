"""Selective classification: which lines may be coded automatically. The threshold is the lowest calibrated
confidence at which the lines at or above it reached the target accuracy on the valid split; the test split then
says how that held (coverage and accuracy of the auto lines), and the risk-coverage curve shows the trade-off."""

import math

import numpy as np
from pydantic import BaseModel

NO_THRESHOLD = 1.01  # above any probability: no line is coded automatically
# one standard error of caution. 30 draws of calibrated 3k-line valid / test splits at target 0.95: at z = 0 the
# test accuracy of the auto lines averaged 0.3 points under the target (1 draw in 5 over 1 point under), at z = 1
# 0.3 points over (1 in 15), for 5 points less coverage
CAUTION_Z = 1.0
COVERAGE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class Selection(BaseModel):
    """Lines at or above `threshold`: their share of all lines and their accuracy."""

    threshold: float
    coverage: float
    accuracy: float | None  # None: no line above the threshold
    lines: int
    auto_lines: int


def min_auto_lines(target: float) -> int:
    """Fewest valid lines an accuracy claim stands on: below 1 / (1 - target), one error more or less decides it."""
    return math.ceil(1.0 / (1.0 - target) - 1e-9)


def wilson_lower(successes: np.ndarray, trials: np.ndarray, z: float) -> np.ndarray:
    """Wilson score lower bound of a proportion (z standard errors below; z = 0 is the proportion itself)."""
    p = successes / trials
    centre = p + z * z / (2 * trials)
    margin = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - margin) / (1 + z * z / trials)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float, z: float = CAUTION_Z) -> float:
    """Lowest confidence whose lines at or above it reach `target` accuracy (NO_THRESHOLD when none does).

    "Reach" is judged on the Wilson lower bound `z` standard errors below the observed accuracy: taking the
    largest set that merely touches the target on valid picks a lucky set, which then falls short on new lines.
    Lines with the same confidence go together (a threshold cannot split them); the accepted set needs at least
    min_auto_lines(target) lines so one lucky line does not make a threshold.
    """
    confidence, correct = np.asarray(confidence, dtype="float64"), np.asarray(correct, dtype="bool")
    if len(confidence) == 0:
        return NO_THRESHOLD
    order = np.argsort(-confidence, kind="stable")
    ranked, right = confidence[order], correct[order]
    counts = np.arange(1, len(ranked) + 1)
    lower = wilson_lower(np.cumsum(right), counts, z)
    end_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    ok = end_of_tie & (lower >= target - 1e-12) & (counts >= min_auto_lines(target))
    if not ok.any():
        return NO_THRESHOLD
    return float(ranked[np.flatnonzero(ok)[-1]])


def select(confidence: np.ndarray, correct: np.ndarray | None, threshold: float) -> Selection:
    """Coverage (and accuracy, when correctness is known) of the lines at or above `threshold`."""
    confidence = np.asarray(confidence, dtype="float64")
    auto = confidence >= threshold
    accuracy = None
    if correct is not None and auto.any():
        accuracy = float(np.asarray(correct, dtype="bool")[auto].mean())
    return Selection(
        threshold=threshold,
        coverage=float(auto.mean()) if len(auto) else 0.0,
        accuracy=accuracy,
        lines=int(len(auto)),
        auto_lines=int(auto.sum()),
    )


def risk_coverage(confidence: np.ndarray, correct: np.ndarray, levels=COVERAGE_LEVELS) -> list[dict]:
    """At each coverage level: the confidence threshold reaching it and the accuracy of the lines it accepts."""
    confidence, correct = np.asarray(confidence, dtype="float64"), np.asarray(correct, dtype="bool")
    if len(confidence) == 0:
        return []
    order = np.argsort(-confidence, kind="stable")
    ranked, right = confidence[order], correct[order]
    accuracy = np.cumsum(right) / np.arange(1, len(ranked) + 1)
    rows = []
    for level in levels:
        n = max(1, int(round(level * len(ranked))))
        rows.append(
            {"coverage": float(n / len(ranked)), "threshold": float(ranked[n - 1]), "accuracy": float(accuracy[n - 1])}
        )
    return rows


def curve(confidence: np.ndarray, correct: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, accuracy) along the whole ranking, thinned to about `points` points for a plot."""
    confidence, correct = np.asarray(confidence, dtype="float64"), np.asarray(correct, dtype="bool")
    if len(confidence) == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-confidence, kind="stable")
    accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    keep = np.unique(np.linspace(0, len(order) - 1, min(points, len(order))).astype("int64"))
    return (keep + 1) / len(order), accuracy[keep]
