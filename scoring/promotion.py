"""Champion or challenger: both models scored on the same labelled lines of the newest month, first by how many
lines each codes automatically at the target accuracy, then by macro-F1. The challenger takes the alias unless it
is worse beyond noise: a paired bootstrap over the lines gives each difference its 95% interval, and only an
interval wholly below zero counts as worse (a tie within noise goes to the newer model, which saw the newer lines)."""

import numpy as np
import pandas as pd
from pydantic import BaseModel

from scoring.selective import choose_threshold, select

RESAMPLES = 400
CONFIDENCE = 0.95


class Scores(BaseModel):
    """One model on the comparison lines."""

    model: str  # what it is: models:/NAME/VERSION, a run folder, a baseline folder
    coverage: float  # share of lines coded automatically at the target accuracy (threshold chosen on these lines)
    auto_accuracy: float | None
    f1_macro: float
    accuracy: float


class Difference(BaseModel):
    """Challenger minus champion, with its bootstrap interval."""

    value: float
    low: float
    high: float


class Verdict(BaseModel):
    winner: str  # challenger | champion
    moves: bool  # the alias goes to the challenger
    reason: str
    lines: int
    target: float
    champion: Scores | None  # None: there was no champion yet
    challenger: Scores
    coverage_difference: Difference | None = None
    f1_difference: Difference | None = None


def macro_f1(true: np.ndarray, pred: np.ndarray, classes: int) -> float:
    """Macro-F1 over the classes present in either array (integer codes below `classes`), as sklearn counts it."""
    tp = np.bincount(true[true == pred], minlength=classes)
    true_n, pred_n = np.bincount(true, minlength=classes), np.bincount(pred, minlength=classes)
    present = (true_n + pred_n) > 0
    denominator = true_n + pred_n
    f1 = np.divide(2 * tp, denominator, out=np.zeros(classes), where=denominator > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def coverage_at(confidence: np.ndarray, correct: np.ndarray, target: float) -> tuple[float, float | None]:
    """Coverage and accuracy of the auto lines at the threshold these lines support for the target."""
    chosen = select(confidence, correct, choose_threshold(confidence, correct, target))
    return chosen.coverage, chosen.accuracy


def score(
    model: str, true: np.ndarray, pred: np.ndarray, confidence: np.ndarray, classes: int, target: float
) -> Scores:
    correct = true == pred
    coverage, auto_accuracy = coverage_at(confidence, correct, target)
    return Scores(
        model=model, coverage=coverage, auto_accuracy=auto_accuracy, f1_macro=macro_f1(true, pred, classes),
        accuracy=float(correct.mean()),
    )  # fmt: skip


def _interval(values: np.ndarray, point: float) -> Difference:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Difference(value=point, low=float(low), high=float(high))


def compare(
    lines: pd.DataFrame, champion: str | None, challenger: str, target: float, resamples: int = RESAMPLES, seed: int = 0
) -> Verdict:
    """lines: true_code, and per model <prefix>_code and <prefix>_confidence with prefixes champion / challenger
    (the champion's columns absent when there is none)."""
    codes = pd.Index(pd.unique(pd.concat([lines[c] for c in lines if c.endswith("_code")]).astype("str")))
    as_int = {c: codes.get_indexer(lines[c].astype("str")) for c in lines if c.endswith("_code")}
    true, classes, n = as_int["true_code"], len(codes), len(lines)
    new = score(challenger, true, as_int["challenger_code"], lines["challenger_confidence"].to_numpy(), classes, target)
    if champion is None:
        return Verdict(
            winner="challenger", moves=True, reason="no champion yet: the challenger becomes the first",
            lines=n, target=target, champion=None, challenger=new,
        )  # fmt: skip
    old = score(champion, true, as_int["champion_code"], lines["champion_confidence"].to_numpy(), classes, target)
    rng = np.random.default_rng(seed)
    cov, f1 = np.empty(resamples), np.empty(resamples)
    for i in range(resamples):  # paired: both models on the same resampled lines
        pick = rng.integers(0, n, n)
        t = true[pick]
        sides = []
        for side in ("challenger", "champion"):
            p, c = as_int[f"{side}_code"][pick], lines[f"{side}_confidence"].to_numpy()[pick]
            sides.append((coverage_at(c, t == p, target)[0], macro_f1(t, p, classes)))
        cov[i], f1[i] = sides[0][0] - sides[1][0], sides[0][1] - sides[1][1]
    coverage = _interval(cov, new.coverage - old.coverage)
    f1_diff = _interval(f1, new.f1_macro - old.f1_macro)
    worse, why = _judge(coverage, f1_diff, target)
    return Verdict(
        winner="champion" if worse else "challenger", moves=not worse, reason=why, lines=n, target=target,
        champion=old, challenger=new, coverage_difference=coverage, f1_difference=f1_diff,
    )  # fmt: skip


def _judge(coverage: Difference, f1: Difference, target: float) -> tuple[bool, str]:
    """(challenger worse beyond noise, the reason in words)."""
    interval = f"95% interval {coverage.low:+.1%} to {coverage.high:+.1%}"
    cov = f"automatic coverage at {target:.0%} {coverage.value:+.1%} ({interval})"
    f1_text = f"macro-F1 {f1.value:+.3f} ({f1.low:+.3f} to {f1.high:+.3f})"
    if coverage.high < 0:
        return True, f"the challenger is worse: {cov}"
    if coverage.low > 0:
        return False, f"the challenger is better: {cov}"
    if f1.high < 0:
        return True, f"coverage is a tie within noise ({cov}) and the challenger is worse on {f1_text}"
    if f1.low > 0:
        return False, f"coverage is a tie within noise ({cov}) and the challenger is better on {f1_text}"
    return False, f"the challenger is no worse beyond noise: {cov}; {f1_text}"
