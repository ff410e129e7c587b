"""Which files an input names (a file, a folder or a glob; any fsspec URL), and which of them are left out and why:
a folder or glob never skips a file without saying so."""

import fsspec
from pydantic import BaseModel

from ledger.errors import InputNotFound
from ledger.work_store import NativeUrl

GLOB_CHARS = set("*?[")
# written by the operating system or an open Excel window: never a ledger, and listed as such
SYSTEM_FILES = {
    ".ds_store": "a macOS folder index",
    "thumbs.db": "a Windows thumbnail cache",
    "desktop.ini": "a Windows folder setting",
}


class SkippedFile(BaseModel):
    url: NativeUrl
    reason: str


class Sources(BaseModel):
    urls: list[str]
    skipped: list[SkippedFile] = []


def _skip_reason(path: str, extensions: list[str]) -> str | None:
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower in SYSTEM_FILES:
        return SYSTEM_FILES[lower]
    if lower.startswith("~$"):
        return "the lock file of a workbook open in Excel (close the workbook)"
    if not any(lower.endswith(e) for e in extensions):
        suffix = "." + lower.rsplit(".", 1)[-1] if "." in name else "no extension"
        return f"not a ledger file type ({suffix}; read: {' '.join(extensions)}; ingest.file_extensions)"
    return None


def _beside_predictions(path: str, files: set[str]) -> str | None:
    """The review and rejects csv predict writes beside a prediction file: not ledgers of their own."""
    for suffix, what in ((".review.csv", "its review lines, repeated: 확정 계정코드 is read from"),
                         (".rejects.csv", "the rows predict could not classify from")):  # fmt: skip
        if path.lower().endswith(suffix):
            stem = path[: -len(suffix)]
            beside = next((stem + e for e in (".csv", ".xlsx") if stem + e in files), None)
            if beside is not None:
                return f"written by predict beside {beside.rsplit('/', 1)[-1]} ({what} that file)"
    return None


def find_sources(source: str, extensions: list[str]) -> Sources:
    """A file, a folder (recursive) or a glob -> the ledger files to read, sorted, and the files left out with why."""
    fs, path = fsspec.core.url_to_fs(source)
    if GLOB_CHARS & set(path):
        paths, given = fs.glob(path), False
    elif fs.isdir(path):
        paths, given = fs.find(path), False
    elif fs.exists(path):
        paths, given = [path], True
    else:
        raise InputNotFound(f"{source}: no such file or folder")
    urls, skipped = [], []
    files = sorted(p for p in paths if fs.isfile(p))
    for p in files:
        reason = None if given else _skip_reason(p, extensions) or _beside_predictions(p, set(files))
        if reason is None:
            urls.append(fs.unstrip_protocol(p))
        else:
            skipped.append(SkippedFile(url=fs.unstrip_protocol(p), reason=reason))
    if not urls:
        listed = "; ".join(f"{s.url.rsplit('/', 1)[-1]}: {s.reason}" for s in skipped[:5])
        raise InputNotFound(
            f"{source}: matched no ledger files (extensions {extensions}){'; ' + listed if listed else ''}"
        )
    return Sources(urls=urls, skipped=skipped)
