"""The run configuration: one YAML file the flow writes and the training program reads. No prefect here."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.run_folder import RunFolder
from ledger.work_store import NativeUrl


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(Strict):
    """LoRA on the attention of the last layers; the head and whatever the checkpoint lacks train fully."""

    enabled: bool = Field(True, description="false: full fine-tuning of every weight (comparisons, small models)")
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = Field(
        None, description="last names of the Linear layers to adapt; None: every Linear of the attention block"
    )
    layers_to_transform: list[int] | None = Field(
        [-6, -5, -4, -3, -2, -1], description="negative indices count from the last layer; None: all layers"
    )
    modules_to_save: list[str] | None = Field(
        None, description="modules trained fully besides the head and the newly initialised ones"
    )


class HeadSettings(Strict):
    """What the classification head reads and where it starts."""

    pooling: Literal["auto", "last", "cls", "mean"] = Field(
        "auto", description="auto: last real token (decoders), as the checkpoint was trained or [CLS] (encoders)"
    )
    init: Literal["probe", "random"] = Field(
        "probe", description="probe: start from a logistic regression on the frozen model's features (LP-FT)"
    )
    warm_init: Literal["parent", "probe"] = Field(
        "parent",
        description="with a warm start: parent: the parent's head as trained (a new code starts from an unused "
        "slot's row, far below the others); probe: re-fitted by a linear probe on the parent's tuned features over "
        "the new train lines and every train line of the parent (not only the replayed share), so the new month's "
        "lines and codes are scored from step 0",
    )
    probe_samples: int = Field(4000, ge=10, description="train rows the probe reads (every class at least once)")
    probe_c: float = Field(1.0, gt=0, description="inverse L2 strength of the probe's logistic regression")
    base_dropout: Literal["auto", "keep", "off"] = Field(
        "auto",
        description="the base model's own dropout while fine-tuning; auto: off when the head starts from a probe "
        "(the probe was fitted on features without dropout: with it, its train loss triples at step 0)",
    )
    lr_multiplier: float | None = Field(
        None, gt=0, description="head learning rate = trainer's x this; None: 1 / RMS of what the head reads, 1-100"
    )


class LossSettings(Strict):
    """Class-weighted cross-entropy: inverse frequency, smoothed, capped (min/max bound the ratio), then scaled
    so that a train row weighs 1 on average (normalize='examples') or the classes average 1 ('classes')."""

    class_weights: bool = True
    alpha: float = Field(0.5, ge=0, le=1, description="0: uniform, 1: full inverse frequency")
    min_weight: float | None = Field(0.1, gt=0)
    max_weight: float | None = Field(10.0, gt=0)
    zero_count_share: float = Field(
        0.01, gt=0, description="classes with no train rows count as this share of the mean"
    )
    dummy_weight: float = Field(1.0, ge=0, description="weight of unused label slots (never a target)")
    normalize: Literal["examples", "classes"] = Field(
        "examples",
        description="examples: a train row weighs 1 on average (the loss keeps its scale); classes: classes average 1",
    )


class TrainerSettings(Strict):
    """The subset of transformers.TrainingArguments a user tunes; the rest is derived per device."""

    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    num_train_epochs: float = 1.0
    max_steps: int = -1
    warmup_steps: float = Field(0.1, ge=0, description="< 1: a share of the steps (the seed's 0.1); >= 1: steps")
    lr_scheduler_type: str = "cosine"
    logging_steps: int = 10
    eval_steps: int = 50
    save_steps: int = 50
    save_total_limit: int | None = 3
    seed: int = 42
    dataloader_num_workers: int = 0
    gradient_checkpointing: bool = False
    train_sampling_strategy: Literal["random", "group_by_length"] = Field(
        "group_by_length",
        description="group_by_length: batches of rows of similar length (less padding: bench/RESULTS.md)",
    )
    use_liger_kernel: bool = Field(False, description="Liger's fused Triton kernels (RMSNorm, SwiGLU, RoPE); GPU only")
    torch_compile: bool = Field(False, description="torch.compile the model (first steps pay the compilation)")


class ProgramSettings(Strict):
    """What the user sets that the training program reads as it is: the same fields in TrainParams (params.train)
    and in run.yaml, declared once so that the flow passes them through without reshaping them."""

    resume_from: str | None = Field(None, description="none, 'latest' or a checkpoint folder")
    replay: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="with a warm start: the share of the parent run's train lines trained on again beside the new "
        "data (0: the new data only), so the months before are not forgotten",
    )
    max_eval_samples: int | None = Field(None, description="cap on validation rows per evaluation")
    lora: LoraSettings = LoraSettings()
    head: HeadSettings = HeadSettings()
    loss: LossSettings = LossSettings()
    trainer: TrainerSettings = TrainerSettings()

    def program_settings(self) -> dict:
        """These fields as they are, for the run.yaml (the one place TrainParams becomes RunConfig)."""
        return {name: getattr(self, name) for name in ProgramSettings.model_fields}


class RunConfig(ProgramSettings):
    """Everything one training run needs, written by the flow as run.yaml: the user's ProgramSettings and what the
    flow resolved (the dataset's files, the run folder, the parent run's final/, the shared checkpoint store)."""

    run_uid: str = Field("", description="the run folder's identity (new when the folder is recreated)")
    model_path: str
    dataset_path: str
    label_map: str
    tokenizer_path: str
    pad_added: bool = False
    output_dir: str
    progress_file: str
    deepspeed_config: str | None = None
    warm_start: str | None = Field(None, description="a finished run's final/ folder: its adapter and head start")
    checkpoint_store: NativeUrl | None = None  # fsspec URL of this run's checkpoints in shared storage (flow mirrors)

    @property
    def folder(self) -> RunFolder:
        return RunFolder(root=self.output_dir)

    @property
    def checkpoint_dir(self) -> Path:
        return self.folder.checkpoints

    @property
    def final_dir(self) -> Path:
        return self.folder.final


def read_run_config(path: str | Path, fetch: frozenset[str] | None = None) -> RunConfig:
    """run.yaml, with the store URLs in it (a run in a shared store) turned into this host's copies: all of them,
    or those of the fields in `fetch` (prediction needs the base model, not the training data)."""
    from ledger.work_store import localize

    return localize(RunConfig.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8"))), fetch)


def write_run_config(config: RunConfig, path: str | Path) -> Path:
    """run.yaml; paths in a shared store's host cache are written as store URLs, the same on every host."""
    from ledger.work_store import portable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(portable(config).model_dump(mode="json"), allow_unicode=True, sort_keys=False))
    return path
