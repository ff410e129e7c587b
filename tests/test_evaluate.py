"""Evaluation reports: metrics as sklearn computes them, real classes only, plots in both font branches, artifacts."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

import tasks.evaluate as evaluation
from contracts.label_map import LabelMap, LabelSlot
from tasks.evaluate import EvalReport, build_report, metrics_markdown, per_class_table, publish_eval_report

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


@pytest.mark.filterwarnings("ignore:Glyph.*missing:UserWarning")
@pytest.mark.parametrize(("font", "expected"), [(None, "811"), ("DejaVu Sans", "811 복리후생비")])
def test_plots_written_in_both_font_branches(tmp_path, monkeypatch, font, expected):
    # given a machine with (pretended) or without a font that renders Hangul
    monkeypatch.setattr(evaluation, "hangul_font", lambda: font)
    axes = _tick_labels(monkeypatch)
    # when a report is built
    report = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path, "llm", top_n=2)
    # then both plots are real, non-trivial PNG files
    _assert_png(report.confusion_png)
    _assert_png(report.f1_png)
    assert Path(report.confusion_png).parent == Path(report.f1_png).parent == tmp_path
    # and the axes name the top_n classes by code, with the Korean name only when it can be drawn
    confusion_rows = [t.get_text() for t in axes[0].get_yticklabels()]
    assert confusion_rows == [expected, "830 소모품비" if font else "830"]
    f1_rows = " ".join(t.get_text() for t in axes[1].get_yticklabels())
    assert expected in f1_rows and "814" not in f1_rows
    assert ("복리후생비" in f1_rows) is (font is not None)


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        (["DejaVu Sans", "STIXGeneral"], None),
        (["DejaVu Sans", "NanumGothic"], "NanumGothic"),
        (["Noto Sans CJK JP"], "Noto Sans CJK JP"),
    ],
)
def test_hangul_font_detected_by_name(monkeypatch, installed, expected):
    # given the fonts matplotlib knows about
    from matplotlib import font_manager

    fonts = [font_manager.FontEntry(fname=f"/fonts/{name.replace(' ', '')}.ttf", name=name) for name in installed]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fonts)
    # when the detector looks, then only a Korean/CJK font counts
    assert evaluation.hangul_font() == expected


def _report(name: str, accuracy: float, f1w: float, f1m: float) -> EvalReport:
    metrics = {"accuracy": accuracy, "f1_weighted": f1w, "f1_macro": f1m, "n_test": 100.0}
    return EvalReport(
        name=name,
        metrics=metrics,
        per_class_csv=f"/r/{name}/per_class.csv",
        confusion_png=f"/r/{name}/c.png",
        f1_png=f"/r/{name}/f.png",
        report_dir=f"/r/{name}",
    )


def test_markdown_puts_models_side_by_side():
    # given a baseline and an LLM report
    reports = [_report("baseline", 0.91234, 0.9, 0.8), _report("llm", 0.95, 0.94, 0.85)]
    # when rendered
    text = metrics_markdown(reports)
    lines = text.splitlines()
    # then one column per model and one row per metric, 4 decimals
    assert "| metric | baseline | llm |" in lines
    assert "| accuracy | 0.9123 | 0.9500 |" in lines
    assert "| F1 weighted | 0.9000 | 0.9400 |" in lines
    assert "| F1 macro | 0.8000 | 0.8500 |" in lines
    assert "/r/llm/per_class.csv" in text


def test_publish_creates_both_artifacts(monkeypatch):
    # given the artifact functions recorded instead of sent to an API
    calls = {}
    monkeypatch.setattr(evaluation, "create_markdown_artifact", lambda **kw: calls.setdefault("markdown", kw))
    monkeypatch.setattr(evaluation, "create_table_artifact", lambda **kw: calls.setdefault("table", kw))
    reports = [_report("baseline", 0.9, 0.9, 0.8), _report("llm", 0.95, 0.94, 0.85)]
    # when published
    publish_eval_report(reports)
    # then the markdown and the comparison table are there under their keys
    assert calls["markdown"]["key"] == "eval-metrics" and "| metric | baseline | llm |" in calls["markdown"]["markdown"]
    assert calls["table"]["key"] == "baseline-vs-llm"
    table = calls["table"]["table"]
    assert len(table) == 2 and "baseline" in str(table) and "llm" in str(table)
