"""Content-fingerprinted Parquet frames: what tasks pass to each other instead of DataFrames."""

import hashlib
import os
import uuid
from pathlib import Path
from typing import Annotated

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel

from ledger.errors import InputNotFound
from ledger.work_store import UrlRecord

ROWS_SHOWN = 10


class _OutputPathMarker:
    def __repr__(self) -> str:
        return "OutputPath"


OUTPUT_PATH = _OutputPathMarker()
# A file or folder a cached task wrote: a cache record whose outputs are gone is not used (see ledger.caching).
OutputPath = Annotated[str, OUTPUT_PATH]


class Frame(BaseModel):
    """A validated DataFrame on disk: its Parquet path, content hash and row count."""

    path: OutputPath
    fingerprint: str
    rows: int


class StageResult(BaseModel):
    """What a stage hands on: accepted rows, rejected rows (with reasons) and a small report."""

    data: Frame
    rejects: Frame | None = None
    report: UrlRecord = {}  # counts and the files read, named by their URLs: never fetched


class StageFileGone(InputNotFound):
    """A file an earlier, cached task wrote is gone; the message says to refresh the cache."""

    hint = "run again with --refresh-cache (refresh_cache=true in the Prefect UI): the stages that wrote it run again"


class FrameValidationError(ValueError):
    """A frame broke its schema; the message names the stage, columns, checks and rows."""


def sha256_file(path: str | Path) -> str:
    """sha256 of a local file's bytes, hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def describe_failures(err: pa.errors.SchemaErrors, what: str) -> str:
    """Turn pandera's failure cases into one readable message: column, check, rows."""
    cases = err.failure_cases
    lines = [f"{what}: {len(cases)} schema failure(s)"]
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        rows = group["index"].dropna().tolist()
        values = group["failure_case"].astype(str).head(3).tolist()
        where = f" rows {rows[:ROWS_SHOWN]}{' ...' if len(rows) > ROWS_SHOWN else ''}" if rows else ""
        lines.append(f"  - column '{column}': {check}{where} (e.g. {values})")
    return "\n".join(lines)


def validate(df: pd.DataFrame, schema: pa.DataFrameSchema | type[pa.DataFrameModel], what: str) -> pd.DataFrame:
    """Validate lazily so every failure of the frame is reported at once."""
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise FrameValidationError(describe_failures(err, what)) from err


def write_frame(df: pd.DataFrame, schema, work_dir: str, stage: str, name: str = "data") -> Frame:
    """Validate, write as Parquet under work_dir/stages/<stage>/, named by its content hash."""
    df = validate(df.reset_index(drop=True), schema, f"{stage}/{name}")
    folder = Path(work_dir) / "stages" / stage
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}-{uuid.uuid4().hex}.parquet"
    df.to_parquet(tmp, index=False)
    fingerprint = sha256_file(tmp)[:20]
    final = folder / f"{name}-{fingerprint}.parquet"
    os.replace(tmp, final)
    return Frame(path=str(final), fingerprint=fingerprint, rows=len(df))


def read_frame(frame: Frame, schema, what: str = "input") -> pd.DataFrame:
    """Load a frame written by an earlier task, validating it against the consumer's schema (required: None only
    where a test inspects a stage's output as it is)."""
    return read_table(frame.path, schema, what)


def read_table(path: str | Path, schema=None, what: str = "input") -> pd.DataFrame:
    """A Parquet file written by an earlier task, validated against the consumer's schema."""
    path = Path(path)
    if not path.exists():
        raise StageFileGone(
            f"{what}: {path} is gone (an earlier, cached run wrote it and it was deleted since); "
            "re-run with --refresh-cache (refresh_cache=true in the Prefect UI)"
        )
    df = pd.read_parquet(path)
    return validate(df, schema, what) if schema is not None else df


def parquet_columns(path: str | Path) -> list[str]:
    """Column names of a Parquet file, read from its footer (no data)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).names
