"""Preprocess: clean, filter, normalize values, validate. Each returns accepted rows and rejects with reasons."""

import pandas as pd
from prefect import task

from ledger.caching import STAGE
from ledger.cells import (
    map_values,
    normalize_business_no,
    normalize_code,
    parse_amounts,
    parse_dates,
    spelling_key,
    tidy_text,
)
from ledger.columns import column_spec, required_columns
from ledger.conf import load_yaml
from ledger.frames import StageResult, read_frame, write_frame
from ledger.readers import normalize_header
from ledger.rejects import reject, rule_counts, write_rejects
from params.prepare import CleanParams, FilterParams, IngestParams, NormalizeParams, ValidateParams
from schemas import TRACE_COLUMNS, CleanLedger, Ledger, with_required

AMOUNT_COLUMNS = ["amount", "supply_amount", "vat"]
# 1,000조 원: no ledger line is larger (a run-together or mistyped cell is), and float64 is exact to ~9e15
AMOUNT_LIMIT = 1e15


def data_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in TRACE_COLUMNS]


def _finish(df: pd.DataFrame, rejects: list[pd.DataFrame], schema, work_dir: str, stage: str, **report) -> StageResult:
    data = write_frame(df, schema, work_dir, stage)
    rejected = write_rejects(rejects, work_dir, stage)
    merged = pd.concat(rejects) if rejects else pd.DataFrame({"rule": []})
    return StageResult(data=data, rejects=rejected, report={"rules": rule_counts(merged), **report})


@task(**STAGE)
def clean_ledger(ledger: StageResult, params: CleanParams, ingest: IngestParams, work_dir: str) -> StageResult:
    """Trim and NFC-normalize text; blank rows, repeated header rows and exact duplicates go to rejects."""
    df = read_frame(ledger.data, Ledger, "standardize output")
    columns = data_columns(df)
    for column in columns:
        df[column] = tidy_text(df[column], params.unicode_form)
    blank = df[columns].isna().all(axis=1)
    spec = column_spec(ingest)
    # a header line repeated inside the data spells its own column names in the required columns
    checked = [c for c in columns if spec.get(c, {}).get("required") is True]
    header_hits = sum(
        spelling_key(df[c]).isin({normalize_header(a) for a in [c, *spec[c]["aliases"]]}) for c in checked
    )
    repeated_header = ~blank & (header_hits >= 2)
    rejects = [
        reject(df, blank, "clean", "blank_row", "every cell is blank"),
        reject(df, repeated_header, "clean", "repeated_header", "the header line repeated inside the data"),
    ]
    df = df[~blank & ~repeated_header]
    duplicates = 0
    if params.drop_duplicates:
        key = pd.util.hash_pandas_object(df[columns], index=False)
        dup = key.duplicated()
        first = df["row_id"].groupby(key.values).transform("first")
        detail = "exact duplicate of row_id " + first.astype("str")
        rejects.append(reject(df, dup, "clean", "duplicate", detail))
        duplicates = int(dup.sum())
        df = df[~dup]
    return _finish(df, rejects, Ledger, work_dir, "clean", duplicates=duplicates)


@task(**STAGE)
def filter_ledger(cleaned: StageResult, params: FilterParams, ingest: IngestParams, work_dir: str) -> StageResult:
    """Drop the configured optional columns and leave out rows by account, vendor and date range."""
    df = read_frame(cleaned.data, Ledger, "clean output")
    spec = column_spec(ingest)
    required = [c for c in params.drop_columns if spec.get(c, {}).get("required") is True]
    if required:
        raise ValueError(f"filter.drop_columns: {required} are required columns and cannot be dropped")
    df = df.drop(columns=[c for c in params.drop_columns if c in df.columns])
    rules: list[tuple[str, pd.Series]] = []
    code = normalize_code(df.get("account_code", pd.Series(pd.NA, index=df.index, dtype="str")))
    wanted = set(normalize_code(pd.Series(params.include_account_codes, dtype="str")))
    unwanted = set(normalize_code(pd.Series(params.exclude_account_codes, dtype="str")))
    if wanted:
        rules.append(("include_account_codes", code.notna() & ~code.isin(wanted)))
    if unwanted:
        rules.append(("exclude_account_codes", code.isin(unwanted)))
    if params.exclude_vendors:
        rules.append(("exclude_vendors", df["vendor"].isin(params.exclude_vendors)))
    if params.date_from or params.date_to:
        dates = parse_dates(df["date"])
        if params.date_from:
            rules.append(("date_from", dates < pd.Timestamp(params.date_from)))
        if params.date_to:
            rules.append(("date_to", dates > pd.Timestamp(params.date_to)))
    taken = pd.Series(False, index=df.index)
    rejects = []
    for name, mask in rules:
        mask = mask.fillna(False) & ~taken
        rejects.append(reject(df, mask, "filter", f"filtered:{name}", f"left out by filter.{name}"))
        taken |= mask
    return _finish(df[~taken], rejects, Ledger, work_dir, "filter")


