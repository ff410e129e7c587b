"""The mis-posting detector on a large ledger (mispostings.fit_lines): each fold's model fits on a sample that keeps
every code, the fewest folds that give models that large, every line still scored; the report says so."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from params.prepare import MispostingParams
from scoring.mispostings import KEPT_WHOLE, folds_for, out_of_sample_probs, sample_for_fit
from tasks.mispostings import MispostingReport, sample_note


@pytest.mark.parametrize(
    ("lines", "folds", "expected"),
    [(20_000, 5, 5), (60_000, 5, 5), (120_000, 5, 2), (1_000_000, 5, 2), (70_000, 10, 4), (100, 2, 2)],
)
def test_folds_shrink_only_when_the_models_would_be_sampled_anyway(lines, folds, expected):
    # when a ledger of `lines` is scored in at most `folds` folds under a 50,000-line fit
    got = folds_for(lines, folds, 50_000)
    # then: the fewest folds whose models still get min(50,000, what `folds` folds would give) lines
    assert got == expected
    assert lines * (got - 1) // got >= min(50_000, lines * (folds - 1) // folds)


def test_a_sample_keeps_every_code_and_rare_codes_whole():
    # given 100,000 positions: code 0 with 90,000 lines, code 1 with 9,970, code 2 with 30
    y = np.repeat([0, 1, 2], [90_000, 9_970, 30])
    positions = np.arange(len(y))
    # when sampled to 10,000 lines
    out = sample_for_fit(positions, y, 10_000, np.random.default_rng(0))
    # then: sorted, no line twice, about 10,000, each code in proportion and the rare one whole
    assert np.all(np.diff(out) > 0)
    counts = np.bincount(y[out], minlength=3)
    assert counts.tolist() == [9000, 997, 30]
    assert len(out) <= 10_000 + 3 * KEPT_WHOLE


def test_a_sample_of_a_part_already_small_enough_is_the_part_itself():
    positions = np.array([4, 9, 11])
    assert sample_for_fit(positions, np.zeros(12, "int64"), 10, np.random.default_rng(0)) is positions


def test_a_sample_is_drawn_from_the_positions_given_and_only_them():
    # given the odd positions of a 2-code ledger
    y = np.tile([0, 1], 5000)
    positions = np.arange(1, 10_000, 2)  # all code 1
    # when
    out = sample_for_fit(positions, y, 1000, np.random.default_rng(1))
    # then
    assert len(out) == 1000 and set(out) <= set(positions)


def test_sampled_folds_fit_on_at_most_the_sample_yet_score_every_line():
    # given 400 lines over two codes and a fit that records what it saw
    texts = pd.Series([f"line {i}" for i in range(400)])
    labels = np.array([3, 7] * 200)
    seen: list[int] = []

    def fit(x, y):
        seen.append(len(x))

        class Model:
            classes_ = np.unique(y)

            def predict_proba(self, held):
                return np.full((len(held), len(self.classes_)), 1 / len(self.classes_))

        return Model()

    # when scored in 2 folds with at most 120 lines per fit
    probs, classes = out_of_sample_probs(texts, labels, fit, folds=2, seed=0, fit_lines=120)
    # then: two fits of 120 lines (each code has 100 lines in a fold, above KEPT_WHOLE), every line scored
    assert seen == [120, 120]
    assert np.allclose(probs.sum(axis=1), 1.0) and classes.tolist() == [3, 7]


def test_the_report_says_when_and_how_the_detector_was_sampled():
    # given a 1M-line ledger in 2 folds under 50,000, and a small one in 5
    note = sample_note(1_000_000, 2, 50_000)
    # then the note names the sample and the parameter; a ledger fitted in full gets none
    assert note == ("scored in 2 folds, each detector fitted on a sample of about 50,000 of the other 500,000 "
                    "lines: mispostings.fit_lines")  # fmt: skip
    assert sample_note(20_000, 5, 50_000) is None
    report = MispostingReport(lines=1_000_000, suspected=10, xlsx="x.xlsx", sampled=note)
    assert report.headline().endswith(f"-> x.xlsx ({note})")


def test_a_fit_too_small_to_judge_is_refused():
    # when / then
    with pytest.raises(ValidationError, match="fit_lines"):
        MispostingParams(fit_lines=10)
