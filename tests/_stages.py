"""Test helpers: run the data stages on tiny inputs, or hand a stage a frame built in the test."""

from pathlib import Path

import pandas as pd

from ledger.frames import StageResult, read_frame, write_frame
from params.prepare import IngestParams
from schemas import CleanLedger, Ledger
from tasks.ingest import fingerprint_input, load_ledger, standardize_columns

TRACE = ["row_id", "source_file", "source_row"]
# A valid ledger row as text cells (canonical names); tests override single cells.
BASE_ROW = {"date": "2024-01-05", "vendor": "쿠팡", "description": "사무용품 구입", "amount": "11000"}


def ingest(source: str | Path, work_dir: str, labels_required: bool = True, params: IngestParams | None = None):
    """fingerprint -> load -> standardize; returns (loaded, standardized)."""
    params = params or IngestParams()
    loaded = load_ledger.fn(fingerprint_input.fn(str(source), params), params, work_dir)
    return loaded, standardize_columns.fn(loaded, params, labels_required, work_dir)


def text_frame(rows: list[dict], base: dict | None = BASE_ROW) -> pd.DataFrame:
    """Ledger rows as text cells with trace columns; each row is `base` updated by the given cells."""
    cells = [{**(base or {}), **row} for row in rows]
    df = pd.DataFrame(cells, dtype="str")
    df.insert(0, "source_row", range(2, len(df) + 2))
    df.insert(0, "source_file", "file:///ledger.csv")
    df.insert(0, "row_id", range(len(df)))
    return df


def ledger_stage(work_dir: str, rows: list[dict], stage: str = "standardize", base: dict | None = BASE_ROW):
    """A StageResult holding a canonical text ledger (the input of clean/filter/normalize/validate)."""
    return StageResult(data=write_frame(text_frame(rows, base), Ledger, work_dir, stage))


def clean_stage(work_dir: str, df: pd.DataFrame) -> StageResult:
    """A StageResult holding a validated, typed ledger (the input of build_features)."""
    return StageResult(data=write_frame(df, CleanLedger, work_dir, "validate"))


def clean_frame(dates: list[str], amounts: list[float] | None = None, **columns) -> pd.DataFrame:
    """Typed clean rows: one per date, amounts default 11000."""
    n = len(dates)
    df = pd.DataFrame(
        {
            "row_id": range(n),
            "source_file": "file:///ledger.csv",
            "source_row": range(2, n + 2),
            "date": pd.to_datetime(dates),
            "vendor": "쿠팡",
            "description": "사무용품",
            "amount": amounts if amounts is not None else [11000.0] * n,
            "account_code": "830",
            "account_name": "소모품비",
        }
    )
    for name, values in columns.items():
        df[name] = values
    return df


def frames(result: StageResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, rejects) of a stage result, read back from Parquet."""
    rejects = read_frame(result.rejects, None) if result.rejects is not None else pd.DataFrame()
    return read_frame(result.data, None), rejects


def assert_rows_accounted(result: StageResult, rows_in: int) -> None:
    """Nothing is lost: rows_in == accepted + rejected, and every reject says where and why."""
    accepted, rejects = frames(result)
    assert rows_in == len(accepted) + len(rejects)
    assert result.data.rows == len(accepted)
    if len(rejects):
        assert rejects[["stage", "rule", "detail"]].notna().all().all()
        assert (rejects["detail"].str.len() > 0).all()
