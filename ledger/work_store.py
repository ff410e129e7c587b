"""A work dir in object storage (s3://, gs://, az://, memory://): each host works on a local copy, keyed by URL.

Tasks read and write local files as they always did. `on_store` wraps a task function so that, when its
arguments name store URLs, they become paths in this host's cache (`$ACCOUNT_TAX_CACHE`, default
~/.cache/account-tax/store/<protocol>/<bucket>/<key>): a file or folder is downloaded once (stage outputs and
datasets have content-hashed names, so the cache is keyed by content), a work dir is only mapped. What the task
wrote under those folders is uploaded when it returns, a folder's completion marker last, and the paths it returns
become store URLs again, so a Prefect record written on one host means the same files on any other.
What is done with a URL follows from its declared type, never from its name: a parameter or model field typed
`WorkDir`, `OutputFile` or `NativeUrl` (`UrlRecord` for a dict) is mapped, mapped for upload or left as the URL;
anything unmarked is downloaded.
Local and NFS paths pass through untouched. Never imports prefect.
"""

import functools
import json
import os
import posixpath
import re
import typing
import uuid
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel

from ledger.errors import ParameterError

CACHE_ENV = "ACCOUNT_TAX_CACHE"
# protocols of shared stores; anything else (a local path, file://, http:// of an MLflow server, models:/) passes
STORE_PROTOCOLS = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory")
URL = re.compile(r"^([a-z][a-z0-9+.-]*)://")
# not uploaded by the generic push: checkpoints go through training.checkpoint_store (manifest last), the MLflow
# store and logs are this host's own
PRIVATE_NAMES = frozenset({"checkpoints", "mlruns", "logs", "mlflow.db", "mlflow.db-journal"})
# object metadata that changes with every upload, by store (s3fs, gcsfs, adlfs; local and memory stores)
VERSION_KEYS = ("ETag", "etag", "md5Hash", "LastModified", "last_modified", "mtime", "created")
# written last in a folder: a reader that finds them finds the rest (dataset, run's final/, checkpoint, baseline).
# Named here, the lowest room, so that the contracts spell their files by these (contracts.dataset, run_folder,
# calibration; training.checkpoint_store) and a rename cannot leave the upload order behind.
DATASET_MANIFEST_FILE = "dataset.json"
RUN_CONFIG_FILE = "run.yaml"
CHECKPOINT_MANIFEST_FILE = "CHECKPOINT_COMPLETE.json"
CALIBRATION_FILE = "calibration.json"
COMPLETION_MARKERS = (DATASET_MANIFEST_FILE, RUN_CONFIG_FILE, CHECKPOINT_MANIFEST_FILE, CALIBRATION_FILE)
# this host's bookkeeping beside synced files (the store version a copy matches, a download in flight): never shipped
SYNC_RECORDS = (".*.synced", ".*.part-*")


class StoreRole(Enum):
    """What `on_store` does with a store URL, declared in a type's Annotated metadata (see WorkDir below). A value
    with no role is an input: downloaded to this host (a file, or a folder less its checkpoints)."""

    WORK_DIR = "work dir"  # mapped to this host's copy, never downloaded whole; what the task writes in it is uploaded
    OUTPUT = "output"  # a file yet to be written: mapped; what appears in its folder is uploaded
    NATIVE = "native"  # read through fsspec by the task itself, or only recorded: left as the URL

    def __repr__(self) -> str:
        return f"StoreRole.{self.name}"


# A work dir (or another folder the task writes into): mapped to this host's copy, never downloaded whole.
WorkDir = Annotated[str, StoreRole.WORK_DIR]
# An output file yet to be written: mapped, and what appears in its folder is uploaded.
OutputFile = Annotated[str, StoreRole.OUTPUT]
# A URL the task reads through fsspec itself (the ledger files, a tracking or checkpoint store): left as a URL.
NativeUrl = Annotated[str, StoreRole.NATIVE]
# A record that names files without reading them (a stage report, logged parameters): its URLs are left as they are.
UrlRecord = Annotated[dict, StoreRole.NATIVE]

_NONE = type(None)


