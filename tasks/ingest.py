"""Ingest: find the ledger file(s), read them, map headers to canonical names, describe what came in."""

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
from prefect import task
from prefect.cache_policies import CachePolicy
from pydantic import BaseModel

from ledger.caching import task_code
from ledger.cells import parse_amounts, row_digest
from ledger.columns import column_spec, columns_conf, known_headers
from ledger.errors import LedgerFileError, ParameterError
from ledger.frames import StageResult, read_frame, sha256_file, write_frame
from ledger.layouts import load_layout
from ledger.personal_data import PersonalDataReport, load_personal_data, mask_frame, mask_text, names_in
from ledger.profile import ledger_lines, profile_columns
from ledger.readers import FileReport, read_ledger_file
from ledger.sources import SkippedFile, find_sources
from ledger.standardize import chart_codes, standardize_file
from ledger.work_store import NativeUrl, WorkDir, on_store
from params.prepare import IngestParams, PrivacyParams
from schemas import LINE_COLUMNS, PROVENANCE, TRACE_COLUMNS, Ledger, RawLedger
from tasks.caching import STAGE, StageCache


class InputFile(BaseModel):
    url: NativeUrl  # read through fsspec by load_ledger itself
    size: int
    sha256: str


class InputSet(BaseModel):
    """The resolved input files, one fingerprint over their contents, and the files a folder or glob left out."""

    source: NativeUrl
    files: list[InputFile]
    fingerprint: str
    skipped: list[SkippedFile] = []


@dataclass
class FileStatCache(CachePolicy):
    """Key on the files' names, sizes and modification stamps (a changed file is re-hashed, nothing else) and on
    the task's code (a result pickled by older code never comes back as a model it no longer matches)."""

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs) -> str:
        sources = find_sources(inputs["source"], inputs["params"].file_extensions)
        stats = []
        for url in sources.urls + [s.url for s in sources.skipped]:
            fs, path = fsspec.core.url_to_fs(url)
            info = fs.info(path)
            stamp = {k: str(info.get(k)) for k in ("size", "mtime", "LastModified", "ETag", "created")}
            stats.append([url, stamp])
        code = task_code(sys.modules[task_ctx.task.fn.__module__].__file__)
        return hashlib.sha256(json.dumps([code, stats], sort_keys=True).encode()).hexdigest()


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
@on_store
def fingerprint_input(source: NativeUrl, params: IngestParams) -> InputSet:
    """Resolve the input files and hash their contents."""
    sources = find_sources(source, params.file_extensions)
    files = [_content_hash(url) for url in sources.urls]
    combined = hashlib.sha256("".join(f.url + f.sha256 for f in files).encode()).hexdigest()[:20]
    return InputSet(source=source, files=files, fingerprint=combined, skipped=sources.skipped)


# what standardize reads, not this stage: changing it (or --no-labels) re-reads and re-masks no file
LOAD_UNUSED = ("params.columns", "params.year", "privacy.keep_columns")


@task(cache_policy=StageCache(exclude=LOAD_UNUSED), persist_result=True)
@on_store
def load_ledger(
    inputs: InputSet, params: IngestParams, work_dir: WorkDir, privacy: PrivacyParams | None = None
) -> StageResult:
    """Read every input file as text cells, keeping the source file and row of each row; personal data masked."""
    privacy = privacy or PrivacyParams()
    frames, reports, errors = [], [], []
    conf = load_personal_data(privacy.detectors)
    for file in inputs.files:
        try:
            df, report = read_rows(file.url, params)
        except LedgerFileError as err:
            errors.append(masked_error(err, conf, privacy))
            continue
        frames.append(df)
        reports.append(report)
    if errors and (params.on_file_error == "fail" or not frames):
        raise errors[0] if len(inputs.files) == 1 else unreadable_files(inputs.source, errors, len(inputs.files))
    raw = pd.concat(frames, ignore_index=True)
    raw.insert(0, "row_id", range(len(raw)))
    cells = [c for c in raw.columns if c not in (*TRACE_COLUMNS, "row_digest")]
    names = names_in(raw, cells, conf)
    raw, found = mask_frame(raw, cells, conf, privacy.mask, privacy.mask_sole_proprietors, names)
    if privacy.mask:
        sole = privacy.mask_sole_proprietors
        reports = [r.model_copy(update={"title_lines": mask_text(r.title_lines, conf, sole, names)}) for r in reports]
    data = write_frame(raw, RawLedger, work_dir, "load")
    report = {
        "files": [r.model_dump() for r in reports],
        "file_errors": [{"url": e.url, "reason": e.problem} for e in errors],
        "files_skipped": [s.model_dump() for s in inputs.skipped],
        "personal_data": found.model_dump(),
    }
    return StageResult(data=data, report=report)


def read_rows(url: str, params: IngestParams) -> tuple[pd.DataFrame, FileReport]:
    """One file's rows as the file holds them (its own headers, text cells), with their file, line and digest."""
    known = known_headers(column_spec(params.columns_conf), columns_conf(params.columns_conf))
    df, report = read_ledger_file(url, known, params.encodings, params.sheet, params.header_search_rows)
    lines = report.row_lines or range(report.header_row + 1, report.header_row + 1 + len(df))
    # a ledger may have a column of ingest's names (standardize already set a prediction file's own aside)
    df = df.rename(columns={c: f"{c}_in_file" for c in ("row_id", *PROVENANCE) if c in df.columns})
    df.insert(0, "row_digest", row_digest(df))  # duplicates are judged on every cell the file has, before masking
    df.insert(0, "source_row", lines)
    df.insert(0, "source_file", url)
    return df, report


