"""`pipeline`'s parameters: prepare_data's and train_model's sections and the baseline's (the user's)."""

from pydantic import model_validator

from params.base import FlowParams
from params.baseline import BaselineParams
from params.prepare import PrepareParams
from params.train import TrainOptions, TrainParams


class PipelineParams(FlowParams):
    """`pipeline`: prepare_data then train_model; the model and work dir are shared by both."""

    prepare: PrepareParams
    train: TrainOptions = TrainOptions()
    baseline: BaselineParams = BaselineParams()

    def training(self, dataset: str) -> TrainParams:
        """train_model's parameters for the dataset prepare_data built."""
        return TrainParams(
            dataset=dataset, model=self.prepare.model, work_dir=self.prepare.work_dir, **self.train.model_dump()
        )

    @model_validator(mode="after")
    def _model_given(self):
        if not self.prepare.model:
            raise ValueError("pipeline: prepare.model (the base model folder) is required to build and train")
        return self
