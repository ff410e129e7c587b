"""Cache keys built from input fingerprints, parameters and code, never from pickled frames (no Prefect here:
the Prefect cache policy that uses them is tasks.caching.StageCache)."""

import hashlib
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from ledger import work_store
from ledger.code_closure import code_fingerprint
from ledger.conf import CONF_FILE, conf_path
from ledger.errors import InputNotFound
from ledger.frames import OUTPUT_PATH

MAX_STALE_RECORDS = 20


# Files of a model folder that decide how text is tokenized and how the head is built (not the weights).
MODEL_META_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
)


def model_fingerprint(model_path: str) -> str:
    """Hash of a model folder's tokenizer and config files (a different tokenizer -> a different key)."""
    digest = hashlib.sha256()
    folder = work_store.pull(model_path) if work_store.is_store_url(model_path) else Path(model_path)
    if not folder.is_dir():
        raise InputNotFound(f"model path {model_path} is not a folder (a local model or hub-cache snapshot)")
    for name in MODEL_META_FILES:
        if (folder / name).is_file():
            digest.update(name.encode())
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
EDGE_BYTES = 1 << 20  # hashed at each end of a weights file


def weights_fingerprint(folder: str | Path) -> str:
    """Per weights file of a model folder (subfolders too): name, size, mtime and the hash of its first and last
    MiB. Weights replaced at the same path change it; a full hash of 8 GB on every cache lookup would not pay."""
    digest = hashlib.sha256()
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()) if root.is_dir() else []
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(EDGE_BYTES))
            handle.seek(max(0, stat.st_size - EDGE_BYTES))
            digest.update(handle.read(EDGE_BYTES))
    return digest.hexdigest()


def conf_files(value: Any) -> dict[str, str]:
    """sha256 of every conf file a parameter model names (fields marked ConfFile), nested sections included."""
    found: dict[str, str] = {}
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            field = getattr(value, name)
            if CONF_FILE in info.metadata and field:
                path = conf_path(field)
                found[str(field)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
            else:
                found.update(conf_files(field))
    elif isinstance(value, list | tuple):
        for item in value:
            found.update(conf_files(item))
    return found


def file_fingerprint(path: str | None) -> str | None:
    """sha256 of a local file's bytes (None: no file given, or none there: the task itself says so)."""
    if not path or "://" in str(path).removeprefix("file://") or not Path(str(path).removeprefix("file://")).is_file():
        return None
    from ledger.frames import sha256_file

    return sha256_file(str(path).removeprefix("file://"))


def key_with_outputs(key: str, store) -> str:
    """The key, or a successor of it when the record stored under it points at files that are gone.

    Prefect would return such a record as Cached; the successor has no record (the task runs again) or a
    record whose files exist. Deterministic, so the next run finds the new record under the same successor.
    """
    for _ in range(MAX_STALE_RECORDS):
        try:
            if store is None or not store.exists(key):
                return key
            gone = missing_outputs(store.read(key).result)
        except Exception:  # an unreadable record: let Prefect decide, as it would without this check
            return key
        if not gone:
            return key
        key = hashlib.sha256(f"{key}:outputs-gone".encode()).hexdigest()
    return key


def missing_outputs(value: Any) -> list[str]:
    """Paths of the fields marked OutputPath (nested models, lists and dicts included) that no longer exist."""
    gone: list[str] = []
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            field = getattr(value, name)
            if marks_output(info) and isinstance(field, str):
                if not output_exists(field):
                    gone.append(field)
            else:
                gone += missing_outputs(field)
    elif isinstance(value, dict):
        for item in value.values():
            gone += missing_outputs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            gone += missing_outputs(item)
    return gone


def marks_output(info) -> bool:
    """A model field typed OutputPath, or OutputPath | None (whose marker sits inside the union, not on the field)."""
    return OUTPUT_PATH in info.metadata or any(
        OUTPUT_PATH in getattr(arg, "__metadata__", ()) for arg in get_args(info.annotation)
    )


def output_exists(path: str) -> bool:
    """A task's output file or folder is still there: on this disk, or in the shared store for a store URL."""
    if work_store.is_store_url(path):
        fs, root = work_store.store_of(path)
        return fs.exists(root)
    local = path.removeprefix("file://")
    return "://" in local or Path(local).exists()


def task_code(module_file: str, programs: tuple[str, ...] = ()) -> str:
    """Fingerprint of the code a task runs: its module's import closure and that of each launched program."""
    from ledger.code_closure import module_path

    parts = [code_fingerprint(module_file)]
    for program in programs:
        path = module_path(program)
        if path is None:
            raise ValueError(f"StageCache.programs: {program!r} is not a module of this project")
        parts.append(code_fingerprint(str(path)))
    return hashlib.sha256("".join(parts).encode()).hexdigest()
