"""monthly_cycle's parameters (params/monthly.py): a few fields that become pipeline's and predict's."""

import pytest
from pydantic import ValidationError

from params.monthly import MonthlyParams


def test_a_training_override_keeps_the_monthly_replay():
    # given a rerun that only shortens training / then half the champion's lines are still replayed
    params = MonthlyParams(reviewed="a.xlsx", new_month="b.csv", train={"trainer": {"max_steps": 6}})
    assert params.train.replay == 0.5 and params.train.trainer.max_steps == 6


def test_the_champion_names_the_registry_the_alias_and_what_predicts_the_new_month():
    # given a champion alias of another registered model
    params = MonthlyParams(
        reviewed="a.xlsx", new_month="in/2025-02.xlsx", champion="models:/codes@in-use", work_dir="w"
    )
    # when pipeline's and predict's parameters are made from it
    pipeline, predict = params.pipeline("models:/codes/3"), params.prediction()
    # then training starts from the pinned version and registers under that name; the alias is the one compared
    assert (pipeline.train.warm_start, pipeline.train.mlflow.experiment) == ("models:/codes/3", "codes")
    assert pipeline.promotion.alias == "in-use" and pipeline.prepare.input == "a.xlsx"
    assert (predict.model, predict.out) == ("models:/codes@in-use", "w/predictions/2025-02.xlsx")
    # and without a champion to start from, training starts from scratch
    assert params.pipeline(None).train.warm_start is None


@pytest.mark.parametrize("champion", ["models:/codes/3", "runs/x", "models:/codes@"])
def test_the_champion_must_be_an_alias(champion):
    with pytest.raises(ValidationError, match="champion"):
        MonthlyParams(reviewed="a.xlsx", new_month="b.csv", champion=champion)
