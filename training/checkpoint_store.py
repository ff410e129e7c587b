"""Checkpoints mirrored to shared object storage (any fsspec URL: s3://, gs://, az://, a local or NFS path), so a
run whose host died resumes on another host.

A checkpoint is pushed file by file and its manifest (`CHECKPOINT_COMPLETE.json`: every file with its size) is
written last: a checkpoint without a manifest, or whose files do not match it, was cut off mid-upload and is never
resumed from. Old checkpoints follow the trainer's save_total_limit in the store too. Never imports prefect.
"""

import json
import logging
import posixpath
import shutil
from pathlib import Path

from ledger.errors import InputNotFound
from ledger.work_store import CHECKPOINT_MANIFEST_FILE
from training.checkpoints import CHECKPOINT, checkpoint_problem, list_checkpoints

LOGGER = logging.getLogger(__name__)
MANIFEST = CHECKPOINT_MANIFEST_FILE


class CheckpointStore:
    """<url>/checkpoint-N/... in one store; `url` is the run's checkpoint folder there."""

    def __init__(self, url: str, storage_options: dict | None = None):
        from fsspec.core import url_to_fs

        self.url = url.rstrip("/")
        self.fs, self.root = url_to_fs(self.url, **(storage_options or {}))
        self.root = self.root.rstrip("/")

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def push(self, checkpoint: str | Path) -> str:
        """Upload a complete local checkpoint folder, its manifest last; the checkpoint's name."""
        local = Path(checkpoint)
        files = sorted(p for p in local.rglob("*") if p.is_file())
        sizes = {p.relative_to(local).as_posix(): p.stat().st_size for p in files}
        target = self._path(local.name)
        if self.fs.exists(target):  # a half upload of an earlier try
            self.fs.rm(target, recursive=True)
        for relative in sizes:
            remote = posixpath.join(target, relative)
            self.fs.makedirs(posixpath.dirname(remote), exist_ok=True)  # a local or NFS store needs the folders
            self.fs.put_file(str(local / relative), remote)
        manifest = {"checkpoint": local.name, "files": sizes}
        self.fs.pipe_file(posixpath.join(target, MANIFEST), json.dumps(manifest, indent=1).encode())
        return local.name

    def problem(self, name: str) -> str | None:
        """Why the stored checkpoint cannot be resumed from (None: complete)."""
        target = self._path(name)
        try:
            manifest = json.loads(self.fs.cat_file(posixpath.join(target, MANIFEST)))
        except FileNotFoundError:
            return "no manifest: the upload did not finish"
        stored = {
            posixpath.relpath(info["name"].rstrip("/"), target): info["size"]
            for info in self.fs.find(target, detail=True).values()
            if info.get("type", "file") == "file"
        }
        for relative, size in manifest["files"].items():
            if stored.get(relative) != size:
                return f"{relative}: {stored.get(relative, 'missing')} bytes stored, {size} expected"
        return None

    def names(self) -> list[str]:
        """checkpoint-N folders in the store, newest (highest N) first, complete or not."""
        if not self.fs.exists(self.root):
            return []
        found = [posixpath.basename(p.rstrip("/")) for p in self.fs.ls(self.root, detail=False)]
        found = [name for name in found if CHECKPOINT.match(name)]
        return sorted(found, key=lambda name: int(CHECKPOINT.match(name).group(1)), reverse=True)

    def latest(self) -> str | None:
        """The newest complete checkpoint's name (incomplete ones skipped, with a warning)."""
        for name in self.names():
            if (problem := self.problem(name)) is None:
                return name
            LOGGER.warning("skipping %s/%s in the store: %s", self.url, name, problem)
        return None

    def pull(self, name: str, local_dir: str | Path) -> Path:
        """Download a complete stored checkpoint into local_dir/name (replacing a partial local copy)."""
        if (problem := self.problem(name)) is not None:
            raise InputNotFound(f"{self.url}/{name}: not a complete checkpoint ({problem})")
        local = Path(local_dir) / name
        partial = local.with_name(f".{name}.pulling")
        if partial.exists():
            shutil.rmtree(partial)
        self.fs.get(self._path(name) + "/", str(partial) + "/", recursive=True)
        (partial / MANIFEST).unlink(missing_ok=True)
        if local.exists():
            shutil.rmtree(local)
        partial.rename(local)  # the local checkpoint appears whole or not at all
        return local

    def prune(self, keep: int | None) -> list[str]:
        """Delete all but the `keep` newest complete checkpoints, and incomplete ones older than the newest
        complete one; the names deleted. keep None or <= 0: keep everything."""
        if not keep or keep <= 0:
            return []
        names = self.names()
        complete = [name for name in names if self.problem(name) is None]
        newest = complete[0] if complete else None
        doomed = complete[keep:]
        if newest is not None:
            newest_step = int(CHECKPOINT.match(newest).group(1))
            doomed += [
                name for name in names if name not in complete and int(CHECKPOINT.match(name).group(1)) < newest_step
            ]
        for name in doomed:
            self.fs.rm(self._path(name), recursive=True)
        return doomed


def fetch_named(store_url: str | None, name: str | None, local_dir: str | Path) -> Path | None:
    """A checkpoint asked for by its bare name (resume_from='checkpoint-N') that this host lacks or holds
    incomplete, pulled whole from the store; its local folder, or None when there was nothing to pull."""
    if not store_url or not name or not CHECKPOINT.fullmatch(name):
        return None
    if checkpoint_problem(Path(local_dir) / name) is None:
        return None
    store = CheckpointStore(store_url)
    if name not in store.names() or store.problem(name) is not None:
        return None  # resolve_resume then names what there is
    LOGGER.info("pulling %s/%s from the store", store.url, name)
    return store.pull(name, local_dir)


def step_of(name: str) -> int:
    return int(CHECKPOINT.match(name).group(1))


class CheckpointMirror:
    """The run's local checkpoint folder kept in step with its copy in the store (used by the training flow,
    which follows the program's `checkpoint` events on the host that trains)."""

    def __init__(self, config, logger: logging.Logger | None = None):
        self.config, self.logger = config, logger or LOGGER
        self.store = CheckpointStore(config.checkpoint_store)

    def push(self, checkpoint: str | Path) -> bool:
        """Copy a checkpoint the trainer just saved, then prune the store to save_total_limit. A checkpoint that is
        incomplete or vanishes meanwhile (rotated away) is not pushed: False."""
        folder = Path(checkpoint)
        if (problem := checkpoint_problem(folder)) is not None:
            self.logger.warning("not copying %s to %s: %s", folder.name, self.store.url, problem)
            return False
        try:
            self.store.push(folder)
        except FileNotFoundError as err:  # the trainer rotated it away while it was being copied
            self.logger.warning("copying %s to %s stopped: %s", folder.name, self.store.url, err)
            return False
        pruned = self.store.prune(self.config.trainer.save_total_limit)
        self.logger.info("checkpoint %s copied to %s%s", folder.name, self.store.url,
                         f" (pruned {', '.join(pruned)})" if pruned else "")  # fmt: skip
        return True

    def pull_latest(self) -> str | None:
        """The store's newest complete checkpoint into the local folder when it is newer than any complete local
        one (a fresh host, or another host got further); its name, or None when nothing was pulled."""
        stored = self.store.latest()
        local = next((p for p in list_checkpoints(self.config.checkpoint_dir) if checkpoint_problem(p) is None), None)
        if stored is None or (local is not None and step_of(local.name) >= step_of(stored)):
            return None
        self.store.pull(stored, self.config.checkpoint_dir)
        self.logger.info("resuming from %s/%s, pulled from the store", self.store.url, stored)
        return stored
