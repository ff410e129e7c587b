"""The special value 'latest' in a folder parameter: the newest such folder a flow wrote under the work dir.

A deployment's defaults cannot name a tokenized dataset or a training run in advance (their folder names carry
content hashes), so they say 'latest'; the parameter models resolve it when they are validated, which makes a flow
run from the UI fail at once, naming the parameter to fill, when there is nothing to resolve it to.
"""

from collections.abc import Callable, Iterable
from pathlib import Path

from contracts.run_folder import RunFolder

LATEST = "latest"
# contracts.dataset.MANIFEST_FILE, written last by tokenize_dataset (a complete dataset has it); not imported from
# there, as that module pulls pandas and pandera into every parameter import (a test keeps the two equal)
DATASET_MANIFEST = "dataset.json"


def newest(paths: Iterable[Path]) -> Path | None:
    """The most recently modified path (ties: the last by name), or None when there is none."""
    return max(paths, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()), default=None)


def latest_dataset(work_dir: str | Path) -> Path:
    """The newest complete tokenized dataset folder under <work_dir>/datasets."""
    root = Path(work_dir) / "datasets"
    manifest = newest(root.glob(f"*/{DATASET_MANIFEST}"))
    if manifest is None:
        raise ValueError(
            f"no tokenized dataset under {root}: run prepare-data (with a model) first, "
            "or set params.dataset to a tokenized dataset folder (datasets/tokenized-...)"
        )
    return manifest.parent


def latest_run(work_dir: str | Path) -> Path:
    """The most recently finished training run under <work_dir>/runs: one whose final/ holds all prediction needs
    (a crashed or running one does not), newest by its final/run.yaml (copied there once the rest is saved)."""
    root = Path(work_dir) / "runs"
    runs = (RunFolder(root=str(p)) for p in root.iterdir() if p.is_dir()) if root.is_dir() else ()
    mark = newest(run.final / "run.yaml" for run in runs if not run.missing_final_files())
    if mark is None:
        raise ValueError(
            f"no finished run under {root}: run the pipeline first or set params.model to a run folder (runs/<name>)"
        )
    return mark.parents[1]


def resolve_latest(value: str, work_dir: str | Path, find: Callable[[str | Path], Path]) -> str:
    """`value` itself, or for 'latest' the folder `find(work_dir)` returns."""
    return str(find(work_dir)) if value == LATEST else value