def rows_as_in_files(rows: pd.DataFrame, params: IngestParams) -> tuple[pd.DataFrame, list[str]]:
    """The loaded rows with the cells the files hold (the load stage keeps them masked): each file read again and
    its lines put back on their rows. A file changed since (another digest) or gone keeps its masked cells and is
    returned in the list, so the caller can say so."""
    out, kept_masked = rows.copy(), []
    for url, index in rows.groupby("source_file").groups.items():
        try:
            fresh, _ = read_rows(url, params)
        except (LedgerFileError, OSError):
            kept_masked.append(url)
            continue
        aligned = fresh.set_index("source_row").reindex(rows.loc[index, "source_row"].to_numpy())
        if not (aligned["row_digest"].to_numpy() == rows.loc[index, "row_digest"].to_numpy()).all():
            kept_masked.append(url)
            continue
        columns = [c for c in aligned.columns if c in out.columns and c not in ("source_file", "row_digest")]
        out.loc[index, columns] = aligned[columns].to_numpy()
    return out, kept_masked


def masked_error(err: LedgerFileError, conf, privacy: PrivacyParams) -> LedgerFileError:
    """The error with any personal data its message quotes (a first row, a header) masked."""
    if not privacy.mask:
        return err
    return LedgerFileError(err.url, mask_text([err.problem], conf, privacy.mask_sole_proprietors)[0])


def unreadable_files(source: str, errors: list[LedgerFileError], total: int) -> LedgerFileError:
    """One error naming every file of a folder or glob that cannot be read, and why."""
    listed = "; ".join(f"{e.url.rsplit('/', 1)[-1]}: {e.problem}" for e in errors)
    return LedgerFileError(
        source,
        f"{len(errors)} of {total} files cannot be read ({listed}). Fix or remove them, or go on without them: "
        "--set ingest.on_file_error=skip (they are listed in the report)",
    )


@task(**STAGE)
@on_store
def standardize_columns(
    raw: StageResult,
    params: IngestParams,
    labels_required: bool,
    work_dir: WorkDir,
    privacy: PrivacyParams | None = None,
) -> StageResult:
    """Map each file's headers to canonical columns and mark the rows that are no ledger lines (summary rows,
    account blocks, repeated headers and titles, dates outside the file's period); columns holding only personal
    data are left out unless kept."""
    conf, layout = columns_conf(params.columns_conf), load_layout(params.layouts_conf)
    personal = PersonalDataReport.model_validate(raw.report.get("personal_data", {})).dedicated()
    keep = (privacy or PrivacyParams()).keep_columns
    headers = {h for file in raw.report["files"] for h in file["headers"]}
    if unknown := [k for k in keep if k not in headers and k not in conf.columns]:
        raise ParameterError(
            f"privacy.keep_columns: {unknown} is no header of the input and no column name; headers in the "
            f"input: {sorted(headers)}"
        )
    known = known_headers(column_spec(params.columns_conf), conf)
    df = read_frame(raw.data, RawLedger, "load output")
    parts, layouts, chart = [], [], chart_codes(params.chart_of_accounts)
    for file in raw.report["files"]:
        report = FileReport.model_validate(file)
        rows = df[df["source_file"] == report.url]
        cells = rows[report.headers].astype("str")
        out, file_layout = standardize_file(
            cells, report, conf, layout, known, labels_required, params.columns, params.year, chart, personal, keep
        )
        parts.append(pd.concat([rows[[*TRACE_COLUMNS, "row_digest"]], out], axis=1))
        layouts.append(file_layout)
    out = pd.concat(parts, ignore_index=True)
    trace = [*TRACE_COLUMNS, *LINE_COLUMNS]  # row_digest first of the line columns
    out = out[trace[:4] + [c for c in [*trace[4:], *conf.columns] if c in out.columns]]  # conf order
    for column in out.columns[4:]:
        out[column] = out[column].astype("str")
    data = write_frame(out, Ledger, work_dir, "standardize")
    unmapped = sorted({h for layout_ in layouts for h in layout_.unmapped})
    return StageResult(
        data=data,
        report={
            "mapping": {f.url: f.mapping for f in layouts},
            "unmapped_headers": unmapped,
            "layouts": [f.model_dump() for f in layouts],
        },
    )


@task(**STAGE)
@on_store
def extract_metadata(ledger: StageResult, loaded: StageResult) -> dict:
    """Rows, and per column its type, nulls and values over the ledger lines; the amounts' statistics."""
    df = read_frame(ledger.data, Ledger, "standardize output")
    amounts = parse_amounts(ledger_lines(df)["amount"])
    return {
        "rows": len(df),
        "lines": len(ledger_lines(df)),  # the rows the column table describes
        "columns": profile_columns(df),
        "files": loaded.report["files"],
        "unmapped_headers": ledger.report["unmapped_headers"],
        "layouts": ledger.report.get("layouts", []),
        "file_errors": loaded.report.get("file_errors", []),
        "files_skipped": loaded.report.get("files_skipped", []),
        "personal_data": loaded.report.get("personal_data", {}),  # counts per column and kind, never a value
        "amount": {k: float(v) for k, v in amounts.describe().items()} if amounts.notna().any() else {},
    }
