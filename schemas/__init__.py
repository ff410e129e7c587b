"""pandera DataFrameModels, one per DataFrame boundary; stage schemas inherit."""

from schemas.ledger import (
    LABEL_COLUMNS,
    TRACE_COLUMNS,
    CleanLedger,
    FeatureFrame,
    Ledger,
    RawLedger,
    Rejects,
    labeled,
    selected_schema,
)

__all__ = [
    "LABEL_COLUMNS",
    "TRACE_COLUMNS",
    "CleanLedger",
    "FeatureFrame",
    "Ledger",
    "RawLedger",
    "Rejects",
    "labeled",
    "selected_schema",
]
