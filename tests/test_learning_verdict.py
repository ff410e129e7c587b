"""Did a model learn? The verdict in words (monitor/learning.py) and where it surfaces (tasks/evaluate.py)."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from monitor.learning import (
    BARELY,
    CONSTANT_SHARE,
    MARGIN,
    Verdict,
    learning_verdict,
    macro_f1_noise,
    majority_floor,
)
from tasks.evaluate import EvalReport, build_report, metrics_markdown
from tests.test_evaluate import LABEL_MAP, Y_PRED, Y_TRUE
from tests.test_evaluate import _report as evaluation_report

# 40 test rows, four accounts of 10 rows each: the majority floor is 25% accuracy.
BALANCED = np.repeat([0, 1, 2, 3], 10)


def scores(y_true, y_pred) -> dict[str, float]:
    """The metrics build_report computes, for feeding learning_verdict directly."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def good_predictions() -> np.ndarray:
    """36 of 40 right: one row of each account given the next account's slot."""
    pred = BALANCED.copy()
    pred[[0, 10, 20, 30]] = [1, 2, 3, 0]
    return pred


def test_majority_floor_is_always_answering_the_most_frequent_account():
    # given three rows of account 0 and one each of accounts 1 and 2
    y_true = np.array([0, 1, 0, 2, 0])
    # when the floor is computed
    accuracy, macro = majority_floor(y_true)
    # then accuracy is the majority share, and macro-F1 is account 0's F1 (0.75) averaged over three accounts
    assert accuracy == pytest.approx(0.6)
    assert macro == pytest.approx(0.75 / 3)


def test_constant_predictions_did_not_learn_and_say_the_share():
    # given a model that answers slot 2 for every one of 40 varied rows (it happens to be right on 10)
    y_pred = np.full(40, 2)
    # when judged
    verdict = learning_verdict("llm", BALANCED, y_pred, scores(BALANCED, y_pred), probe=None)
    # then it did not learn, and the words name the model, the share and the slot
    assert isinstance(verdict, Verdict) and verdict.learned is False
    assert verdict.text.startswith("llm did NOT learn")
    assert "100% of the test rows the same label slot (2)" in verdict.text


def test_nearly_constant_predictions_on_varied_truth_did_not_learn():
    # given 39 of 40 rows given slot 0 (97.5% >= CONSTANT_SHARE) where no account has more than 25% of the truth
    y_pred = np.zeros(40, dtype=int)
    y_pred[10] = 1
    assert (y_pred == 0).mean() >= CONSTANT_SHARE
    # when judged
    verdict = learning_verdict("llm", BALANCED, y_pred, scores(BALANCED, y_pred), probe=None)
    # then it is called constant, with the share rounded to a whole percent
    assert verdict.learned is False
    assert "did NOT learn" in verdict.text and "98% of the test rows the same label slot (0)" in verdict.text


def test_predictions_within_margin_of_the_majority_class_did_not_learn():
    # given 100 rows, 60 of account 0, and varied predictions that are right on 61 of them (majority floor 0.60)
    y_true = np.array([0] * 60 + [1] * 20 + [2] * 20)
    y_pred = np.array([0] * 50 + [1] * 10 + [1] * 10 + [2] * 10 + [2] * 1 + [0] * 19)
    metrics = scores(y_true, y_pred)
    assert metrics["accuracy"] == pytest.approx(0.61) and len(np.unique(y_pred)) == 3
    # when judged
    verdict = learning_verdict("llm", y_true, y_pred, metrics, probe=None)
    # then it is no better than always answering account 0, said with both numbers
    assert verdict.learned is False
    assert "did NOT learn" in verdict.text
    assert "accuracy 0.610 is no better than always answering the most frequent account (0.600)" in verdict.text


