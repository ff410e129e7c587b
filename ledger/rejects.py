"""Rows leaving the pipeline, with the stage and rule that removed them: nothing is dropped silently."""

import pandas as pd

from ledger.frames import Frame, write_frame
from schemas import LINE_COLUMNS, REJECT_COLUMNS, TRACE_COLUMNS, Ledger, Rejects

LEDGER_COLUMNS = [c for c in Ledger.to_schema().columns if c not in LINE_COLUMNS]


def reject(
    df: pd.DataFrame, mask: pd.Series, stage: str, rule: pd.Series | str, detail: pd.Series | str
) -> pd.DataFrame:
    """The rows under `mask`, as text, with stage, rule and detail columns."""
    columns = [c for c in LEDGER_COLUMNS if c in df.columns]
    out = df.loc[mask, columns].copy()
    for column in columns[len(TRACE_COLUMNS) :]:
        if not pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].astype("str").where(out[column].notna())
    out["stage"] = stage
    out["rule"] = rule[mask] if isinstance(rule, pd.Series) else rule
    out["detail"] = detail[mask] if isinstance(detail, pd.Series) else detail
    return out


def write_rejects(parts: list[pd.DataFrame], work_dir: str, stage: str) -> Frame:
    """All rejects of a stage in one validated Parquet frame (empty when none)."""
    parts = [p for p in parts if len(p)]
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            {c: pd.Series(dtype="str") for c in REJECT_COLUMNS}
        )
    )
    return write_frame(frame.sort_values("row_id"), Rejects, work_dir, stage, "rejects")


def rule_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["rule"].value_counts().items()} if len(frame) else {}
