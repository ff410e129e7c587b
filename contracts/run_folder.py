"""runs/<name>/: what a training run folder holds, for the flow that plans it, the program that fills it and
the prediction flow that reads it."""

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# What prediction needs in final/; the adapter's head must have one row per label slot.
FINAL_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "label_map.json",
    "run.yaml",
    "tokenizer_config.json",
    "head_config/config.json",
)
# the head in a PEFT adapter: base_model.model.score.weight (decoders) or ...classifier.weight (encoders)
HEAD_WEIGHT = re.compile(r"(score|classifier).*weight$")


class _Member:
    """A path inside the run folder, named once: `RunFolder(root=r).run_yaml` is Path(r) / "run.yaml"."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, folder: "RunFolder | None", owner: type | None = None) -> Path:
        if folder is None:
            raise AttributeError(f"{self.relative}: a path of a RunFolder instance, not of the class")
        return Path(folder.root) / self.relative


class RunFolder(BaseModel):
    """Paths of one run, all derived from its root."""

    model_config = ConfigDict(ignored_types=(_Member,))

    root: str

    run_yaml = _Member("run.yaml")
    progress = _Member("progress.jsonl")
    checkpoints = _Member("checkpoints")
    final = _Member("final")
    reports = _Member("reports")
    prepare_params = _Member("prepare_params.json")
    mlflow_run_id = _Member("mlflow_run_id")
    train_log = _Member("train.log")

    @classmethod
    def of(cls, path: str | Path) -> "RunFolder":
        """runs/<name> or runs/<name>/final -> the run folder."""
        path = Path(path)
        return cls(root=str(path.parent if path.name == "final" and not (path / "final").is_dir() else path))

    def missing_final_files(self) -> list[str]:
        return [name for name in FINAL_FILES if not (self.final / name).exists()]


def head_rows(adapter: str | Path) -> int | None:
    """Output size of the classification head stored in an adapter file (None when it holds no head)."""
    from safetensors import safe_open

    with safe_open(str(adapter), "np") as weights:
        for key in weights.keys():  # noqa: SIM118  (safe_open is not a dict)
            if HEAD_WEIGHT.search(key):
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