def test_a_small_gain_over_the_majority_class_is_barely_learned():
    # given 100 rows, 60 of account 0, and predictions right on 65 (5 points over the majority floor)
    y_true = np.array([0] * 60 + [1] * 20 + [2] * 20)
    y_pred = np.array([0] * 55 + [1] * 5 + [1] * 5 + [0] * 15 + [2] * 5 + [0] * 15)
    metrics = scores(y_true, y_pred)
    assert MARGIN < metrics["accuracy"] - 0.60 < BARELY
    # when judged
    verdict = learning_verdict("llm", y_true, y_pred, metrics, probe=None)
    # then it is not counted as learned, and the words say so with the floor
    assert verdict.learned is False and "barely learned" in verdict.text
    assert "majority-class accuracy 0.600" in verdict.text


def test_macro_f1_below_the_probe_by_more_than_the_margin_did_not_learn():
    # given a good model on a test split large enough that its macro-F1 barely moves by chance (4,000 rows),
    # and a linear probe whose macro-F1 is more than MARGIN above it
    y_true, y_pred = np.tile(BALANCED, 100), np.tile(good_predictions(), 100)
    metrics = scores(y_true, y_pred)
    probe = {"accuracy": 0.95, "f1_macro": metrics["f1_macro"] + MARGIN + 0.01}
    assert 2 * macro_f1_noise(y_true, y_pred) < MARGIN
    # when judged against that probe
    verdict = learning_verdict("llm", y_true, y_pred, metrics, probe)
    # then fine-tuning made it worse than where it started, with both macro-F1s and the floor in the words
    assert verdict.learned is False
    assert verdict.text.startswith("llm fell below its starting linear probe")
    assert f"macro-F1 {metrics['f1_macro']:.3f} < {probe['f1_macro']:.3f}" in verdict.text
    assert "majority-class accuracy 0.250" in verdict.text


def test_macro_f1_within_the_margin_below_the_probe_still_learned():
    # given a probe only half a MARGIN above the model's macro-F1
    y_pred = good_predictions()
    metrics = scores(BALANCED, y_pred)
    probe = {"accuracy": 0.9, "f1_macro": metrics["f1_macro"] + MARGIN / 2}
    # when judged, then that is noise, not "below the probe"
    assert learning_verdict("llm", BALANCED, y_pred, metrics, probe).learned is True


def test_a_drop_below_the_probe_within_the_test_splits_noise_is_not_a_fall():
    # given the same model on 40 test rows, where macro-F1 moves by several points by chance alone,
    # and a probe more than MARGIN but less than two standard errors above it
    y_pred = good_predictions()
    metrics = scores(BALANCED, y_pred)
    noise = 2 * macro_f1_noise(BALANCED, y_pred)
    assert noise > MARGIN + 0.02
    probe = {"accuracy": 0.95, "f1_macro": metrics["f1_macro"] + MARGIN + 0.01}
    # when judged, then it learned, and the words say it is below the probe within the noise
    verdict = learning_verdict("llm", BALANCED, y_pred, metrics, probe)
    assert verdict.learned is True
    assert f"below it by less than the test split's noise of +/-{noise:.3f}" in verdict.text


def test_a_good_model_learned_and_says_accuracy_macro_f1_floor_and_probe():
    # given 36 of 40 right on four balanced accounts, and a probe below it
    y_pred = good_predictions()
    metrics = scores(BALANCED, y_pred)
    probe = {"accuracy": 0.5, "f1_macro": 0.4}
    # when judged
    verdict = learning_verdict("llm", BALANCED, y_pred, metrics, probe)
    # then it learned, and the words give its accuracy and macro-F1, the majority floor and the probe
    assert verdict.learned is True
    assert verdict.text.startswith("llm learned: accuracy 0.900, macro-F1 0.900")
    _, floor_macro = majority_floor(BALANCED)
    assert f"majority-class accuracy 0.250, macro-F1 {floor_macro:.3f}" in verdict.text
    assert "probe macro-F1 0.400" in verdict.text
    assert "NOT" not in verdict.text


