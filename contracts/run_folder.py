"""runs/<name>/: what a training run folder holds, for the flow that plans it, the program that fills it and
the prediction flow that reads it."""

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from contracts.label_map import LABEL_MAP_FILE
from ledger.errors import ExpectedError
from ledger.work_store import RUN_CONFIG_FILE

# The files of a run's final/, each spelled once: the training program writes them, the flows and prediction read
# them. run.yaml is copied in last (a completion marker, ledger.work_store).
FINAL_DIR = "final"
ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
HEAD_CONFIG_DIR = "head_config"  # the head's config (num_labels, id2label): the base is rebuilt from it
HEAD_CONFIG_FILE = f"{HEAD_CONFIG_DIR}/config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
TEST_METRICS_FILE = "test_metrics.json"  # the program's test-split metrics: its run finished
CLASS_WEIGHTS_FILE = "class_weights.json"
FULL_CONFIG_FILE, FULL_WEIGHTS_FILE = "config.json", "model.safetensors"  # lora.enabled false: the whole model
# What prediction needs in final/; the adapter's head must have one row per label slot.
FINAL_FILES = (
    ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, LABEL_MAP_FILE, RUN_CONFIG_FILE, TOKENIZER_CONFIG_FILE, HEAD_CONFIG_FILE
)  # fmt: skip
FULL_MODEL_FILES = (FULL_CONFIG_FILE, FULL_WEIGHTS_FILE)
# the head: base_model.model.score.weight (decoders), ...classifier.weight or ...classifier.out_proj.weight
HEAD_WEIGHT = re.compile(r"(score|classifier)\.(?!.*dense\.)(.*\.)?weight$")  # not RoBERTa's inner dense


class RunFolderError(ExpectedError, ValueError):
    """A model folder that cannot be used for prediction; the message says what is missing or wrong."""

    hint = (
        "--model takes a finished training run (runs/<name>, or 'latest'), a baseline folder (baselines/<name>) "
        "or a registered model (models:/NAME/VERSION)"
    )


class Member:
    """A path inside the run folder, named once: `RunFolder(root=r).run_yaml` is Path(r) / "run.yaml"."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, folder: "RunFolder | None", owner: type | None = None) -> Path:
        if folder is None:
            raise AttributeError(f"{self.relative}: a path of a RunFolder instance, not of the class")
        return Path(folder.root) / self.relative


class RunFolder(BaseModel):
    """Paths of one run, all derived from its root."""

    model_config = ConfigDict(ignored_types=(Member,))

    root: str

    run_yaml = Member(RUN_CONFIG_FILE)
    progress = Member("progress.jsonl")
    checkpoints = Member("checkpoints")
    final = Member(FINAL_DIR)
    reports = Member("reports")
    prepare_params = Member("prepare_params.json")
    mlflow_run_id = Member("mlflow_run_id")
    train_log = Member("train.log")
    probe = Member("probe.json")  # the linear probe the head started from, and its own metrics
    probe_predictions = Member("probe_test_predictions.parquet")  # that probe's test-split predictions
    head_lr = Member("head_lr.json")  # the head's learning-rate multiplier, decided once per run

    @classmethod
    def of(cls, path: str | Path) -> "RunFolder":
        """runs/<name> or runs/<name>/final -> the run folder."""
        path = Path(path)
        return cls(root=str(path.parent if path.name == FINAL_DIR and not (path / FINAL_DIR).is_dir() else path))

    def weights_file(self) -> Path:
        """The adapter, or the whole model of a full fine-tuning run."""
        adapter = self.final / FINAL_FILES[1]
        full = self.final / FULL_MODEL_FILES[1]
        has_adapter = adapter.exists() or (self.final / FINAL_FILES[0]).exists()
        return full if full.exists() and not has_adapter else adapter

    def missing_final_files(self) -> list[str]:
        full = self.weights_file().name == FULL_MODEL_FILES[1]
        names = [*FULL_MODEL_FILES, *FINAL_FILES[2:]] if full else FINAL_FILES
        return [name for name in names if not (self.final / name).exists()]


def head_rows(adapter: str | Path) -> int | None:
    """Output size of the classification head stored in an adapter file (None when it holds no head)."""
    from safetensors import safe_open

    with safe_open(str(adapter), "np") as weights:
        for key in weights.keys():  # noqa: SIM118  (safe_open is not a dict)
            if HEAD_WEIGHT.search(key) and "original_module" not in key:
                return int(weights.get_slice(key).get_shape()[0])
    return None


def safetensors_intact(path: str | Path) -> bool:
    """The file opens and its header's tensors fit in it (a cut-off write fails this)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "np"):
            return True
    except (SafetensorError, OSError):
        return False
