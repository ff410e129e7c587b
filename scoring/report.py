"""One model's calibration, threshold and their figures on valid and test: the calibration.json contract."""

from pathlib import Path

import numpy as np

from contracts.calibration import Calibration, SplitFigures
from scoring.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    scaled_probs,
    top_confidence,
)
from scoring.plots import plot_reliability, plot_risk_coverage
from scoring.selective import NO_THRESHOLD, choose_threshold, curve, risk_coverage, select

# what a threshold could promise instead, when the asked accuracy is out of reach on valid
REACHABLE_TARGETS = (0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9, 0.85, 0.8)


def split_figures(
    logits: np.ndarray, labels: np.ndarray, temperature: float, threshold: float, allowed
) -> SplitFigures:
    from sklearn.metrics import f1_score

    raw_pred, raw_conf = top_confidence(scaled_probs(logits, 1.0, allowed))
    pred, conf = top_confidence(scaled_probs(logits, temperature, allowed))
    correct = pred == labels
    chosen = select(conf, correct, threshold)
    return SplitFigures(
        rows=len(labels),
        accuracy=float(correct.mean()) if len(labels) else 0.0,
        f1_macro=float(f1_score(labels, pred, average="macro", zero_division=0)) if len(labels) else 0.0,
        ece_before=expected_calibration_error(raw_conf, raw_pred == labels),
        ece_after=expected_calibration_error(conf, correct),
        coverage=chosen.coverage,
        auto_accuracy=chosen.accuracy,
        auto_lines=chosen.auto_lines,
    )


def reachable_target(confidence: np.ndarray, correct: np.ndarray, target: float) -> dict | None:
    """The highest of REACHABLE_TARGETS below `target` that a threshold meets on these lines, with its coverage."""
    for lower in (t for t in REACHABLE_TARGETS if t < target):
        threshold = choose_threshold(confidence, correct, lower)
        if threshold <= 1.0:
            coverage = select(confidence, correct, threshold).coverage
            return {"target": lower, "threshold": threshold, "coverage": coverage}
    return None


def worsens_ece(valid: tuple[np.ndarray, np.ndarray], temperature: float, allowed) -> bool:
    """Whether this temperature makes the valid split's expected calibration error worse than the raw softmax."""
    raw_pred, raw_conf = top_confidence(scaled_probs(valid[0], 1.0, allowed))
    pred, conf = top_confidence(scaled_probs(valid[0], temperature, allowed))
    before = expected_calibration_error(raw_conf, raw_pred == valid[1])
    return expected_calibration_error(conf, pred == valid[1]) > before + 1e-9


def trusted_part(scored: tuple[np.ndarray, np.ndarray] | None, suspected: np.ndarray | None):
    """The lines not suspected of being mis-posted (all of them when nothing is suspected)."""
    if scored is None or suspected is None or not suspected.any():
        return scored
    keep = ~suspected[: len(scored[1])]
    return scored[0][keep], scored[1][keep]


def calibrate_model(
    name: str,
    valid: tuple[np.ndarray, np.ndarray] | None,
    test: tuple[np.ndarray, np.ndarray] | None,
    allowed: np.ndarray | None,
    target: float,
    out_dir: str | Path,
    suspected: dict[str, np.ndarray] | None = None,
) -> Calibration:
    """Temperature and threshold from valid; ECE, coverage and the curves on test; plots in out_dir.

    `suspected` (split -> mask over its lines): suspected mis-postings. The temperature, the threshold and every
    figure are computed on the other lines, since a wrong code caps any threshold's measured accuracy; the figures
    against every code as written are kept beside them. With no valid rows there is nothing to fit on:
    temperature 1 and no line coded automatically.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suspected = {k: v for k, v in (suspected or {}).items() if k in ("valid", "test")}
    written = {"valid": valid, "test": test}
    valid, test = trusted_part(valid, suspected.get("valid")), trusted_part(test, suspected.get("test"))
    temperature, threshold, reachable, rejected = 1.0, NO_THRESHOLD, None, None
    if valid is not None and len(valid[1]):
        temperature = fit_temperature(valid[0], valid[1], allowed)
        if worsens_ece(valid, temperature, allowed):  # fitted on log loss: it can still miscalibrate the top class
            temperature, rejected = 1.0, temperature
        pred, conf = top_confidence(scaled_probs(valid[0], temperature, allowed))
        threshold = choose_threshold(conf, pred == valid[1], target)
        if threshold > 1.0:
            reachable = reachable_target(conf, pred == valid[1], target)
    calibration = Calibration(
        model=name, temperature=temperature, target_accuracy=target, threshold=threshold, reachable=reachable,
        rejected_temperature=rejected,
        suspected={k: int(v.sum()) for k, v in suspected.items() if v.any()},
    )  # fmt: skip
    if valid is not None and len(valid[1]):
        calibration.valid = split_figures(valid[0], valid[1], temperature, threshold, allowed)
    for split, scored in written.items():
        if calibration.suspected.get(split) and scored is not None and len(scored[1]):
            figures = split_figures(scored[0], scored[1], temperature, threshold, allowed)
            setattr(calibration, f"{split}_as_written", figures)
    if test is None or not len(test[1]):
        return calibration
    calibration.test = split_figures(test[0], test[1], temperature, threshold, allowed)
    raw_pred, raw_conf = top_confidence(scaled_probs(test[0], 1.0, allowed))
    pred, conf = top_confidence(scaled_probs(test[0], temperature, allowed))
    correct = pred == test[1]
    calibration.risk_coverage = risk_coverage(conf, correct)
    calibration.reliability = {
        "before": reliability_table(raw_conf, raw_pred == test[1]),
        "after": reliability_table(conf, correct),
    }
    figures = calibration.test
    calibration.plots = {
        "reliability": plot_reliability(
            calibration.reliability["before"],
            calibration.reliability["after"],
            f"{name}: 신뢰도 보정 reliability (test), ECE {figures.ece_before:.3f} -> {figures.ece_after:.3f}",
            out / "reliability.png",
        ),
        "risk_coverage": plot_risk_coverage(
            *curve(conf, correct),
            target,
            (figures.coverage, figures.auto_accuracy),
            f"{name}: 자동 처리 비율과 정확도 risk-coverage (test)",
            out / "risk_coverage.png",
        ),
    }
    return calibration
