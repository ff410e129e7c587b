"""When a new model takes the place of the one in use (the registry's alias), and on what evidence."""

from pydantic import Field

from params.base import Section


class PromotionParams(Section):
    """The challenger (the model this run chose to deploy) against the champion (the alias in the MLflow registry,
    under the experiment's name), both scored on this run's test split: with the time-ordered split, the newest
    labelled month."""

    enabled: bool = Field(True, description="compare with the champion and move the alias when the new model wins")
    alias: str = Field("champion", pattern=r"^[A-Za-z][\w-]*$", description="the registry alias of the model in use")
    resamples: int = Field(400, ge=50, le=5000, description="paired bootstrap resamples for the noise intervals")
    seed: int = 0
