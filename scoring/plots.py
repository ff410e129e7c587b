"""Reliability diagram and risk-coverage curve, as PNG, with a Hangul font (scoring/fonts.py)."""

from pathlib import Path

import numpy as np

from scoring.fonts import hangul_font


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, fig, ax, labels: tuple[str, str, str], legend: str, out: Path) -> str:
    """Unit axes' labels and title, the legend, saved as PNG and closed."""
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(labels[2])
    ax.legend(loc=legend)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return str(out)


def plot_reliability(before: list[dict], after: list[dict], title: str, out: Path) -> str:
    """Accuracy against mean confidence per bin, before and after calibration, with the diagonal."""
    plt = _pyplot()
    with plt.rc_context({"font.family": hangul_font()}):
        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="완벽한 보정 (perfect)")
        for bins, style, label in ((before, "o-", "보정 전 (raw softmax)"), (after, "s-", "보정 후 (temperature)")):
            if bins:
                ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], style, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        labels = ("확신도 confidence (top-1 probability)", "정확도 accuracy", title)
        return _finish(plt, fig, ax, labels, "upper left", out)


def plot_risk_coverage(
    coverage: np.ndarray, accuracy: np.ndarray, target: float, chosen: tuple[float, float | None], title: str, out: Path
) -> str:
    """Accuracy of the lines coded automatically against their share, the target line and the chosen point."""
    plt = _pyplot()
    with plt.rc_context({"font.family": hangul_font()}):
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.plot(coverage, accuracy, color="tab:blue", label="자동 처리 정확도 (accuracy of auto lines)")
        ax.axhline(target, color="tab:red", linestyle="--", label=f"목표 target {target:.0%}")
        if chosen[1] is not None and chosen[0] > 0:
            ax.plot([chosen[0]], [chosen[1]], "o", color="tab:red", label=f"선택 chosen: {chosen[0]:.0%} 자동")
        ax.set_xlim(0, 1)
        ax.set_ylim(max(0.0, float(np.min(accuracy, initial=1.0)) - 0.05), 1.005)
        return _finish(plt, fig, ax, ("자동 처리 비율 coverage", "정확도 accuracy", title), "lower left", out)
