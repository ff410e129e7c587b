"""Evaluation reports: metrics as sklearn computes them, real classes only, plots in the bundled Hangul font,
markdown (metrics, model choice, calibration, per-class tables) and artifacts."""

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

import tasks.evaluate as evaluation
from contracts.calibration import Calibration, SplitFigures
from contracts.label_map import LabelMap, LabelSlot
from contracts.predictions import TEST_PREDICTIONS_FILE
from scoring.choice import Candidate, ModelChoice
from scoring.fonts import hangul_font
from tasks.evaluate import (
    EvalReport,
    build_report,
    calibration_markdown,
    evaluate_training,
    metrics_markdown,
    per_class_markdown,
    per_class_table,
    publish_eval_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Three real accounts in slots 0, 2, 5 of an 8-slot head; slots 1, 3, 4, 6, 7 are unused (dummy) slots.
LABEL_MAP = LabelMap(
    num_slots=8,
    dummy_prefix="__unused_",
    labels=[
        LabelSlot(id=0, code="811", name="복리후생비"),
        LabelSlot(id=2, code="830", name="소모품비"),
        LabelSlot(id=5, code="814", name="통신비"),
    ],
)
Y_TRUE = np.array([0, 0, 0, 0, 2, 2, 2, 5, 5, 0])
Y_PRED = np.array([0, 0, 2, 0, 2, 2, 3, 5, 0, 7])  # slots 3 and 7 are dummy slots: the model predicted them anyway


def test_per_class_report_has_real_classes_only_by_support():
    # given predictions that include two unused (dummy) slots
    # when the per-class table is built
    table = per_class_table(Y_TRUE, Y_PRED, LABEL_MAP)
    # then only the three real accounts appear, most frequent first, with names from the label map
    assert table["code"].tolist() == ["811", "830", "814"]
    assert table["name"].tolist() == ["복리후생비", "소모품비", "통신비"]
    assert table["support"].tolist() == [5, 3, 2]
    # and the dummy predictions still count against the true class's recall
    row = table.set_index("code").loc["830"]
    assert row["recall"] == pytest.approx(2 / 3) and row["precision"] == pytest.approx(2 / 3)


def test_metrics_equal_sklearn_and_csv_excludes_dummies(tmp_path):
    # when a report is built
    report = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path / "r", "llm")
    # then the metrics are sklearn's (macro over the labels seen, as the trainer computes it)
    assert report.metrics["accuracy"] == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))
    assert report.metrics["f1_weighted"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="weighted"))
    assert report.metrics["f1_macro"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))
    assert report.metrics["n_test"] == len(Y_TRUE)
    # and the CSV (BOM for Excel) lists the real classes only, with Hangul names intact
    raw = Path(report.per_class_csv).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(report.per_class_csv, encoding="utf-8-sig", dtype={"code": str})
    assert table["code"].tolist() == ["811", "830", "814"]
    assert list(table.columns) == ["code", "name", "precision", "recall", "f1", "support"]
    assert "__unused_" not in raw.decode("utf-8-sig")
    assert Path(report.per_class_csv).parent == Path(report.report_dir) == tmp_path / "r"


