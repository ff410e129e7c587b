"""pandera DataFrameModels, one per DataFrame boundary; stage schemas inherit."""

from schemas.dataset import SPLITS, SplitColumns, TextFrame, split_schema
from schemas.ledger import (
    LABEL_COLUMNS,
    LINE_COLUMNS,
    PROVENANCE,
    REJECT_COLUMNS,
    TRACE_COLUMNS,
    CleanLedger,
    FeatureFrame,
    Ledger,
    RawLedger,
    Rejects,
    selected_schema,
    with_required,
)

__all__ = [
    "SPLITS",
    "SplitColumns",
    "TextFrame",
    "split_schema",
    "LABEL_COLUMNS",
    "LINE_COLUMNS",
    "PROVENANCE",
    "REJECT_COLUMNS",
    "TRACE_COLUMNS",
    "CleanLedger",
    "FeatureFrame",
    "Ledger",
    "RawLedger",
    "Rejects",
    "with_required",
    "selected_schema",
]
