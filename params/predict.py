"""`predict_ledger`'s parameters (the user's): which run, which ledger, where the predictions go."""

from typing import Literal

from pydantic import Field

from params.base import FlowParams, NativeUrl, OutputFile, WorkDir


class PredictParams(FlowParams):
    """A finished training run classifies a new ledger."""

    model: str = Field(
        ...,
        description="training run folder (runs/<name> or its final/), baseline folder (baselines/<name>), "
        "registered MLflow model (models:/NAME/VERSION); 'latest': newest finished in <work_dir>/runs; "
        "'latest:NAME': the newest finished run whose name starts with NAME",
    )
    input: NativeUrl = Field(..., description="ledger file, folder or glob to classify (labels not needed)")
    out: OutputFile = Field(..., description="output file: .csv or .xlsx")
    work_dir: WorkDir = "data"
    top_k: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    language: Literal["ko", "en"] = Field(
        "ko", description="ko: Korean headers and words in the output file; en: the column names and codes as stored"
    )
    tracking_uri: NativeUrl | None = Field(
        None, description="MLflow store of a models:/ URI; default <work_dir>/mlflow.db"
    )
