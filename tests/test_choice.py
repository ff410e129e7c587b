"""Which model to deploy: more automatic coverage on valid at the target accuracy wins; coverages within 0.02 are a
tie that valid macro-F1 decides; the test split only confirms."""

import pytest

from contracts.calibration import Calibration, SplitFigures
from scoring.choice import COVERAGE_MARGIN, Candidate, candidate, choose_model

TARGET = 0.98


def make(
    name: str,
    coverage: float,
    f1: float,
    test_coverage: float | None = None,
    test_f1: float | None = None,
) -> Candidate:
    return Candidate(
        name=name,
        model_dir=f"/work/{name}",
        valid_f1_macro=f1,
        valid_coverage=coverage,
        test_coverage=test_coverage,
        test_auto_accuracy=None if test_coverage is None else 0.98,
        test_f1_macro=test_f1,
    )


def test_clear_coverage_winner_is_chosen_even_with_the_lower_macro_f1():
    # given a baseline that codes 60% of valid lines automatically and an LLM that codes 30%, with the better F1
    baseline, llm = make("baseline", 0.60, 0.70), make("llm", 0.30, 0.90)
    # when the choice is made
    choice = choose_model([llm, baseline], TARGET)
    # then coverage decides, and the reason gives both coverages at the target
    assert choice.chosen == "baseline" and choice.model_dir == "/work/baseline"
    assert choice.reason == "baseline codes 60.0% of valid lines automatically at 98% accuracy against 30.0% for llm"
    assert choice.candidates == [llm, baseline]  # as given, not as ranked


@pytest.mark.parametrize(
    ("f1_coverage", "other_coverage"),
    [
        (0.500, 0.505),  # the same 0.02-wide bucket
        (0.505, 0.500),
        (0.500, 0.510),  # 0.01 apart, but on either side of a bucket boundary (0.51)
        (0.500, 0.519),
    ],
)
def test_coverages_within_the_margin_are_a_tie_that_macro_f1_decides(f1_coverage, other_coverage):
    # given two models whose valid coverages are closer than the margin, one with the clearly better macro-F1
    assert abs(f1_coverage - other_coverage) < COVERAGE_MARGIN
    better, other = make("llm", f1_coverage, 0.90), make("baseline", other_coverage, 0.80)
    # when the choice is made
    choice = choose_model([other, better], TARGET)
    # then macro-F1 decides, and the reason says it was a tie on coverage
    assert choice.chosen == "llm", choice.reason
    assert "within 2%" in choice.reason and "macro-F1 on valid 0.900 vs 0.800" in choice.reason


def test_a_tie_on_coverage_and_f1_keeps_a_choice():
    # given two models with the same figures, when chosen, then one of them is, with a tie reason
    choice = choose_model([make("llm", 0.5, 0.8), make("baseline", 0.5, 0.8)], TARGET)
    assert choice.chosen in ("llm", "baseline") and "within 2%" in choice.reason


@pytest.mark.parametrize(
    ("winner_test", "other_test", "confirmed", "words"),
    [
        ((0.58, 0.70), (0.31, 0.90), True, "; the test split confirms it"),
        ((0.20, 0.70), (0.45, 0.90), False, "; the test split does not confirm it (close call)"),
        ((0.40, 0.90), (0.41, 0.70), True, "; the test split confirms it"),  # a tie on test coverage, F1 agrees
        ((None, None), (0.31, 0.90), None, None),
    ],
)
def test_the_test_split_confirms_or_not_but_never_chooses(winner_test, other_test, confirmed, words):
    # given a clear valid winner and the two models' test coverage and macro-F1
    winner = make("baseline", 0.60, 0.70, *winner_test)
    other = make("llm", 0.30, 0.90, *other_test)
    # when the choice is made
    choice = choose_model([winner, other], TARGET)
    # then valid chose; test says whether it agrees (None: a model has no test figures)
    assert choice.chosen == "baseline"
    assert choice.confirmed_on_test is confirmed
    if words:
        assert choice.reason.endswith(words)
    else:
        assert "test split" not in choice.reason


def test_a_single_candidate_is_the_only_model():
    # given only a baseline (the baseline flow, or an LLM that was not calibrated)
    only = make("baseline", 0.0, 0.5, 0.0, 0.5)
    # when chosen, then it is, with nothing to confirm against
    choice = choose_model([only], TARGET)
    assert (choice.chosen, choice.model_dir, choice.reason) == ("baseline", "/work/baseline", "the only model")
    assert choice.confirmed_on_test is None and choice.candidates == [only]


def test_candidate_takes_its_figures_from_the_calibration():
    # given a calibration with valid and test figures, and one fitted without any valid rows
    figures = {"rows": 10, "accuracy": 0.9, "ece_before": 0.1, "ece_after": 0.05, "auto_lines": 6}
    calibration = Calibration(
        model="llm", temperature=1.2, target_accuracy=TARGET, threshold=0.9,
        valid=SplitFigures(f1_macro=0.81, coverage=0.6, auto_accuracy=0.99, **figures),
        test=SplitFigures(f1_macro=0.79, coverage=0.55, auto_accuracy=0.97, **figures),
    )  # fmt: skip
    bare = Calibration(model="baseline", temperature=1.0, target_accuracy=TARGET, threshold=1.5)
    # when made candidates
    full, empty = candidate("llm", "/runs/a", calibration), candidate("baseline", "/b", bare)
    # then valid and test figures are carried; without them coverage and F1 are 0 and test is unknown
    assert (full.valid_coverage, full.valid_f1_macro) == (0.6, 0.81)
    assert (full.test_coverage, full.test_auto_accuracy, full.test_f1_macro) == (0.55, 0.97, 0.79)
    assert (empty.valid_coverage, empty.valid_f1_macro, empty.test_coverage) == (0.0, 0.0, None)
    # and a calibrated model beats one that could code nothing automatically
    assert choose_model([empty, full], TARGET).chosen == "llm"
