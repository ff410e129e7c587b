"""Ingest: find the ledger file(s), read them, map headers to canonical names, describe what came in."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
from prefect import task
from prefect.cache_policies import CachePolicy
from pydantic import BaseModel

from ledger.caching import STAGE
from ledger.cells import parse_amounts
from ledger.columns import column_spec, known_headers, match_columns, missing_required
from ledger.frames import StageResult, read_frame, sha256_file, write_frame
from ledger.readers import LedgerFileError, read_ledger_file
from params.prepare import IngestParams
from schemas import Ledger, RawLedger

GLOB_CHARS = set("*?[")


class InputFile(BaseModel):
    url: str
    size: int
    sha256: str


class InputSet(BaseModel):
    """The resolved input files and one fingerprint over their contents."""

    source: str
    files: list[InputFile]
    fingerprint: str


def resolve_sources(source: str, extensions: list[str]) -> list[str]:
    """A file, a folder or a glob (any fsspec URL) -> sorted file URLs."""
    fs, path = fsspec.core.url_to_fs(source)
    if GLOB_CHARS & set(path):
        paths = fs.glob(path)
    elif fs.isdir(path):
        paths = [p for p in fs.find(path) if any(p.lower().endswith(e) for e in extensions)]
    elif fs.exists(path):
        paths = [path]
    else:
        raise FileNotFoundError(f"{source}: no such file or folder")
    paths = sorted(p for p in paths if fs.isfile(p))
    if not paths:
        raise FileNotFoundError(f"{source}: matched no ledger files (extensions {extensions})")
    return [fs.unstrip_protocol(p) for p in paths]


@dataclass
class FileStatCache(CachePolicy):
    """Key on the files' names, sizes and modification stamps: a changed file is re-hashed, nothing else."""

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs) -> str:
        urls = resolve_sources(inputs["source"], inputs["params"].file_extensions)
        stats = []
        for url in urls:
            fs, path = fsspec.core.url_to_fs(url)
            info = fs.info(path)
            stamp = {k: str(info.get(k)) for k in ("size", "mtime", "LastModified", "ETag", "created")}
            stats.append([url, stamp])
        return hashlib.sha256(json.dumps(stats, sort_keys=True).encode()).hexdigest()


def _content_hash(url: str) -> InputFile:
    fs, path = fsspec.core.url_to_fs(url)
    if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol:
        return InputFile(url=url, size=fs.size(path), sha256=sha256_file(path))
    digest = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return InputFile(url=url, size=fs.size(path), sha256=digest.hexdigest())


@task(cache_policy=FileStatCache(), persist_result=True)
def fingerprint_input(source: str, params: IngestParams) -> InputSet:
    """Resolve the input files and hash their contents."""
    files = [_content_hash(url) for url in resolve_sources(source, params.file_extensions)]
    combined = hashlib.sha256("".join(f.url + f.sha256 for f in files).encode()).hexdigest()[:20]
    return InputSet(source=source, files=files, fingerprint=combined)


@task(**STAGE)
def load_ledger(inputs: InputSet, params: IngestParams, labels_required: bool, work_dir: str) -> StageResult:
    """Read every input file as text cells, keeping the source file and row of each row."""
    spec = column_spec(params)
    known = known_headers(spec)
    frames, reports = [], []
    for file in inputs.files:
        df, report = read_ledger_file(file.url, known, params.encodings, params.sheet, params.header_search_rows)
        if problems := missing_required(report, spec, labels_required):
            raise LedgerFileError(file.url, "; ".join(problems) + f". Headers in the file: {report.headers}")
        lines = report.row_lines or range(report.header_row + 1, report.header_row + 1 + len(df))
        df.insert(0, "source_row", lines)
        df.insert(0, "source_file", file.url)
        frames.append(df)
        reports.append(report)
    raw = pd.concat(frames, ignore_index=True)
    raw.insert(0, "row_id", range(len(raw)))
    data = write_frame(raw, RawLedger, work_dir, "load")
    return StageResult(data=data, report={"files": [r.model_dump() for r in reports]})


@task(**STAGE)
def standardize_columns(raw: StageResult, params: IngestParams, work_dir: str) -> StageResult:
    """Rename headers to canonical names (conf aliases); unknown headers are dropped and reported."""
    spec = column_spec(params)
    df = read_frame(raw.data, RawLedger, "load output")
    out = df[["row_id", "source_file", "source_row"]].copy()
    mappings, unmapped = {}, set()
    for file in raw.report["files"]:
        mapping = match_columns(file["headers"], spec)
        mappings[file["url"]] = mapping
        unmapped |= set(file["headers"]) - set(mapping)
    for url, mapping in mappings.items():
        # each file's rows take each column from that file's own header, never from another file's
        rows = df["source_file"] == url
        for header, canonical in mapping.items():
            if canonical not in out.columns:
                out[canonical] = pd.Series(pd.NA, index=out.index, dtype="str")
            out.loc[rows, canonical] = df.loc[rows, header].astype("str")
    data = write_frame(out, Ledger, work_dir, "standardize")
    return StageResult(data=data, report={"mapping": mappings, "unmapped_headers": sorted(unmapped)})


@task(**STAGE)
def extract_metadata(ledger: StageResult, loaded: StageResult) -> dict:
    """Rows, columns, dtypes, nulls and basic stats of the standardized ledger."""
    df = read_frame(ledger.data, Ledger, "standardize output")
    columns = {}
    for name in df.columns.drop(["row_id", "source_row"]):
        col = df[name]
        top = col.value_counts().head(3)
        columns[name] = {
            "dtype": str(col.dtype),
            "nulls": int(col.isna().sum()),
            "unique": int(col.nunique()),
            "top": {str(k): int(v) for k, v in top.items()},
        }
    amounts = parse_amounts(df["amount"])
    return {
        "rows": len(df),
        "files": loaded.report["files"],
        "columns": columns,
        "unmapped_headers": ledger.report["unmapped_headers"],
        "amount": {k: float(v) for k, v in amounts.describe().items()} if amounts.notna().any() else {},
    }
