"""Schemas of the ledger as it moves through ingest, preprocess and features.

Each stage inherits the one before it, so a column's meaning never forks between stages.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.base import StrictModel

# Columns every frame after ingest carries so a row can always be traced back to its file (the one spelling of
# them: readers, rejects, corrections, reports and the prediction file build on these).
PROVENANCE = ("source_file", "source_row")  # where a line came from: ingest adds them to every row
TRACE_COLUMNS = ["row_id", *PROVENANCE]
REJECT_COLUMNS = [*TRACE_COLUMNS, "stage", "rule", "detail"]
LABEL_COLUMNS = ["account_code", "account_name"]
# Carried from load to clean only: the duplicate key and the rule of rows that are no ledger lines.
LINE_COLUMNS = ["row_digest", "line_rule", "line_detail"]


class RawLedger(pa.DataFrameModel):
    """Rows as read from the file(s): the file's own headers, every cell as text."""

    row_id: Series[int] = pa.Field(unique=True, ge=0)
    source_file: Series[str]
    source_row: Series[int] = pa.Field(ge=1)
    row_digest: Series[int]  # a hash of every cell the file has for the row: what duplicates are judged on

    class Config:
        coerce = True
        strict = False  # the file's own headers are not known before standardization


class Ledger(StrictModel):
    """Canonical column names (conf/columns.yaml), every cell still text; until the clean stage, the rows that
    are no ledger lines (summary rows, account blocks...) carry the rule that will reject them."""

    row_id: Series[int] = pa.Field(unique=True, ge=0)
    source_file: Series[str]
    source_row: Series[int] = pa.Field(ge=1)
    row_digest: Series[int] = pa.Field(required=False)
    line_rule: Series[str] = pa.Field(nullable=True, required=False)
    line_detail: Series[str] = pa.Field(nullable=True, required=False)
    date: Series[str] = pa.Field(nullable=True)
    voucher_no: Series[str] = pa.Field(nullable=True, required=False)
    side: Series[str] = pa.Field(nullable=True, required=False)
    status: Series[str] = pa.Field(nullable=True, required=False)
    vendor: Series[str] = pa.Field(nullable=True, required=False)
    business_no: Series[str] = pa.Field(nullable=True, required=False)
    description: Series[str] = pa.Field(nullable=True, required=False)
    amount: Series[str] = pa.Field(nullable=True)
    supply_amount: Series[str] = pa.Field(nullable=True, required=False)
    vat: Series[str] = pa.Field(nullable=True, required=False)
    balance: Series[str] = pa.Field(nullable=True, required=False)
    evidence_type: Series[str] = pa.Field(nullable=True, required=False)
    payment_method: Series[str] = pa.Field(nullable=True, required=False)
    department: Series[str] = pa.Field(nullable=True, required=False)
    account_code: Series[str] = pa.Field(nullable=True, required=False)
    account_name: Series[str] = pa.Field(nullable=True, required=False)
    # the sub-code a written code carried (81100, 811-01) once preprocess.normalize.account_codes=chart made it 811
    sub_code: Series[str] = pa.Field(nullable=True, required=False)


class Rejects(Ledger):
    """A row that left the pipeline, with the stage and rule that removed it."""

    date: Series[str] = pa.Field(nullable=True, required=False)
    vendor: Series[str] = pa.Field(nullable=True, required=False)
    description: Series[str] = pa.Field(nullable=True, required=False)
    amount: Series[str] = pa.Field(nullable=True, required=False)
    stage: Series[str]
    rule: Series[str]
    detail: Series[str]


class CleanLedger(Ledger):
    """Validated, typed rows: dates and amounts parsed, categories normalized."""

    # which columns must be filled is conf/columns.yaml's to say (with_required), not this class's
    date: Series[pd.Timestamp]
    vendor: Series[str] = pa.Field(nullable=True, required=False)
    description: Series[str] = pa.Field(nullable=True, required=False)
    amount: Series[float]
    supply_amount: Series[float] = pa.Field(nullable=True, required=False)
    vat: Series[float] = pa.Field(nullable=True, required=False)
    balance: Series[float] = pa.Field(nullable=True, required=False)


class FeatureFrame(CleanLedger):
    """Clean rows plus calendar (KR holidays) and amount features."""

    year: Series[int]
    month: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 12})
    day: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 31})
    quarter: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 4})
    weekday: Series[int] = pa.Field(in_range={"min_value": 0, "max_value": 6})
    is_weekend: Series[bool]
    is_month_end: Series[bool]
    is_holiday: Series[bool]
    holiday_name: Series[str] = pa.Field(nullable=True)
    is_business_day: Series[bool]
    amount_abs: Series[float] = pa.Field(ge=0)
    amount_log: Series[float] = pa.Field(ge=0)
    is_negative: Series[bool]
    is_round_amount: Series[bool]
    has_vat: Series[bool]
    vat_rate: Series[float] = pa.Field(nullable=True)
    amount_bucket: Series[str]


def selected_schema(columns: list[str]) -> pa.DataFrameSchema:
    """FeatureFrame restricted to the selected columns, still strict and typed."""
    return FeatureFrame.to_schema().select_columns(columns)


def with_required(schema: pa.DataFrameSchema, columns: list[str]) -> pa.DataFrameSchema:
    """The same schema with these columns present and filled (the required ones of conf/columns.yaml);
    text columns also non-blank."""
    for column in columns:
        text = schema.columns[column].dtype is not None and "str" in str(schema.columns[column].dtype).lower()
        checks = [pa.Check.str_matches(r"\S", name=f"{column}_not_blank")] if text else []
        schema = schema.update_column(column, nullable=False, required=True, checks=checks)
    return schema