@task(**STAGE)
def normalize_values(filtered: StageResult, params: NormalizeParams, work_dir: str) -> StageResult:
    """Map category spellings to one form (conf maps), format business numbers and account codes."""
    df = read_frame(filtered.data, Ledger, "filter output")
    unmapped = {}
    for column, entry in load_yaml(params.value_maps).items():
        if column in df.columns:
            df[column], unmapped[column] = map_values(df[column], entry["values"], entry["unmapped_to"])
    if "business_no" in df.columns:
        df["business_no"] = normalize_business_no(df["business_no"])
    if "account_code" in df.columns:
        df["account_code"] = normalize_code(df["account_code"])
    data = write_frame(df, Ledger, work_dir, "normalize")
    return StageResult(data=data, report={"unmapped_values": {k: v for k, v in unmapped.items() if v}})


def _failures(df: pd.DataFrame, params: ValidateParams, required: list[str]) -> tuple[dict, list]:
    """Parsed typed columns and the (rule, column, mask) list of every rule broken."""
    parsed = {c: parse_amounts(df[c]) for c in AMOUNT_COLUMNS if c in df.columns}
    parsed["date"] = parse_dates(df["date"])
    checks = [("required_blank", c, df[c].isna()) if c in df.columns else None for c in required]
    checks = [c for c in checks if c is not None]
    checks += [("amount_unparsable", c, df[c].notna() & parsed[c].isna()) for c in parsed if c != "date"]
    checks += [("amount_out_of_range", c, parsed[c].abs() >= AMOUNT_LIMIT) for c in parsed if c != "date"]
    checks.append(("date_unparsable", "date", df["date"].notna() & parsed["date"].isna()))
    out_of_range = (parsed["date"] < pd.Timestamp(params.date_min)) | (parsed["date"] > pd.Timestamp(params.date_max))
    checks.append(("date_out_of_range", "date", out_of_range))
    if {"supply_amount", "vat"} <= parsed.keys():
        total, supply, vat = parsed["amount"], parsed["supply_amount"], parsed["vat"]
        tolerance = (total.abs() * params.vat_tolerance_rel).clip(lower=params.vat_tolerance_abs)
        both = supply.notna() & vat.notna() & total.notna()
        checks.append(("vat_mismatch", "vat", both & ((supply + vat - total).abs() > tolerance)))
    if not params.allow_negative_amounts:
        checks.append(("negative_amount", "amount", parsed["amount"] < 0))
    return parsed, checks


@task(**STAGE)
def validate_ledger(
    normalized: StageResult, params: ValidateParams, ingest: IngestParams, labels_required: bool, work_dir: str
) -> StageResult:
    """Parse amounts and dates and check the row rules; a row that breaks any goes to rejects."""
    df = read_frame(normalized.data, Ledger, "normalize output")
    required = required_columns(column_spec(ingest), labels_required)
    parsed, checks = _failures(df, params, required)
    rule = pd.Series(pd.NA, index=df.index, dtype="str")
    detail = pd.Series("", index=df.index, dtype="str")
    for name, column, mask in checks:
        mask = mask.fillna(False)
        rule = rule.where(rule.notna() | ~mask, name)
        shown = df[column].fillna("").astype("str").str.slice(0, 40) if column in df.columns else ""
        detail = detail.where(~mask, detail + name + f"({column}='" + shown + "'); ")
    bad = rule.notna()
    rejects = [reject(df, bad, "validate", rule, detail.str.rstrip("; "))]
    good = df[~bad].copy()
    for column, values in parsed.items():
        good[column] = values[~bad]
    schema = with_required(CleanLedger.to_schema(), [c for c in required if c in good.columns])
    return _finish(good, rejects, schema, work_dir, "validate")
