"""The risk-coverage table of the eval-metrics artifact: one column per calibrated model, test accuracy of the most
confident lines at each coverage."""

from tasks.evaluate import calibration_markdown, risk_coverage_markdown
from tests.test_evaluate import _calibration, _report


def _curve(*accuracies: float) -> list[dict]:
    levels = [0.5, 0.9, 1.0][: len(accuracies)]
    return [{"coverage": c, "threshold": 1 - c / 2, "accuracy": a} for c, a in zip(levels, accuracies, strict=True)]


def test_one_row_per_coverage_one_column_per_model():
    # given a baseline and an LLM with their test risk-coverage points
    baseline = _report("baseline", 0.9, 0.9, 0.8, calibration=_calibration(0.9).model_copy(
        update={"risk_coverage": _curve(0.995, 0.97, 0.93)}))  # fmt: skip
    llm = _report("llm", 0.8, 0.8, 0.6, calibration=_calibration(0.95).model_copy(
        update={"risk_coverage": _curve(0.97, 0.88)}))  # fmt: skip
    # when rendered
    lines = risk_coverage_markdown([baseline, llm])
    # then each coverage level is a row and a model without that point shows a dash
    assert "| coverage | baseline | llm |" in lines
    assert "| 50% | 99.5% | 97.0% |" in lines and "| 90% | 97.0% | 88.0% |" in lines
    assert "| 100% | 93.0% | - |" in lines
    # and the table is part of the calibration section
    assert "| 50% | 99.5% | 97.0% |" in calibration_markdown([baseline, llm]).splitlines()


def test_no_curve_no_table():
    # given a calibrated model without test points (no test split)
    # then no table is rendered
    assert risk_coverage_markdown([_report("llm", 0.8, 0.8, 0.6, calibration=_calibration(0.95))]) == []
