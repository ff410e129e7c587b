"""`pipeline`'s parameters: prepare_data's and train_model's sections and the baseline's (the user's)."""

from pathlib import Path

from pydantic import Field

from contracts.label_map import LABEL_MAP_FILE
from params.base import FlowParams, target_accuracy_field
from params.baseline import BaselineParams
from params.prepare import PrepareParams
from params.promotion import PromotionParams
from params.train import TrainOptions, TrainParams


class PipelineParams(FlowParams):
    """`pipeline`: prepare_data then train_model; the model and work dir are shared by both. No model: the
    bundled real model (training.bundled_model)."""

    prepare: PrepareParams
    train: TrainOptions = TrainOptions()
    baseline: BaselineParams = BaselineParams()
    target_accuracy: float = target_accuracy_field()  # the same for the LLM and the baseline: they are compared
    promotion: PromotionParams = PromotionParams()  # the chosen model against the registry's champion
    train_deployment: str | None = Field(
        None,
        description="train through this deployment on its own pool (e.g. train_model/train-model on the gpu pool; "
        "work_dir must then be a shared store URL); none: a subflow in this process",
    )

    def training(self, dataset: str) -> TrainParams:
        """train_model's parameters for the dataset prepare_data built."""
        return TrainParams(
            dataset=dataset,
            model=self.prepare.model,
            work_dir=self.prepare.work_dir,
            target_accuracy=self.target_accuracy,
            refresh_cache=self.refresh_cache,  # a deployed train_model is its own flow run: it must be told
            **self.train.model_dump(),
        )

    def with_warm_start(self, final: str) -> "PipelineParams":
        """Training starts from that run's final/ folder, and prepare keeps its codes at their label slots (unless
        labels.label_map already names a map)."""
        labels = self.prepare.labels
        if labels.label_map is None:
            labels = labels.model_copy(update={"label_map": str(Path(final) / LABEL_MAP_FILE)})
        prepare = self.prepare.model_copy(update={"labels": labels})
        train = self.train.model_copy(update={"warm_start": final})
        return self.model_copy(update={"prepare": prepare, "train": train})

    def with_model(self, model: str) -> "PipelineParams":
        """The same parameters with the base model folder resolved (the bundled one when none was given)."""
        return self.model_copy(update={"prepare": self.prepare.model_copy(update={"model": model})})
