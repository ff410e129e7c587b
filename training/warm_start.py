"""Warm start: a run begins from a finished run's adapter and head instead of the base model's, so a new month
trains in a fraction of the steps. No prefect.

The label map is the contract that makes it possible: the new dataset's map must keep every code of the parent's
at its id (prepare with `labels.label_map=<parent>/final/label_map.json`; `pipeline --warm-start` does it); a code
the parent never knew takes a free slot, whose head row starts where the parent left that unused slot.
"""

from __future__ import annotations

from pathlib import Path

from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.run_folder import ADAPTER_WEIGHTS_FILE, RUN_CONFIG_FILE
from training.architecture import ModelConfigError

ADAPTER_FILE = ADAPTER_WEIGHTS_FILE


def new_codes(parent: LabelMap, child: LabelMap) -> list[str]:
    """The child's codes the parent never knew; a parent code at another id, or another head size, is an error
    (the parent's head rows would score the wrong accounts)."""
    if parent.num_slots != child.num_slots:
        raise ModelConfigError(
            f"warm start: the parent's head has {parent.num_slots} label slots and this dataset's {child.num_slots}; "
            "prepare with labels.num_slots equal to the parent's"
        )
    ids = child.code_to_id()
    moved = {c: (i, ids.get(c)) for c, i in parent.code_to_id().items() if ids.get(c) != i}
    if moved:
        shown = ", ".join(f"{c}: {a} -> {b}" for c, (a, b) in list(moved.items())[:5])
        raise ModelConfigError(
            f"warm start: {len(moved)} of the parent's codes are not at their ids in this dataset's label map ({shown}"
            "); prepare with labels.label_map=<parent run>/final/label_map.json so they keep them"
        )
    known = set(parent.code_to_id())
    return sorted(c for c in ids if c not in known)


def load_parent(model, parent_final: str | Path) -> int:
    """The parent's adapter and head (its modules_to_save) loaded into a LoRA-wrapped model of the same layout;
    the number of tensors loaded. A file that does not fit the model is an error, never a partial load."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(parent_final) / ADAPTER_FILE
    if not hasattr(model, "peft_config"):
        raise ModelConfigError("warm start needs LoRA (lora.enabled: true): the parent saved an adapter")
    if not path.exists():
        raise ModelConfigError(f"warm start: {path} not found; give a finished LoRA run's folder")
    state = load_file(str(path))
    result = set_peft_model_state_dict(model, state)
    if result.unexpected_keys:
        raise ModelConfigError(
            f"warm start: {len(result.unexpected_keys)} tensors of {path} fit no module of this model "
            f"(e.g. {result.unexpected_keys[0]}): the parent was trained on another base model or LoRA layout"
        )
    return len(state)


def parent_label_map(parent_final: str | Path) -> LabelMap:
    return LabelMap.read(Path(parent_final) / LABEL_MAP_FILE)


def parent_train_path(parent_final: str | Path) -> Path:
    """The dataset folder the parent run trained on (its train split under it), as its run.yaml names it."""
    from training.config import read_run_config

    return Path(read_run_config(Path(parent_final) / RUN_CONFIG_FILE).dataset_path)


def with_replay(train, parent_final: str | Path, share: float, seed: int):
    """The new train split with `share` of the parent run's train lines beside it (a random draw with every code
    of the parent's at least once, so a rare one is not forgotten; the same draw on every launch of the run, so a
    resume trains on the same lines); (split, lines replayed)."""
    import numpy as np
    from datasets import concatenate_datasets, load_from_disk

    from training.probe import sample_rows

    path = parent_train_path(parent_final)
    if not (path / "train").is_dir():
        raise ModelConfigError(
            f"replay: the parent's train split is not at {path}/train (another host's work dir, or removed); "
            "set replay to 0 to train on the new data alone"
        )
    history = load_from_disk(str(path / "train"))
    count = round(len(history) * share)
    picked = sample_rows(np.asarray(history["label"], dtype="int64"), count, seed) if count else np.arange(0)
    history = history.select(picked).select_columns(train.column_names).cast(train.features)
    return concatenate_datasets([train, history]), len(picked)