def role_of(annotation: Any) -> StoreRole | None:
    """The store role a type declares: its Annotated marker, looked for through Optional and unions (`WorkDir |
    None`) and containers (`list[NativeUrl]`); None for an unmarked type. A union of two roles is an error."""
    if typing.get_origin(annotation) is Annotated:
        declared = [m for m in annotation.__metadata__ if isinstance(m, StoreRole)]
        return declared[-1] if declared else role_of(annotation.__origin__)
    roles = {role_of(arg) for arg in typing.get_args(annotation) if arg is not _NONE} - {None}
    if len(roles) > 1:
        raise TypeError(f"{annotation}: one value, two store roles ({', '.join(sorted(r.name for r in roles))})")
    return roles.pop() if roles else None


@functools.cache
def field_roles(model: type[BaseModel]) -> dict[str, StoreRole | None]:
    """A pydantic model's fields -> the store role each declares (None: unmarked)."""
    found = {}
    for name, info in model.model_fields.items():
        declared = [m for m in info.metadata if isinstance(m, StoreRole)]  # `x: WorkDir` (pydantic lifts it here)
        found[name] = declared[-1] if declared else role_of(info.annotation)  # `x: WorkDir | None`, `list[...]`
    return found


def parameter_roles(fn: Callable) -> dict[str, StoreRole | None]:
    """A function's parameters -> the store role each one's annotation declares (None: unmarked)."""
    import inspect

    hints = typing.get_type_hints(fn, include_extras=True)
    return {name: role_of(hints.get(name)) for name in inspect.signature(fn).parameters}


def is_store_url(value: object) -> bool:
    """A URL of a shared object store (not a local path, file:// or an MLflow/HTTP address)."""
    match = URL.match(value) if isinstance(value, str) else None
    return bool(match) and match.group(1) in STORE_PROTOCOLS


