"""The special value 'latest' in a folder parameter: the newest such folder a flow wrote under the work dir.

A deployment's defaults cannot name a tokenized dataset or a training run in advance (their folder names carry
content hashes), so they say 'latest'; the parameter models resolve it when they are validated, which makes a flow
run from the UI fail at once, naming the parameter to fill, when there is nothing to resolve it to.
"""

from collections.abc import Callable, Iterable
from pathlib import Path

from contracts.run_folder import RunFolder
from ledger.work_store import is_store_url, join, parent

LATEST = "latest"
# contracts.dataset.MANIFEST_FILE, written last by tokenize_dataset (a complete dataset has it); not imported from
# there, as that module pulls pandas and pandera into every parameter import (a test keeps the two equal)
DATASET_MANIFEST = "dataset.json"


_NO_DATASET = (
    "no tokenized dataset under {}: run prepare-data (with a model) first, "
    "or set params.dataset to a tokenized dataset folder (datasets/tokenized-...)"
)
_NO_RUN = "no finished run under {}: run the pipeline first or set params.model to a run folder (runs/<name>)"


def newest(paths: Iterable[Path]) -> Path | None:
    """The most recently modified path (ties: the last by name), or None when there is none."""
    return max(paths, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()), default=None)


def newest_in_store(url: str, pattern: str) -> str | None:
    """The URL of the most recently modified object matching `pattern` below a store folder, or None."""
    from ledger.work_store import store_of

    fs, root = store_of(url)
    found = fs.glob(f"{root.rstrip('/')}/{pattern}")
    if not found:
        return None
    path = max(found, key=lambda p: (fs.modified(p), p))
    return f"{url.split('://', 1)[0]}://{path}"


def latest_dataset(work_dir: str | Path) -> Path | str:
    """The newest complete tokenized dataset folder under <work_dir>/datasets (a URL in a shared store)."""
    if is_store_url(work_dir):
        manifest = newest_in_store(join(str(work_dir), "datasets"), f"*/{DATASET_MANIFEST}")
        return _found(manifest and parent(manifest), join(str(work_dir), "datasets"), _NO_DATASET)
    root = Path(work_dir) / "datasets"
    manifest = newest(root.glob(f"*/{DATASET_MANIFEST}"))
    if manifest is None:
        raise ValueError(_NO_DATASET.format(root))
    return manifest.parent


def latest_run(work_dir: str | Path) -> Path | str:
    """The most recently finished training run under <work_dir>/runs: one whose final/ holds all prediction needs
    (a crashed or running one does not), newest by its final/run.yaml (copied there once the rest is saved)."""
    if is_store_url(work_dir):
        # run.yaml is the last file uploaded to final/ (ledger.work_store.COMPLETION_MARKERS): its run is whole
        mark = newest_in_store(join(str(work_dir), "runs"), "*/final/run.yaml")
        return _found(mark and parent(parent(mark)), join(str(work_dir), "runs"), _NO_RUN)
    root = Path(work_dir) / "runs"
    runs = (RunFolder(root=str(p)) for p in root.iterdir() if p.is_dir()) if root.is_dir() else ()
    mark = newest(run.final / "run.yaml" for run in runs if not run.missing_final_files())
    if mark is None:
        raise ValueError(_NO_RUN.format(root))
    return mark.parents[1]


def _found(url: str | None, root: str, message: str) -> str:
    if url is None:
        raise ValueError(message.format(root))
    return url


def resolve_latest(value: str, work_dir: str | Path, find: Callable[[str | Path], Path | str]) -> str:
    """`value` itself, or for 'latest' the folder `find(work_dir)` returns."""
    return str(find(work_dir)) if value == LATEST else value