def test_a_good_model_without_a_probe_does_not_mention_one():
    # given a good model and no probe (head initialised at random, or the baseline)
    y_pred = good_predictions()
    # when judged
    verdict = learning_verdict("llm", BALANCED, y_pred, scores(BALANCED, y_pred), probe=None)
    # then it learned and the text has no probe clause
    assert verdict.learned is True and "probe" not in verdict.text


def test_empty_input_has_nothing_to_judge():
    # given no test rows at all
    # when judged
    verdict = learning_verdict("llm", np.array([], dtype=int), np.array([], dtype=int), {}, probe=None)
    # then it cannot be called learned, and the words say why
    assert verdict.learned is False
    assert verdict.text == "llm: no test rows, nothing to judge"


def test_build_report_fills_verdict_and_learned(tmp_path):
    # given test_evaluate's predictions: 6 of 10 right where the majority account holds 5 of 10
    # when a report is built
    report = build_report(Y_TRUE, Y_PRED, LABEL_MAP, tmp_path / "r", "llm")
    # then it carries the verdict the judge gives for the same predictions and metrics
    expected = learning_verdict("llm", Y_TRUE, Y_PRED, report.metrics, None)
    assert report.learned is expected.learned is True
    assert report.verdict == expected.text and report.verdict.startswith("llm learned: accuracy 0.600")


def test_build_report_of_constant_predictions_says_not_learned(tmp_path):
    # given a model that answers the majority account for every row
    y_pred = np.zeros_like(Y_TRUE)
    # when a report is built, with a probe it is compared to
    report = build_report(Y_TRUE, y_pred, LABEL_MAP, tmp_path / "r", "llm", probe={"f1_macro": 0.5})
    # then the report says it did not learn
    assert report.learned is False
    assert report.verdict.startswith("llm did NOT learn: it gives 100% of the test rows the same label slot (0)")


def _report(name: str, verdict: str, learned: bool | None) -> EvalReport:
    return evaluation_report(name, 0.9, 0.9, 0.8).model_copy(update={"verdict": verdict, "learned": learned})


def test_markdown_lists_verdicts_of_non_baseline_reports():
    # given a baseline, a probe and an LLM report, each with a verdict, and an old report without one
    reports = [
        _report("baseline", "baseline learned: accuracy 0.900", True),
        _report("probe", "probe learned: accuracy 0.800", True),
        _report("llm", "llm did NOT learn: it gives 100% of the test rows the same label slot (0)", False),
        _report("old", "", None),
    ]
    # when rendered
    lines = metrics_markdown(reports).splitlines()
    # then the probe's and the LLM's verdicts are bullet lines, the baseline's and the empty one are not
    assert "- probe learned: accuracy 0.800" in lines
    assert "- llm did NOT learn: it gives 100% of the test rows the same label slot (0)" in lines
    assert not any("baseline learned" in line for line in lines)
    assert "- " not in lines
    # and the verdicts come after the metric table, before the file list
    verdict_at = lines.index("- probe learned: accuracy 0.800")
    assert verdict_at > max(i for i, line in enumerate(lines) if line.startswith("|"))
    assert verdict_at < next(i for i, line in enumerate(lines) if line.startswith("- baseline: per-class CSV"))


def test_accuracy_below_the_probe_beyond_noise_is_a_fall_even_when_macro_f1_is_not():
    # given the demo's case: 2,000 test rows, accuracy 0.745 against a probe at 0.780, macro-F1 level with it
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 2000)
    y_pred = np.where(rng.random(2000) < 0.745, y_true, (y_true + 1) % 4)
    metrics = scores(y_true, y_pred)
    probe = {"accuracy": metrics["accuracy"] + 0.035, "f1_macro": metrics["f1_macro"]}
    # when judged against that probe
    verdict = learning_verdict("llm", y_true, y_pred, metrics, probe)
    # then it fell below its probe, by accuracy, and says so
    assert verdict.learned is False
    assert verdict.text.startswith("llm fell below its starting linear probe: accuracy")
