"""The trained model's own suspected mis-postings among its valid and test lines (scoring/mispostings.py:
model_second_opinion; tasks/calibrate.py: add_second_opinion, describe; tasks/tracking.py: calibration_metrics).

A model sure of every line's true slot; a few lines per split carry another written code (the slips)."""

import numpy as np
import pandas as pd
import pytest

from contracts.calibration import Calibration
from contracts.dataset import PREPARE_PARAMS_FILE
from params.prepare import PrepareParams
from scoring.mispostings import model_second_opinion
from tasks.calibrate import add_second_opinion, describe
from tasks.tracking import calibration_metrics

SLOTS = 8  # slots 5..7 are in the label map but never written
WRITTEN = 5


def sure_split(rows: int, slips: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities 0.97 on slot i % WRITTEN; labels that slot, the next one at `slips`."""
    truth = np.arange(rows) % WRITTEN
    probs = np.full((rows, SLOTS), 0.03 / (SLOTS - 1))
    probs[np.arange(rows), truth] = 0.97
    labels = truth.copy()
    labels[slips] = (truth[slips] + 1) % WRITTEN
    return probs, labels


@pytest.fixture
def splits():
    return {"valid": sure_split(100, [3, 40]), "test": sure_split(60, [7])}


def test_the_slips_of_each_split_are_found_at_their_own_positions(splits):
    # given slips at valid 3, 40 and test 7, of which the prepare-time K-fold had suspected valid 3
    earlier = {"valid": np.isin(np.arange(100), [3])}
    # when the model's probabilities judge them
    found = model_second_opinion(splits, earlier, min_class_rows=5, max_written_probability=0.05)
    # then each slip is named by split and position, with the true slot suggested and whether prepare agreed
    got = set(zip(found["split"], found["position"], strict=True))
    assert got == {("valid", 3), ("valid", 40), ("test", 7)}
    by_place = found.set_index(["split", "position"])
    assert bool(by_place.loc[("valid", 3), "earlier"]) and not bool(by_place.loc[("valid", 40), "earlier"])
    assert by_place.loc[("test", 7), "suggested"] == 7 % WRITTEN
    assert list(found["rank"]) == [1, 2, 3]


def test_a_split_without_lines_gives_an_empty_table_with_every_column():
    # given no scored split / when judged / then nothing is suspected and the columns are there
    found = model_second_opinion({"valid": None}, {}, 5, 0.05)
    assert found.empty and {"split", "position", "earlier", "suggested"} <= set(found.columns)


def write_prepare_params(final, detect: bool) -> None:
    params = PrepareParams.model_validate({"input": "ledger.csv", "mispostings": {"detect": detect}})
    (final / PREPARE_PARAMS_FILE).write_text(params.model_dump_json(), encoding="utf-8")


def logits_of(part):
    return np.log(part[0]), part[1]


def test_add_second_opinion_counts_and_writes_the_table(splits, tmp_path):
    # given a run whose data steps looked for mis-postings, and the prepare-time mask of valid 3
    write_prepare_params(tmp_path, detect=True)
    calibration = Calibration(model="llm", temperature=1.0, target_accuracy=0.98, threshold=0.9)
    loaded = {name: logits_of(part) for name, part in splits.items()}
    # when the LLM's own opinion is added
    add_second_opinion(calibration, tmp_path, loaded, None, {"valid": np.isin(np.arange(100), [3])}, tmp_path)
    # then the counts and the table say what it flagged and how much it agrees with prepare
    assert calibration.second_opinion == {"lines": 160, "flagged": 3, "agreed": 1, "earlier": 1}
    table = pd.read_parquet(calibration.second_opinion_table)
    assert len(table) == 3 and table["earlier"].sum() == 1
    # and the line and the MLflow metrics carry it
    assert "flag 3 of its 160 valid and test lines, 1 of them among the 1 suspected at prepare" in describe(calibration)
    assert calibration_metrics(calibration)["mispostings/llm_flagged"] == 3.0


def test_no_second_opinion_when_mispostings_were_not_looked_for(splits, tmp_path):
    # given a run whose data steps had detection off
    write_prepare_params(tmp_path, detect=False)
    calibration = Calibration(model="llm", temperature=1.0, target_accuracy=0.98, threshold=0.9)
    # when the opinion is asked for / then none is added and nothing is written
    add_second_opinion(calibration, tmp_path, {k: logits_of(v) for k, v in splits.items()}, None, {}, tmp_path)
    assert calibration.second_opinion == {} and calibration.second_opinion_table is None
    assert "own probabilities" not in describe(calibration)
