"""The special value 'latest' in a folder parameter: the newest such folder a flow wrote under the work dir.

A deployment's defaults cannot name a tokenized dataset or a training run in advance (their folder names carry
content hashes), so they say 'latest'; the parameter models resolve it when they are validated, which makes a flow
run from the UI fail at once, naming the parameter to fill, when there is nothing to resolve it to.
"""

from collections.abc import Callable, Iterable
from pathlib import Path

from contracts.run_folder import FINAL_DIR, RUN_CONFIG_FILE, RunFolder
from ledger.errors import InputNotFound, ParameterError
from ledger.work_store import is_store_url, join, parent

LATEST = "latest"


_NO_DATASET = (
    "no tokenized dataset{} under {}: run prepare-data (with a model) first, "
    "or set params.dataset to a tokenized dataset folder (datasets/tokenized-...)"
)
_NO_RUN = "no finished run{} under {}: run the pipeline first or set params.model to a run folder (runs/<name>)"


def newest(paths: Iterable[Path]) -> Path | None:
    """The most recently modified path (ties: the last by name), or None when there is none."""
    return max(paths, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()), default=None)


def newest_first(folder: str | Path, pattern: str) -> list[str]:
    """Paths (URLs in a store) matching `pattern` below a folder, the most recently modified first."""
    if not is_store_url(folder):
        found = Path(folder).glob(pattern)
        return [str(p) for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()), reverse=True)]
    from ledger.work_store import store_of

    fs, root = store_of(str(folder))
    protocol = str(folder).split("://", 1)[0]
    found = sorted(fs.glob(f"{root.rstrip('/')}/{pattern}"), key=lambda p: (fs.modified(p), p), reverse=True)
    return [f"{protocol}://{p.lstrip('/')}" for p in found]  # memory:// paths start with '/


def _read_text(path: str) -> str | None:
    if not is_store_url(path):
        return Path(path).read_text(encoding="utf-8") if Path(path).is_file() else None
    from ledger.work_store import store_of

    fs, root = store_of(path)
    return fs.cat_file(root).decode("utf-8") if fs.exists(root) else None


def made_from(dataset: str, source: str) -> bool:
    """The dataset folder was prepared from `source`: the input it names, or that input's file name."""
    import json

    from contracts.dataset import PREPARE_PARAMS_FILE  # here, not at the top: it pulls pandas into every params import

    text = _read_text(join(dataset, PREPARE_PARAMS_FILE))
    used = str(json.loads(text).get("input", "")).rstrip("/") if text else ""
    return bool(used) and source.rstrip("/") in (used, used.rsplit("/", 1)[-1])


def latest_dataset(work_dir: str | Path, source: str | None = None) -> Path | str:
    """The newest complete tokenized dataset folder under <work_dir>/datasets (a URL in a shared store); with
    `source`, the newest prepared from that input (its path or file name)."""
    from contracts.dataset import MANIFEST_FILE  # written last by tokenize_dataset: a complete dataset has it

    root = join(str(work_dir), "datasets")
    for manifest in newest_first(root, f"*/{MANIFEST_FILE}"):
        folder = parent(manifest)
        if source is None or made_from(folder, source):
            return folder if is_store_url(folder) else Path(folder)
    raise ParameterError(_NO_DATASET.format(f" prepared from {source}" if source else "", root))


def latest_run(work_dir: str | Path, name: str | None = None) -> Path | str:
    """The most recently finished training run under <work_dir>/runs: one whose final/ holds all prediction needs
    (a crashed or running one does not), newest by its final/run.yaml (copied there once the rest is saved); with
    `name`, the newest whose name starts with it."""
    root = join(str(work_dir), "runs")
    # in a store, run.yaml is the last file uploaded to final/ (ledger.work_store.COMPLETION_MARKERS): its run is whole
    for mark in newest_first(root, f"*/{FINAL_DIR}/{RUN_CONFIG_FILE}"):
        run = parent(parent(mark))
        complete = is_store_url(run) or not RunFolder(root=run).missing_final_files()
        if complete and (name is None or run.rstrip("/").rsplit("/", 1)[-1].startswith(name)):
            return run if is_store_url(run) else Path(run)
    raise ParameterError(_NO_RUN.format(f" named {name}*" if name else "", root))


def resolve_latest(value: str, work_dir: str | Path, find: Callable[..., Path | str]) -> str:
    """`value` itself, or for 'latest' the folder `find(work_dir)` returns; 'latest:<what>' narrows the choice
    (a dataset: prepared from that input; a run: whose name starts with it)."""
    if value == LATEST:
        return str(find(work_dir))
    if value.startswith(f"{LATEST}:") and value[len(LATEST) + 1 :]:
        return str(find(work_dir, value[len(LATEST) + 1 :]))
    return value


def warm_start_folder(value: str, work_dir: str | Path) -> Path:
    """The final/ folder of the run a warm start begins from: 'latest' (or 'latest:<name>') the newest finished
    run under <work_dir>/runs, else a run folder or its final/; it must hold a whole finished run."""
    folder = RunFolder.of(resolve_latest(value, work_dir, latest_run))
    if is_store_url(folder.root):
        raise ParameterError(
            f"warm_start={value}: a run in a shared store is not supported yet; give a local run folder"
        )
    if not Path(folder.root).is_dir():
        raise InputNotFound(f"warm_start={value}: {folder.root} is no run folder (runs/<name>)")
    if missing := folder.missing_final_files():
        raise ParameterError(f"warm_start={value}: {folder.final} is not a finished run (missing {', '.join(missing)})")
    return Path(folder.final)