def _tick_labels(monkeypatch) -> list:
    """Record the axes each plot makes, so their tick labels can be read after the figures are closed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made, subplots = [], plt.subplots

    def recording(*args, **kwargs):
        fig, ax = subplots(*args, **kwargs)
        made.append(ax)
        return fig, ax

    monkeypatch.setattr(plt, "subplots", recording)
    return made


def _assert_png(path: str) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1024, path


def _glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_plots_name_accounts_by_code_and_name_in_the_bundled_hangul_font(tmp_path, monkeypatch):
    # given a report to plot, with Korean account names and Korean axis titles
    axes = _tick_labels(monkeypatch)
    # when it is built, every warning recorded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path, "llm", top_n=2)
    # then both plots are real, non-trivial PNG files
    _assert_png(report.confusion_png)
    _assert_png(report.f1_png)
    assert Path(report.confusion_png).parent == Path(report.f1_png).parent == tmp_path
    # and the axes name the top_n classes as "code name", whatever fonts the host has
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["811 복리후생비", "830 소모품비"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["811 복리후생비", "830 소모품비"]
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["830 소모품비", "811 복리후생비"]  # barh: bottom up
    # and they are drawn in the font koreanize-matplotlib ships, with no glyph missing anywhere
    bundled = hangul_font()
    assert {t.get_fontname() for ax in axes for t in ax.get_yticklabels()} == {bundled}
    assert axes[0].xaxis.label.get_fontname() == bundled
    assert _glyph_warnings(caught) == []


def test_an_account_named_by_its_code_is_labelled_once(tmp_path, monkeypatch):
    # given an account whose name is its code (a ledger without an account-name column)
    label_map = LABEL_MAP.model_copy(
        update={"labels": [*LABEL_MAP.labels[:2], LabelSlot(id=5, code="814", name="814")]}
    )
    axes = _tick_labels(monkeypatch)
    # when plotted with every class shown
    build_report(Y_TRUE, Y_PRED, label_map, tmp_path, "llm", top_n=3)
    # then it reads "814", not "814 814", beside the named ones
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["811 복리후생비", "830 소모품비", "814"]


def test_plotting_does_not_change_the_global_font(tmp_path):
    # given matplotlib's font family before a report
    import matplotlib

    before = list(matplotlib.rcParams["font.family"])
    # when a report is plotted, then the Hangul font was used inside the plot only
    build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path, "llm", top_n=2)
    assert list(matplotlib.rcParams["font.family"]) == before


def _report(name: str, accuracy: float, f1w: float, f1m: float, folder: str = "/r", **extra) -> EvalReport:
    metrics = {"accuracy": accuracy, "f1_weighted": f1w, "f1_macro": f1m, "n_test": 1200.0}
    return EvalReport(
        name=name,
        metrics=metrics,
        per_class_csv=f"{folder}/{name}/per_class.csv",
        confusion_png=f"{folder}/{name}/c.png",
        f1_png=f"{folder}/{name}/f.png",
        report_dir=f"{folder}/{name}",
        **extra,
    )


def _figures(coverage: float, auto_accuracy: float | None, f1_macro: float = 0.8) -> SplitFigures:
    return SplitFigures(
        rows=100, accuracy=0.9, f1_macro=f1_macro, ece_before=0.1, ece_after=0.02, coverage=coverage,
        auto_accuracy=auto_accuracy, auto_lines=round(100 * coverage),
    )  # fmt: skip


def _calibration(threshold: float, plots: dict | None = None) -> Calibration:
    return Calibration(
        model="baseline", temperature=1.5, target_accuracy=0.98, threshold=threshold,
        valid=_figures(0.6, 0.985), test=_figures(0.55, 0.981), plots=plots or {},
    )  # fmt: skip


def test_markdown_puts_models_side_by_side():
    # given a baseline and an LLM report
    reports = [_report("baseline", 0.91234, 0.9, 0.8), _report("llm", 0.95, 0.94, 0.85)]
    # when rendered
    text = metrics_markdown(reports)
    lines = text.splitlines()
    # then one column per model and one row per metric, 4 decimals, the test rows with thousands separators
    assert lines[:2] == ["| metric | baseline | llm |", "|---|---|---|"]
    assert "| accuracy | 0.9123 | 0.9500 |" in lines
    assert "| F1 weighted | 0.9000 | 0.9400 |" in lines
    assert "| F1 macro | 0.8000 | 0.8500 |" in lines
    assert "| test rows | 1,200 | 1,200 |" in lines
    # and each model's files are named by their folder, one line a model (not a path per file)
    assert "- llm: per-class CSV, confusion matrix and F1 chart in `/r/llm`" in lines


def test_calibration_table_has_one_row_per_calibrated_model():
    # given a calibrated baseline, an LLM whose valid split never reached the target, and an uncalibrated probe
    reports = [
        _report("baseline", 0.9, 0.9, 0.8, calibration=_calibration(0.9, {"reliability": "/r/b/reliability.png"})),
        _report("llm", 0.95, 0.94, 0.85, calibration=_calibration(1.5)),
        _report("probe", 0.7, 0.7, 0.6),
    ]
    # when rendered
    lines = calibration_markdown(reports).splitlines()
    # then the target heads the section, each calibrated model has its figures, the probe none
    assert lines[0] == "## Calibration and automatic coding (target accuracy 98%)"
    assert "| baseline | 1.5 | 0.100 -> 0.020 | p >= 0.900 | 60.0% | 55.0% | 98.1% |" in lines
    assert any(line.startswith("| llm |") and "none (every line to review)" in line for line in lines)
    assert not any(line.startswith("| probe") for line in lines)
    assert "- baseline: 1 plots (reliability) in `/r/b`" in lines
    # and with no calibrated model there is no section at all
    assert calibration_markdown([_report("probe", 0.7, 0.7, 0.6)]) == ""


def test_per_class_markdown_shows_the_most_frequent_accounts(tmp_path):
    # given a per-class CSV as build_report writes it (three accounts)
    report = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path / "llm", "llm", top_n=2)
    # when two rows are shown
    lines = per_class_markdown(report, shown=2).splitlines()
    # then the header says how many of how many, and the rows are code, name, support, precision, recall, F1
    assert lines[0] == "### llm: per-class (test, 2 of 3 accounts by support)"
    assert lines[2] == "| code | name | support | precision | recall | F1 |"
    assert lines[4].startswith("| 811 | 복리후생비 | 5 | ") and lines[5].startswith("| 830 | 소모품비 | 3 | ")
    assert len(lines) == 6  # 814 is left out


def test_per_class_markdown_says_when_the_csv_is_gone():
    report = _report("llm", 0.95, 0.94, 0.85, folder="/no/such/folder")
    assert per_class_markdown(report) == (
        "### llm: per-class table missing (`/no/such/folder/llm/per_class.csv` is gone)"
    )


def _record_artifacts(monkeypatch) -> dict:
    calls = {}
    monkeypatch.setattr(evaluation, "create_markdown_artifact", lambda **kw: calls.setdefault("markdown", kw))
    monkeypatch.setattr(evaluation, "create_table_artifact", lambda **kw: calls.setdefault("table", kw))
    return calls


def test_publish_creates_both_artifacts(tmp_path, monkeypatch):
    # given the artifact functions recorded instead of sent to an API, a baseline with its per-class CSV on disk
    # and calibration, and an LLM report whose CSV is gone
    calls = _record_artifacts(monkeypatch)
    baseline = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path / "baseline", "baseline", top_n=2)
    baseline = baseline.model_copy(update={"calibration": _calibration(0.9), "model_dir": str(tmp_path / "b")})
    llm = _report("llm", 0.95, 0.94, 0.85, folder=str(tmp_path / "gone"))
    candidates = [
        Candidate(name=n, model_dir=f"/m/{n}", valid_f1_macro=0.8, valid_coverage=c, test_coverage=None,
                  test_auto_accuracy=None, test_f1_macro=None)
        for n, c in (("baseline", 0.6), ("llm", 0.3))
    ]  # fmt: skip
    choice = ModelChoice(
        chosen="baseline", model_dir=str(tmp_path / "b"), reason="baseline codes more", confirmed_on_test=None,
        candidates=candidates,
    )  # fmt: skip
    # when published with the choice
    publish_eval_report([baseline, llm], choice)
    # then the markdown has, in order: metrics side by side, the model to deploy, calibration, per-class tables
    text = calls["markdown"]["markdown"]
    assert calls["markdown"]["key"] == "eval-metrics"
    order = [
        "# Evaluation (test split)",
        "| metric | baseline | llm |",
        "## Model to deploy: **baseline**",
        f"account-tax predict --model {tmp_path / 'b'} ",
        "## Calibration and automatic coding",
        "| baseline | 1.5 |",
        "### baseline: per-class (test, 3 of 3 accounts by support)",
        "| 811 | 복리후생비 | 5 |",
        "### llm: per-class table missing",
    ]
    positions = [text.find(part) for part in order]
    assert -1 not in positions and positions == sorted(positions), dict(zip(order, positions, strict=True))
    # and the comparison table has a row per model
    assert calls["table"]["key"] == "baseline-vs-llm"
    table = calls["table"]["table"]
    assert [row["model"] for row in table] == ["baseline", "llm"] and table[1]["accuracy"] == 0.95


def test_publish_without_choice_or_calibration_has_neither_section(tmp_path, monkeypatch):
    # given two uncalibrated reports and no choice
    calls = _record_artifacts(monkeypatch)
    reports = [_report("baseline", 0.9, 0.9, 0.8, folder=str(tmp_path)), _report("llm", 0.95, 0.94, 0.85)]
    # when published, then only the metrics and the (missing) per-class lines are there
    publish_eval_report(reports)
    text = calls["markdown"]["markdown"]
    assert "| metric | baseline | llm |" in text
    assert "Model to deploy" not in text and "Calibration" not in text
    assert text.count("per-class table missing") == 2


def test_evaluate_training_carries_calibration_and_points_at_the_run(tmp_path, monkeypatch):
    # given a run's final/ with its label map and test predictions
    final = tmp_path / "run" / "final"
    final.mkdir(parents=True)
    (final / "label_map.json").write_text(LABEL_MAP.model_dump_json(), encoding="utf-8")
    frame = pd.DataFrame({"label": Y_TRUE, "pred": Y_PRED, "prob": np.full(len(Y_TRUE), 0.9)})
    frame.to_parquet(final / TEST_PREDICTIONS_FILE, index=False)
    monkeypatch.setattr(evaluation, "get_run_logger", lambda: logging.getLogger("test"))
    calibration = _calibration(0.9)
    # when evaluated with its calibration
    report = evaluate_training.fn(str(final), calibration=calibration)
    # then the report carries it, predict can take the run folder, and the reports are beside final/
    assert report.calibration == calibration
    assert report.model_dir == str(tmp_path / "run")
    assert Path(report.report_dir) == tmp_path / "run" / "reports"
    assert report.metrics["accuracy"] == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))


def test_each_flow_publishes_its_own_report_key_once(tmp_path, monkeypatch):
    # given the artifact calls recorded, and the reports of a training subflow and of its pipeline
    calls = []
    for kind in ("markdown", "table"):
        monkeypatch.setattr(evaluation, f"create_{kind}_artifact", lambda kind=kind, **kw: calls.append(kw["key"]))
    llm = _report("llm", 0.95, 0.94, 0.85, folder=str(tmp_path))
    baseline = _report("baseline", 0.9, 0.9, 0.8, folder=str(tmp_path))
    # when the training subflow publishes its model, then the pipeline both models and the decision
    publish_eval_report([llm], scope="training")
    publish_eval_report([baseline, llm])
    # then no key is written twice: the pipeline's report is not a copy overwritten by (or overwriting) training's
    assert sorted(calls) == sorted(["training-eval", "training-metrics", "eval-metrics", "baseline-vs-llm"])


def test_the_demo_run_holds_its_outcome(tmp_path, monkeypatch):
    from tasks.predict_output import PredictSummary

    # given the pipeline's reports, its decision and the next month's prediction
    captured = {}
    monkeypatch.setattr(evaluation, "create_markdown_artifact", lambda **kw: captured.update(kw))
    reports = [_report("baseline", 0.9, 0.9, 0.8, folder=str(tmp_path)), _report("llm", 0.95, 0.94, 0.85)]
    choice = ModelChoice(chosen="baseline", model_dir="/m/b", reason="baseline codes more", confirmed_on_test=None,
                         candidates=[])  # fmt: skip
    prediction = PredictSummary(rows_in=2000, rows_predicted=2000, rows_rejected=0, output="p.xlsx", rejects="r.csv",
                                rows_auto=1900, rows_review=100, threshold=0.9, expected_accuracy=0.99)  # fmt: skip
    # when the outcome is published on the top-level run
    evaluation.publish_outcome.fn(reports, choice, prediction)
    # then one artifact says the decision, the models side by side and the next month's auto / review
    text = captured["markdown"]
    assert captured["key"] == "outcome" and captured["description"].startswith("deploy baseline; next month: 1,900")
    parts = ("## Model to deploy: **baseline**", "| metric | baseline | llm |", "## Next month")
    parts += ("| 자동 (auto) | 1,900 |",)
    assert all(part in text for part in parts), text
