"""Evaluation reports shared by the LLM and the baseline: metrics, per-class table, plots, UI artifacts."""

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel

from contracts.calibration import Calibration
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.predictions import TEST_PREDICTIONS_FILE, read_test_predictions
from contracts.run_folder import RunFolder
from ledger.frames import OutputPath
from ledger.work_store import on_store
from monitor.learning import learning_verdict
from monitor.rejections import flagged, warnings_markdown
from monitor.terminal import SAID_AGAIN
from scoring.choice import ModelChoice
from scoring.fonts import hangul_font

PER_CLASS_SHOWN = 30  # rows of each model's per-class table in the UI artifact (the CSV has them all)


class EvalReport(BaseModel):
    name: str
    metrics: dict[str, float]
    per_class_csv: OutputPath
    confusion_png: OutputPath
    f1_png: OutputPath
    report_dir: str
    verdict: str = ""  # did it learn, in words (monitor/learning.py)
    learned: bool | None = None
    calibration: Calibration | None = None  # temperature, auto / review threshold and their figures
    model_dir: str | None = None  # what `predict --model` takes for this model (None: not usable on its own)


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

    top = table.head(top_n)
    names = [f"{c} {n}" if n != c else str(c) for c, n in zip(top["code"], top["name"], strict=True)]
    with plt.rc_context({"font.family": hangul_font()}):
        matrix = confusion_matrix(y_true, y_pred, labels=top["id"].tolist()).astype(float)
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1 + 0.45 * len(top), 1 + 0.45 * len(top)))
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(top)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(top)), names, fontsize=7)
        ax.set_xlabel("예측 계정 (predicted)")
        ax.set_ylabel("실제 계정 (true)")
        ax.set_title(f"혼동 행렬 confusion matrix: 빈도 상위 {len(top)}개 계정 (row-normalised)")
        fig.tight_layout()
        confusion = out / "confusion_matrix.png"
        fig.savefig(confusion, dpi=120)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7, 1 + 0.3 * len(top)))
        ax.barh(names[::-1], top["f1"].to_numpy()[::-1], color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        ax.set_title("계정별 F1 per-class (most frequent accounts)")
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
@on_store
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
@on_store
def evaluate_training(
    final_dir: str, probe: EvalReport | None = None, calibration: Calibration | None = None
) -> EvalReport:
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
    (logger.info if report.learned else logger.warning)("%s", report.verdict, extra=SAID_AGAIN)
    return report.model_copy(update={"calibration": calibration, "model_dir": str(Path(final_dir).parent)})


def metrics_markdown(reports: list[EvalReport]) -> str:
    """Side by side: one column per model."""
    head = "| metric | " + " | ".join(r.name for r in reports) + " |"
    lines = [head, "|---" * (len(reports) + 1) + "|"]
    for key, label in (("accuracy", "accuracy"), ("f1_weighted", "F1 weighted"), ("f1_macro", "F1 macro")):
        lines.append(f"| {label} | " + " | ".join(f"{r.metrics[key]:.4f}" for r in reports) + " |")
    if all("n_test" in r.metrics for r in reports):
        lines.append("| test rows | " + " | ".join(f"{r.metrics['n_test']:,.0f}" for r in reports) + " |")
    lines += ["", *[f"- {r.verdict}" for r in reports if r.verdict and r.name != "baseline"]]
    # one line per model: the files are in its report folder (and in the MLflow run's reports/), not a path each
    lines += ["", *[f"- {r.name}: per-class CSV, confusion matrix and F1 chart in `{r.report_dir}`" for r in reports]]
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def calibration_markdown(reports: list[EvalReport]) -> str:
    """Temperature, ECE before / after, threshold, coverage and accuracy of the auto lines, per calibrated model."""
    calibrated = [r for r in reports if r.calibration is not None]
    if not calibrated:
        return ""
    lines = [
        "| model | temperature | test ECE before -> after | auto threshold | valid coverage | test coverage "
        "| test accuracy of auto lines |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in calibrated:
        c = r.calibration
        ece = f"{c.test.ece_before:.3f} -> {c.test.ece_after:.3f}" if c.test else "-"
        threshold = f"p >= {c.threshold:.3f}" if c.automates else "none (every line to review)"
        lines.append(
            f"| {r.name} | {c.temperature:.3g} | {ece} | {threshold} | {_share(c.valid.coverage if c.valid else None)} "
            f"| {_share(c.test.coverage if c.test else None)} | {_share(c.test.auto_accuracy if c.test else None)} |"
        )
    target = calibrated[0].calibration.target_accuracy
    plots = [
        f"- {r.name}: {len(r.calibration.plots)} plots ({', '.join(r.calibration.plots)}) in "
        f"`{Path(next(iter(r.calibration.plots.values()))).parent}`"
        for r in calibrated
        if r.calibration.plots
    ]
    heading = f"## Calibration and automatic coding (target accuracy {target:.0%})"
    return "\n".join([heading, "", *lines, "", *risk_coverage_markdown(calibrated), "", *plots])


def risk_coverage_markdown(calibrated: list[EvalReport]) -> list[str]:
    """Test accuracy of the most confident lines at each coverage, one column per model."""
    curves = {r.name: {round(p["coverage"], 1): p["accuracy"] for p in r.calibration.risk_coverage} for r in calibrated}
    levels = sorted({level for curve in curves.values() for level in curve})
    if not levels:
        return []
    lines = ["Risk-coverage (test): accuracy of the most confident lines", ""]
    lines += ["| coverage | " + " | ".join(curves) + " |", "|---" * (len(curves) + 1) + "|"]
    for level in levels:
        cells = [_share(curve.get(level)) for curve in curves.values()]
        lines.append(f"| {level:.0%} | " + " | ".join(cells) + " |")
    return lines


def per_class_markdown(report: EvalReport, shown: int = PER_CLASS_SHOWN) -> str:
    """The most frequent accounts of one model: code, name, support, precision, recall, F1."""
    if not Path(report.per_class_csv).exists():
        return f"### {report.name}: per-class table missing (`{report.per_class_csv}` is gone)"
    table = pd.read_csv(report.per_class_csv, encoding="utf-8-sig", dtype={"code": str})
    lines = [f"### {report.name}: per-class (test, {min(shown, len(table))} of {len(table)} accounts by support)", ""]
    lines += ["| code | name | support | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    for row in table.head(shown).itertuples():
        lines.append(
            f"| {row.code} | {row.name} | {row.support} | {row.precision:.3f} | {row.recall:.3f} | {row.f1:.3f} |"
        )
    return "\n".join(lines)


def choice_markdown(choice: ModelChoice) -> str:
    lines = [f"## Model to deploy: **{choice.chosen}**", "", choice.reason, ""]
    lines.append(f"`account-tax predict --model {choice.model_dir} --input NEXT_MONTH.xlsx --out predictions.xlsx`")
    return "\n".join(lines)


def _shown(key: str, value: float) -> str | float:
    """A count with thousands separators (n_test), a score to 4 decimals."""
    return f"{value:,.0f}" if key.startswith("n_") else round(value, 4)


# one key per report: the pipeline's (every model and the decision) is not overwritten by its training subflow's
REPORT_KEYS = {
    "pipeline": ("eval-metrics", "baseline-vs-llm"),
    "training": ("training-eval", "training-metrics"),
    "baseline": ("baseline-eval", "baseline-metrics"),
}


def publish_eval_report(
    reports: list[EvalReport], choice: ModelChoice | None = None, scope: str = "pipeline", warnings: list[str] = ()
) -> None:
    """Evaluation in the Prefect UI: metrics side by side, calibration and coverage, the model to deploy, and each
    model's per-class table (markdown); the metrics table. `scope`: which flow's report (REPORT_KEYS); `warnings`:
    the data's (a file mostly rejected), which the report leads with."""
    markdown_key, table_key = REPORT_KEYS[scope]
    sections = ["# Evaluation (test split)", *warnings_markdown(list(warnings)), metrics_markdown(reports)]
    sections += [choice_markdown(choice)] if choice else []
    sections += [calibration_markdown(reports), *[per_class_markdown(r) for r in reports]]
    names = " vs ".join(r.name for r in reports)
    decided = f"; deploy {choice.chosen}" if choice else ""
    description = flagged(f"{names}, test split{decided}", list(warnings))
    create_markdown_artifact(key=markdown_key, markdown="\n\n".join(s for s in sections if s), description=description)
    rows = [{"model": r.name, **{k: _shown(k, v) for k, v in r.metrics.items()}} for r in reports]
    rows_tested = ", ".join(f"{r.name} {r.metrics['n_test']:,.0f}" for r in reports if "n_test" in r.metrics)
    description = "test-split metrics" + (f" (rows: {rows_tested})" if rows_tested else "")
    create_table_artifact(key=table_key, table=rows, description=description)


@task
def publish_outcome(
    reports: list[EvalReport], choice: ModelChoice | None, prediction=None, warnings: list[str] = ()
) -> None:
    """The top-level run's own report (the demo's): the data's warnings first (a file mostly rejected), the model
    to deploy, the models side by side and, when it predicted, the next month's auto / review (a
    tasks.predict_output.PredictSummary), on its run's page."""
    from tasks.predict_output import summary_markdown

    reports = [r for r in reports if r is not None]
    decided = choice_markdown(choice) if choice else "## Model to deploy: none (no model reached the target)"
    sections = ["# Outcome", *warnings_markdown(list(warnings)), decided, "## Models (test split)"]
    sections.append(metrics_markdown(reports))
    sections.append(calibration_markdown(reports))
    if prediction is not None:
        sections.append(summary_markdown(prediction).replace("# Prediction", "## Next month", 1))
    description = f"deploy {choice.chosen}" if choice else "no model to deploy"
    description += f"; next month: {prediction.headline()}" if prediction is not None else ""
    description = flagged(description, list(warnings))
    create_markdown_artifact(key="outcome", markdown="\n\n".join(s for s in sections if s), description=description)
