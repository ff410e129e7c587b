"""Champion / challenger (scoring/promotion.py, tasks/promotion.py): the rule on made-up lines, then real models
in a real MLflow registry: a first champion, a better challenger that takes the alias, a weakened one that does not."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from scoring.promotion import compare, macro_f1


def lines(right_challenger: float, right_champion: float, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """n lines of 8 codes; each model right on the given share, confident where right and unsure where wrong."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 8, n).astype(str)
    frame = pd.DataFrame({"true_code": true})
    for side, share in (("challenger", right_challenger), ("champion", right_champion)):
        right = rng.random(n) < share
        frame[f"{side}_code"] = np.where(right, true, ((true.astype(int) + 1) % 8).astype(str))
        frame[f"{side}_confidence"] = np.where(right, rng.uniform(0.9, 1.0, n), rng.uniform(0.3, 0.95, n))
    return frame


def test_macro_f1_counts_as_sklearn_does():
    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 12, 300), rng.integers(0, 14, 300)
    assert macro_f1(true, pred, 14) == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))


def test_a_clearly_better_challenger_takes_the_alias():
    # given a challenger right on 97% of the lines and a champion right on 80%
    verdict = compare(lines(0.97, 0.80), "models:/m/1", "runs/new/final", target=0.95)
    # then the challenger wins on coverage, with an interval wholly above zero
    assert verdict.moves and verdict.winner == "challenger" and verdict.coverage_difference.low > 0
    assert verdict.challenger.coverage > verdict.champion.coverage
    assert "better" in verdict.reason


def test_a_clearly_worse_challenger_leaves_the_alias_where_it_is():
    verdict = compare(lines(0.80, 0.97), "models:/m/1", "runs/new/final", target=0.95)
    assert not verdict.moves and verdict.winner == "champion" and verdict.coverage_difference.high < 0
    assert "worse" in verdict.reason


def test_a_tie_within_noise_goes_to_the_newer_model():
    # given two models equally good on the same lines (the same answers)
    frame = lines(0.95, 0.95)
    frame[["champion_code", "champion_confidence"]] = frame[["challenger_code", "challenger_confidence"]].to_numpy()
    verdict = compare(frame, "models:/m/1", "runs/new/final", target=0.95)
    # then the difference is zero, inside its interval, and the challenger (which saw the newer lines) moves in
    assert verdict.moves and verdict.coverage_difference.value == 0 and "no worse beyond noise" in verdict.reason


def test_a_tie_on_coverage_is_decided_by_macro_f1():
    # given two models with no line above the target (too few lines for a 95% claim) but different answers
    frame = lines(0.95, 0.5, n=45)  # a 98% claim needs 50 lines
    verdict = compare(frame, "models:/m/1", "runs/new/final", target=0.98)
    # then coverage is a tie at zero and the clearly higher macro-F1 wins, saying so
    assert verdict.challenger.coverage == verdict.champion.coverage == 0
    assert verdict.moves and "better on macro-F1" in verdict.reason
    assert not compare(lines(0.5, 0.95, n=45), "models:/m/1", "runs/new/final", target=0.98).moves


def test_without_a_champion_the_challenger_becomes_the_first():
    frame = lines(0.9, 0.9).drop(columns=["champion_code", "champion_confidence"])
    verdict = compare(frame, None, "runs/new/final", target=0.95)
    assert verdict.moves and verdict.champion is None and "no champion yet" in verdict.reason


# ---- real models in a real registry --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, prefect_harness):
    """A labelled ledger prepared for the tiny model: its tokenized dataset and texts."""
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    work = tmp_path_factory.mktemp("promotion")
    model = str(make_tiny_model(work / "tiny"))
    ledger = write_ledger(make_ledger(1500, 12, seed=5), str(work / "ledger.csv"))
    return work, prepare_data(PrepareParams(input=ledger, work_dir=str(work), model=model))


def baseline(prepared, folder: str = "", **settings):
    """A baseline on the prepared texts, in <work>/<folder>/baselines/ (its folder is named by the texts alone)."""
    from params.baseline import BaselineParams
    from params.prepare import read_prepare_params
    from tasks.baseline import train_baseline

    work, result = prepared
    params = read_prepare_params(result.dataset.folder / "prepare_params.json")
    out = str(work / folder)
    return train_baseline(result.texts, result.label_map, BaselineParams(**settings), out, params).model_dir


def challenge(prepared, model_dir: str):
    from prefect import flow

    from params.promotion import PromotionParams
    from tasks.promotion import compare_with_champion

    work, result = prepared
    dataset = str(result.dataset.folder)

    @flow
    def cycle():
        return compare_with_champion(model_dir, dataset, PromotionParams(resamples=200), None, "ledger-codes",
                                     str(work), 0.95)  # fmt: skip

    return cycle()


def test_the_alias_moves_for_a_better_model_and_stays_for_a_weakened_one(prepared):
    from monitor.registry import alias_target, tracking_uri

    store = tracking_uri(None, str(prepared[0]))
    # given a weakened baseline (few features, strong regularisation) as the first model: it becomes the champion
    weak = baseline(prepared, "weak", max_features=30, C=0.01)
    first = challenge(prepared, weak)
    assert first.moved and first.champion is None and first.challenger.version == "1"
    assert alias_target(store, "ledger-codes", "champion") == first.challenger
    # when the product's baseline challenges it
    good = baseline(prepared)
    second = challenge(prepared, good)
    # then it wins on coverage at the target, is registered, and the alias points at it
    assert second.moved and second.verdict.winner == "challenger", second.verdict.reason
    assert second.verdict.challenger.coverage > second.verdict.champion.coverage
    assert second.champion == first.challenger and second.challenger.version == "2"
    assert alias_target(store, "ledger-codes", "champion") == second.challenger
    # and when the weakened model challenges again, the alias stays, and the record says why
    third = challenge(prepared, weak)
    assert not third.moved and third.verdict.winner == "champion" and "worse" in third.verdict.reason
    assert alias_target(store, "ledger-codes", "champion") == second.challenger
    assert third.challenger is None  # a losing baseline is not registered
    assert len(list((prepared[0] / "promotions").glob("*.json"))) == 1  # both baselines have the same name
