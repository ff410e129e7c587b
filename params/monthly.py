"""`monthly_cycle`'s parameters: last month's reviewed file, this month's ledger, the champion to start from."""

from pathlib import Path

from pydantic import Field

from params.base import FlowParams, OutputFile, WorkDir, target_accuracy_field
from params.baseline import BaselineParams
from params.pipeline import PipelineParams
from params.predict import PredictParams
from params.prepare import PrepareParams
from params.promotion import PromotionParams
from params.train import TrainOptions

CHAMPION = "models:/account-tax@champion"


class MonthlyTrainOptions(TrainOptions):
    """pipeline's training options, half the champion's train lines replayed unless set otherwise."""

    replay: float = Field(0.5, ge=0.0, le=1.0, description="share of the champion's train lines trained on again")


class MonthlyParams(FlowParams):
    """One turn of the monthly cycle: the reviewed prediction file teaches a challenger (warm-started from the
    champion when it is an LLM run), the challenger takes the alias if it is no worse, the champion then predicts
    the new month. A few fields, so a rerun from the Prefect UI is a matter of naming two files."""

    reviewed: str = Field(
        ..., description="last month's prediction file with 확정 계정코드 filled (xlsx or csv), or a folder of them"
    )
    new_month: str = Field(..., description="this month's ledger to code (file, folder or glob)")
    out: OutputFile | None = Field(
        None, description="the prediction file; default <work_dir>/predictions/<new_month>.xlsx"
    )
    champion: str = Field(
        CHAMPION,
        pattern=r"^models:/[^/@]+@[A-Za-z][\w-]*$",
        description="the registry alias of the model in use: the one to start from and to beat (models:/NAME@ALIAS)",
    )
    model: str | None = Field(None, description="base model folder; none: the bundled real model")
    work_dir: WorkDir = "data"
    train: MonthlyTrainOptions = MonthlyTrainOptions()
    baseline: BaselineParams = BaselineParams()
    target_accuracy: float = target_accuracy_field()
    train_deployment: str | None = Field(
        None, description="train through this deployment on its own pool (as pipeline's); none: in this process"
    )
    resamples: int = Field(400, ge=50, le=5000, description="bootstrap resamples of the champion / challenger test")

    @property
    def registry(self) -> tuple[str, str]:
        """(registered model name, alias) of the champion."""
        name, alias = self.champion.removeprefix("models:/").split("@")
        return name, alias

    def pipeline(self, parent: str | None) -> PipelineParams:
        """pipeline's parameters on the reviewed file, started from `parent` (None: from scratch)."""
        name, alias = self.registry
        mlflow = self.train.mlflow.model_copy(update={"experiment": name})
        train = TrainOptions.model_validate({**self.train.model_dump(), "warm_start": parent, "mlflow": mlflow})
        return PipelineParams(
            prepare=PrepareParams(input=self.reviewed, work_dir=self.work_dir, model=self.model),
            train=train,
            baseline=self.baseline,
            target_accuracy=self.target_accuracy,
            promotion=PromotionParams(alias=alias, resamples=self.resamples),
            train_deployment=self.train_deployment,
            refresh_cache=self.refresh_cache,
        )

    def prediction(self) -> PredictParams:
        """predict_ledger's parameters: the champion, whoever holds the alias after this run, on the new month."""
        out = self.out or str(Path(self.work_dir) / "predictions" / f"{Path(self.new_month).stem}.xlsx")
        return PredictParams(
            model=self.champion, input=self.new_month, out=out, work_dir=self.work_dir,
            tracking_uri=self.train.mlflow.tracking_uri, refresh_cache=self.refresh_cache,
        )  # fmt: skip
