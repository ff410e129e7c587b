"""Which checkpoint to resume from: none, the newest complete one ('latest'), or a given folder."""

import json
import logging
import re
from pathlib import Path

from contracts.run_folder import ADAPTER_WEIGHTS_FILE, FULL_WEIGHTS_FILE, safetensors_intact

LOGGER = logging.getLogger(__name__)
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES = (ADAPTER_WEIGHTS_FILE, FULL_WEIGHTS_FILE, "adapter_model.bin", "pytorch_model.bin")  # + older .bin


class CheckpointError(ValueError):
    """A resume request that cannot be honoured; the message lists the available checkpoints."""


def checkpoint_problem(folder: Path) -> str | None:
    """Why a checkpoint folder cannot be resumed from, or None when it is complete."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text())
        int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json missing or unreadable"
    weights = [folder / name for name in WEIGHT_FILES if (folder / name).exists()]
    if not weights:
        return f"no weights ({' / '.join(WEIGHT_FILES)})"
    if any(w.suffix == ".safetensors" and not safetensors_intact(w) for w in weights):
        return "weights file truncated or corrupt"
    latest = folder / "latest"  # DeepSpeed: names the folder with the partitioned optimizer states
    if latest.exists():
        if not (folder / latest.read_text().strip()).is_dir():
            return f"DeepSpeed state folder {latest.read_text().strip()!r} missing"
    elif not (folder / "optimizer.pt").exists():
        return "no optimizer state (optimizer.pt or DeepSpeed 'latest')"
    return None


def list_checkpoints(checkpoint_dir: str | Path) -> list[Path]:
    """checkpoint-N folders, newest (highest N) first."""
    root = Path(checkpoint_dir)
    found = [p for p in root.iterdir() if p.is_dir() and CHECKPOINT.match(p.name)] if root.is_dir() else []
    return sorted(found, key=lambda p: int(CHECKPOINT.match(p.name).group(1)), reverse=True)


def describe(checkpoints: list[Path]) -> str:
    if not checkpoints:
        return "none"
    return ", ".join(f"{p.name}{'' if checkpoint_problem(p) is None else ' (incomplete)'}" for p in checkpoints)


def resolve_resume(resume_from: str | None, checkpoint_dir: str | Path) -> str | None:
    """None -> None; 'latest' -> newest complete checkpoint (or None); a path -> it, if complete."""
    if not resume_from or resume_from == "none":
        return None
    available = list_checkpoints(checkpoint_dir)
    if resume_from == "latest":
        for folder in available:
            problem = checkpoint_problem(folder)
            if problem is None:
                return str(folder)
            LOGGER.warning("skipping %s: %s", folder, problem)
        # no checkpoint at all is a first start (info); only incomplete ones means work is lost (warning)
        LOGGER.log(
            logging.WARNING if available else logging.INFO,
            "resume_from='latest': no complete checkpoint in %s, starting from scratch",
            checkpoint_dir,
        )
        return None
    folder = Path(resume_from)
    if not folder.is_dir() and (Path(checkpoint_dir) / resume_from).is_dir():
        folder = Path(checkpoint_dir) / resume_from  # a bare name such as 'checkpoint-300'
    if not folder.is_dir():
        raise CheckpointError(
            f"resume_from={resume_from}: no such checkpoint. Available in {checkpoint_dir}: {describe(available)}"
        )
    if (problem := checkpoint_problem(folder)) is not None:
        raise CheckpointError(
            f"resume_from={resume_from}: incomplete checkpoint ({problem}). "
            f"Available in {checkpoint_dir}: {describe(available)}"
        )
    return str(folder)
