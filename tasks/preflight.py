"""Checks a flow runs first, so a long run fails in seconds (not after hours) on a folder it cannot write."""

import os
import uuid
from pathlib import Path

from prefect import task


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


@task
def check_output_folders(folders: dict[str, str]) -> dict[str, str]:
    """Every output folder the flow will write (parameter name -> folder) exists and takes a file."""
    return {what: str(writable_folder(folder, what)) for what, folder in folders.items()}