def cache_root() -> Path:
    """This host's copy of the stores: $ACCOUNT_TAX_CACHE or ~/.cache/account-tax/store."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "account-tax" / "store").expanduser()


def local_path(url: str) -> Path:
    """Where this host keeps its copy of a store URL."""
    protocol, rest = url.split("://", 1)
    parts = [p for p in rest.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ParameterError(f"{url}: '..' in a store URL")
    return cache_root().joinpath(protocol, *parts)


def remote_url(path: str | Path) -> str | None:
    """The store URL a local cache path stands for; None for a path outside the cache."""
    try:
        relative = Path(path).resolve().relative_to(cache_root().resolve())
    except ValueError:
        return None
    protocol, *parts = relative.parts or ("",)
    return f"{protocol}://{'/'.join(parts)}" if protocol in STORE_PROTOCOLS else None


def store_of(url: str):
    """(filesystem, path) for a store URL; credentials and endpoints from the usual environment (AWS_*, ...)."""
    from fsspec.core import url_to_fs

    return url_to_fs(url)


def join(base: str, *parts: str) -> str:
    """A path below a folder that may be a store URL (pathlib would turn s3:// into s3:/)."""
    return posixpath.join(base.rstrip("/"), *parts) if is_store_url(base) else str(Path(base).joinpath(*parts))


def parent(path: str) -> str:
    """The folder holding a path that may be a store URL."""
    return posixpath.dirname(path.rstrip("/")) if is_store_url(path) else str(Path(path).parent)


def _markers_last(relative: str) -> tuple[bool, str]:
    return posixpath.basename(relative) in COMPLETION_MARKERS, relative


def _private(relative: str) -> bool:
    name = posixpath.basename(relative)
    return name.startswith(".") or any(part in PRIVATE_NAMES for part in relative.split("/"))


def pull(url: str) -> Path:
    """This host's copy of a file or folder in the store, downloading what is missing (a folder's checkpoints
    excepted). A URL that names nothing (yet) is only mapped."""
    fs, root = store_of(url)
    local = local_path(url)
    if not fs.exists(root):
        return local
    if fs.isfile(root):
        info = fs.info(root)
        if _stale(local, info):
            _download(fs, root, local, info)
        return local
    root = root.rstrip("/")
    for remote, info in sorted(fs.find(root, detail=True).items()):
        relative = posixpath.relpath(remote, root)
        target = local.joinpath(*relative.split("/"))
        if "checkpoints" in relative.split("/") or info.get("type", "file") != "file":
            continue
        if _stale(target, info):
            _download(fs, remote, target, info)
    return local


def _version(info: dict) -> str:
    """What tells one upload of an object from another: its ETag (S3, GCS, Azure) or modification time, and size."""
    stamp = next((info[k] for k in VERSION_KEYS if info.get(k) is not None), None)
    return json.dumps([info.get("size"), str(stamp)])


def _synced(local: Path) -> Path:
    return local.with_name(f".{local.name}.synced")  # a dotfile: never uploaded


def _record(local: Path, info: dict) -> None:
    """Remember which store version this host's copy matches."""
    _synced(local).write_text(_version(info), encoding="utf-8")


def _stale(local: Path, info: dict) -> bool:
    """The local copy is missing, or the store holds another version than the one this copy was synced with (a
    copy this host changed since, such as a log it appends to, is kept). Names are reused by run folders: a run
    resumed on another host rewrites its final/ weights at the same size."""
    if not local.is_file():
        return True
    record = _synced(local)
    if not record.is_file():  # a copy made before these records: its size decides
        return local.stat().st_size != info.get("size")
    if record.read_text(encoding="utf-8") == _version(info):
        return False
    return local.stat().st_mtime_ns <= record.stat().st_mtime_ns


def _download(fs, remote: str, target: Path, info: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part-{uuid.uuid4().hex[:8]}")
    fs.get_file(remote, str(part))
    os.replace(part, target)  # a reader never sees half a file
    _record(target, info)


def _upload(fs, source: Path, remote: str) -> None:
    fs.makedirs(posixpath.dirname(remote), exist_ok=True)  # a local or NFS store needs the folders
    fs.put_file(str(source), remote)
    _record(source, fs.info(remote))


def push(local: str | Path, url: str, only: set[str] | None = None) -> int:
    """Upload a local file, or a folder's files (all, or the relative paths in `only`), completion markers last;
    the number of files sent."""
    fs, root = store_of(url)
    local = Path(local)
    if local.is_file():
        _upload(fs, local, root)
        return 1
    files = only if only is not None else {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    sent = 0
    for relative in sorted((f for f in files if not _private(f)), key=_markers_last):
        source = local / relative
        if source.is_file():
            _upload(fs, source, posixpath.join(root.rstrip("/"), relative))
            sent += 1
    return sent


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime) of the files under a folder, checkpoints and private files left out."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in PRIVATE_NAMES]
        for name in filenames:
            path = Path(dirpath, name)
            with_stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (with_stat.st_size, with_stat.st_mtime_ns)
    return found


class Localized:
    """The store URLs met in a task's arguments, replaced by local paths; what to upload afterwards."""

    def __init__(self) -> None:
        self.folders: dict[str, Path] = {}  # url -> local folder whose new files are uploaded after the task
        self.files: dict[str, Path] = {}  # url -> local file (maybe written by the task)

    def value(self, value: Any, role: StoreRole | None = None) -> Any:
        """`value` with every store URL in it (nested models, dicts, lists) turned into its local copy, as the
        role declared for it (or, inside, for each model field) says."""
        return map_strings(value, self._url, role)

    def _url(self, url: str, role: StoreRole | None) -> str:
        if not is_store_url(url) or role is StoreRole.NATIVE:
            return url
        url = url.rstrip("/")
        local = local_path(url) if role in (StoreRole.WORK_DIR, StoreRole.OUTPUT) else pull(url)
        if local.is_file():
            self.files[url] = local
        elif role is StoreRole.WORK_DIR or (local.is_dir() and role is not StoreRole.OUTPUT):
            local.mkdir(parents=True, exist_ok=True)
            self.folders[url] = local
        else:  # an output to be written (a file, or files beside it): what appears in its folder is uploaded
            local.parent.mkdir(parents=True, exist_ok=True)
            self.folders.setdefault(parent(url), local.parent)
        return str(local)

    def before(self) -> dict[str, dict[str, tuple[int, int]]]:
        return {url: snapshot(folder) for url, folder in self.folders.items() if folder.is_dir()}

    def upload(self, before: dict[str, dict[str, tuple[int, int]]]) -> None:
        """Send what the task wrote or changed under the folders (and files) it was given."""
        done: set[Path] = set()
        for url, folder in sorted(self.folders.items(), key=lambda item: len(item[0])):
            if any(folder.is_relative_to(d) for d in done) or not folder.exists():
                continue
            old = before.get(url, {})
            changed = {rel for rel, stat in snapshot(folder).items() if old.get(rel) != stat}
            if changed:
                push(folder, url, changed)
            done.add(folder)
        for url, file in self.files.items():
            if file.is_file() and not any(file.is_relative_to(d) for d in done):
                push(file, url)


def map_strings(value: Any, fn: Callable[[str, StoreRole | None], str], role: StoreRole | None = None) -> Any:
    """`value` with fn(string, store role) applied to every string in it (nested models, dicts, lists); the same
    object where nothing changed. A model field's declared role is its strings' role; an unmarked field, a dict's
    values and a list's items take the role of what holds them (dict keys and field names play no part)."""
    if isinstance(value, str):
        return fn(value, role)
    if isinstance(value, BaseModel):
        roles = field_roles(type(value))
        updates = {
            name: new
            for name, declared in roles.items()
            if (new := map_strings(old := getattr(value, name), fn, declared or role)) is not old
        }
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, dict):
        new = {k: map_strings(v, fn, role) for k, v in value.items()}
        return new if any(new[k] is not value[k] for k in value) else value
    if isinstance(value, list | tuple):
        new = [map_strings(v, fn, role) for v in value]
        return type(value)(new) if any(a is not b for a, b in zip(new, value, strict=True)) else value
    return value


def _portable(value: str, role: StoreRole | None = None) -> str:
    root = cache_root()  # a task may name it as given or resolved (symlinks, a relative $ACCOUNT_TAX_CACHE)
    url = remote_url(value) if value.startswith((str(root), str(root.resolve()))) else None
    return url or value


def portable(value: Any) -> Any:
    """`value` with every path into this host's cache written as its store URL (for files that name paths:
    another host reads the same thing)."""
    return map_strings(value, _portable)


def localize(value: Any, only: frozenset[str] | None = None) -> Any:
    """`value` with every store URL in it replaced by this host's copy (downloaded when missing, or mapped, as each
    field's role says); with `only`, a model's fields of those names alone (the others keep their URLs). A name in
    `only` that the model lacks is an error: a renamed field is not silently left as a URL."""
    localized = Localized()
    if only is None:
        return localized.value(value)
    if not isinstance(value, BaseModel):
        raise TypeError(f"localize(only=...) selects fields of a pydantic model, not of {type(value).__name__}")
    roles = field_roles(type(value))
    if unknown := sorted(only - set(roles)):
        raise ParameterError(f"{type(value).__name__} has no field {', '.join(unknown)} to fetch")
    updates = {
        name: new for name in only if (new := localized.value(old := getattr(value, name), roles[name])) is not old
    }
    return value.model_copy(update=updates) if updates else value


def _published(value: str, role: StoreRole | None = None) -> str:
    url = _portable(value)
    if url is not value:
        fs, root = store_of(url)
        if not fs.exists(root) and Path(value).exists():
            push(value, url)
    return url


def publish(value: Any) -> Any:
    """`value` with every path into this host's cache turned back into its store URL (uploading what is missing)."""
    return map_strings(value, _published)


def _mentions_store(value: Any) -> bool:
    found: list[str] = []
    map_strings(value, lambda text, _: found.append(text) or text if is_store_url(text) else text)
    return bool(found)


def on_store(fn: Callable) -> Callable:
    """Run `fn` on local copies of the store URLs it is given; upload what it wrote; return store URLs. Each
    argument is treated as its parameter's annotation declares (WorkDir, OutputFile, NativeUrl; unmarked:
    downloaded), models field by field as theirs declare; the annotations are read once, here."""
    import inspect

    signature = inspect.signature(fn)
    roles = parameter_roles(fn)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        if not _mentions_store(bound.arguments):
            return fn(*args, **kwargs)
        localized = Localized()
        for name, value in bound.arguments.items():
            bound.arguments[name] = localized.value(value, roles[name])
        before = localized.before()
        result = fn(*bound.args, **bound.kwargs)
        localized.upload(before)
        return publish(result)

    run.store_roles = roles  # what each parameter is, for readers and tests
    return run
