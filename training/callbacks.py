"""Callbacks of the training program: JSON-lines progress for the flow, GPU memory.

No MLflow here on purpose: the flow logs the metrics of the progress file into its run, so an unreachable
tracking server can never raise inside a training rank.
"""

import json
import os
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback

from contracts.run_folder import RunFolder


def is_rank_zero() -> bool:
    return os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"


def numeric(logs: dict) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class ProgressFile:
    """Append-only JSON lines the flow tails for its progress artifact and logs (rank 0 writes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, event: str, **fields) -> None:
        if not is_rank_zero():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": event, "time": time.time(), **fields}, ensure_ascii=False) + "\n")


class ProgressCallback(TrainerCallback):
    """Training progress and metrics as JSON lines (the flow's only source of step metrics for MLflow)."""

    def __init__(self, progress: ProgressFile):
        self.progress = progress

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.write("train_begin", step=state.global_step, max_steps=state.max_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.progress.write(
            "log", step=state.global_step, max_steps=state.max_steps, epoch=state.epoch, metrics=numeric(logs or {})
        )

    def on_save(self, args, state, control, **kwargs):
        keep = RunFolder(root=str(self.progress.path.parent)).head_lr  # a resume needs the same optimizer groups
        if keep.exists() and is_rank_zero():
            shutil.copy(keep, Path(args.output_dir) / f"checkpoint-{state.global_step}" / keep.name)
        self.progress.write(
            "checkpoint",
            step=state.global_step,
            max_steps=state.max_steps,
            path=str(Path(args.output_dir) / f"checkpoint-{state.global_step}"),
        )

    def on_train_end(self, args, state, control, **kwargs):
        self.progress.write("train_end", step=state.global_step, max_steps=state.max_steps)


class GpuMemoryCallback(TrainerCallback):
    """Allocated / reserved GPU memory in the logs, and the peak allocated since the start (CUDA only)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        import torch

        if logs is not None and torch.cuda.is_available():
            logs["gpu_mem_allocated_gb"] = torch.cuda.memory_allocated() / 1024**3
            logs["gpu_mem_reserved_gb"] = torch.cuda.memory_reserved() / 1024**3
            logs["gpu_mem_peak_gb"] = torch.cuda.max_memory_allocated() / 1024**3
