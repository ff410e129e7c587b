"""Evaluation reports shared by the LLM and the baseline: metrics, per-class table, plots, UI artifacts."""

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel

from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.predictions import TEST_PREDICTIONS_FILE, read_test_predictions
from contracts.run_folder import RunFolder
from ledger.frames import OutputPath
from monitor.learning import learning_verdict

HANGUL_FONT_HINTS = ("cjk", "nanum", "noto sans kr", "undotum", "unbatang", "malgun", "applegothic", "baekmuk")


class EvalReport(BaseModel):
    name: str
    metrics: dict[str, float]
    per_class_csv: OutputPath
    confusion_png: OutputPath
    f1_png: OutputPath
    report_dir: str
    verdict: str = ""  # did it learn, in words (monitor/learning.py)
    learned: bool | None = None


def hangul_font() -> str | None:
    """A font family that renders Hangul, if one is installed (else plots show codes: never tofu boxes)."""
    from matplotlib import font_manager

    for font in font_manager.fontManager.ttflist:
        if any(hint in font.name.lower() or hint in font.fname.lower() for hint in HANGUL_FONT_HINTS):
            return font.name
    return None


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, label_map: LabelMap) -> pd.DataFrame:
    """Precision, recall, F1 and support of every real class (unused slots never appear)."""
    from sklearn.metrics import precision_recall_fscore_support  # scikit-learn imports in seconds: only when used

    slots = sorted(label_map.labels, key=lambda s: s.id)
    ids = [s.id for s in slots]
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    table = pd.DataFrame(
        {
            "code": [s.code for s in slots],
            "name": [s.name for s in slots],
            "id": ids,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )
    return table[table["support"] > 0].sort_values(["support", "code"], ascending=[False, True]).reset_index(drop=True)


def plot_reports(table: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, out: Path, top_n: int) -> tuple[str, str]:
    """Confusion matrix of the most frequent classes and a per-class F1 chart, as PNG."""
    import matplotlib
    from sklearn.metrics import confusion_matrix

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = hangul_font()
    top = table.head(top_n)
    names = [f"{c} {n}" if font else str(c) for c, n in zip(top["code"], top["name"], strict=True)]
    with plt.rc_context({"font.family": font} if font else {}):
        matrix = confusion_matrix(y_true, y_pred, labels=top["id"].tolist()).astype(float)
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1 + 0.45 * len(top), 1 + 0.45 * len(top)))
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(top)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(top)), names, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"confusion matrix, {len(top)} most frequent accounts (row-normalised)")
        fig.tight_layout()
        confusion = out / "confusion_matrix.png"
        fig.savefig(confusion, dpi=120)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7, 1 + 0.3 * len(top)))
        ax.barh(names[::-1], top["f1"].to_numpy()[::-1], color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        ax.set_title("per-class F1 (most frequent accounts)")
        fig.tight_layout()
        f1_chart = out / "per_class_f1.png"
        fig.savefig(f1_chart, dpi=120)
        plt.close(fig)
    return str(confusion), str(f1_chart)


def build_report(
    y_true, y_pred, label_map: LabelMap, out_dir: str | Path, name: str, top_n: int = 20, probe: dict | None = None
) -> EvalReport:
    """Metrics, per-class CSV, plots and whether it learned (against the majority class and `probe`)."""
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "n_test": float(len(y_true)),
    }
    table = per_class_table(y_true, y_pred, label_map)
    table.drop(columns="id").to_csv(out / "per_class.csv", index=False, encoding="utf-8-sig")
    confusion, f1_chart = plot_reports(table, y_true, y_pred, out, top_n)
    verdict = learning_verdict(name, y_true, y_pred, metrics, probe)
    return EvalReport(
        verdict=verdict.text,
        learned=verdict.learned,
        name=name,
        metrics=metrics,
        per_class_csv=str(out / "per_class.csv"),
        confusion_png=confusion,
        f1_png=f1_chart,
        report_dir=str(out),
    )


@task
def evaluate_probe(run_dir: str) -> EvalReport | None:
    """The linear probe the head started from, on the same test split: a model in itself (None: no probe)."""
    folder = RunFolder(root=run_dir)
    if not folder.probe_predictions.exists():
        return None
    predictions = read_test_predictions(folder.probe_predictions)
    label_map = LabelMap.read(folder.final / LABEL_MAP_FILE)
    report = build_report(predictions["label"], predictions["pred"], label_map, folder.reports / "probe", "probe")
    return report


@task
def evaluate_training(final_dir: str, probe: EvalReport | None = None) -> EvalReport:
    """Per-class report and plots from the test predictions the training program saved; did it learn?"""
    predictions = read_test_predictions(Path(final_dir) / TEST_PREDICTIONS_FILE)
    label_map = LabelMap.read(Path(final_dir) / LABEL_MAP_FILE)
    report = build_report(
        predictions["label"],
        predictions["pred"],
        label_map,
        Path(final_dir).parent / "reports",
        "llm",
        probe=probe.metrics if probe else None,
    )
    logger = get_run_logger()
    (logger.info if report.learned else logger.warning)("%s", report.verdict)
    return report


def metrics_markdown(reports: list[EvalReport]) -> str:
    """Side by side: one column per model."""
    head = "| metric | " + " | ".join(r.name for r in reports) + " |"
    lines = [head, "|---" * (len(reports) + 1) + "|"]
    for key, label in (("accuracy", "accuracy"), ("f1_weighted", "F1 weighted"), ("f1_macro", "F1 macro")):
        lines.append(f"| {label} | " + " | ".join(f"{r.metrics[key]:.4f}" for r in reports) + " |")
    if all("n_test" in r.metrics for r in reports):
        lines.append("| test rows | " + " | ".join(f"{r.metrics['n_test']:,.0f}" for r in reports) + " |")
    lines += ["", *[f"- {r.verdict}" for r in reports if r.verdict and r.name != "baseline"]]
    lines += ["", *[f"- {r.name}: `{r.per_class_csv}`, `{r.confusion_png}`, `{r.f1_png}`" for r in reports]]
    return "\n".join(lines)


def _shown(key: str, value: float) -> str | float:
    """A count with thousands separators (n_test), a score to 4 decimals."""
    return f"{value:,.0f}" if key.startswith("n_") else round(value, 4)


def publish_eval_report(reports: list[EvalReport]) -> None:
    """Evaluation summary (markdown) and the baseline-vs-LLM table in the Prefect UI."""
    create_markdown_artifact(key="eval-metrics", markdown="# Evaluation (test split)\n\n" + metrics_markdown(reports))
    rows = [{"model": r.name, **{k: _shown(k, v) for k, v in r.metrics.items()}} for r in reports]
    rows_tested = ", ".join(f"{r.name} {r.metrics['n_test']:,.0f}" for r in reports if "n_test" in r.metrics)
    description = "test-split metrics" + (f" (rows: {rows_tested})" if rows_tested else "")
    create_table_artifact(key="baseline-vs-llm", table=rows, description=description)
