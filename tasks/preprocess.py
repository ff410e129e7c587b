"""Preprocess: clean, filter, normalize values, validate. Each returns accepted rows and rejects with reasons."""

import pandas as pd
from prefect import task

from ledger.cells import (
    map_values,
    normalize_business_no,
    normalize_code,
    parse_amounts,
    parse_dates,
    tidy_text,
)
from ledger.code_forms import code_forms, settle_codes
from ledger.columns import SignedSides, column_spec, columns_conf, required_columns
from ledger.conf import load_yaml
from ledger.errors import ParameterError
from ledger.frames import StageResult, read_frame, write_frame
from ledger.rejects import reject, rule_counts, write_rejects
from ledger.standardize import chart_codes
from ledger.work_store import WorkDir, on_store
from params.prepare import CleanParams, FilterParams, IngestParams, NormalizeParams, ValidateParams
from schemas import LINE_COLUMNS, TRACE_COLUMNS, CleanLedger, Ledger, with_required
from tasks.caching import STAGE, StageCache

AMOUNT_COLUMNS = ["amount", "supply_amount", "vat", "balance"]
CANCEL = "취소"  # the canonical value (side or status) of a card cancellation
# 1,000조 원: no ledger line is larger (a run-together or mistyped cell is), and float64 is exact to ~9e15
AMOUNT_LIMIT = 1e15


def data_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in TRACE_COLUMNS and c not in LINE_COLUMNS]


def _finish(df: pd.DataFrame, rejects: list[pd.DataFrame], schema, work_dir: str, stage: str, **report) -> StageResult:
    data = write_frame(df, schema, work_dir, stage)
    rejected = write_rejects(rejects, work_dir, stage)
    merged = pd.concat(rejects) if rejects else pd.DataFrame({"rule": []})
    return StageResult(data=data, rejects=rejected, report={"rules": rule_counts(merged), **report})


@task(**STAGE)
@on_store
def clean_ledger(ledger: StageResult, params: CleanParams, work_dir: WorkDir) -> StageResult:
    """Trim and NFC-normalize text; blank rows, rows that are no ledger lines (summary rows, account blocks,
    repeated headers: marked by standardize from every original cell) and duplicates go to rejects."""
    df = read_frame(ledger.data, Ledger, "standardize output")
    columns = data_columns(df)
    for column in columns:
        df[column] = tidy_text(df[column], params.unicode_form)
    blank = df[columns].isna().all(axis=1)
    line_rule = df["line_rule"] if "line_rule" in df else pd.Series(pd.NA, index=df.index, dtype="str")
    not_line = ~blank & line_rule.notna()
    rejects = [
        reject(df, blank, "clean", "blank_row", "every cell is blank in the mapped columns"),
        reject(df, not_line, "clean", line_rule, df.get("line_detail", line_rule).fillna("")),
    ]
    df = df[~blank & ~not_line]
    duplicates = 0
    if params.drop_duplicates:
        # every cell the file has counts (two equal transfers differ in their time or balance)
        key = df["row_digest"] if "row_digest" in df else pd.util.hash_pandas_object(df[columns], index=False)
        dup = pd.Series(key.duplicated().to_numpy(), index=df.index)
        first = df.groupby(key.to_numpy())["row_id"].transform("first")
        line = df.groupby(key.to_numpy())["source_row"].transform("first")
        detail = "duplicate of row_id " + first.astype("str") + " (line " + line.astype("str") + "): every cell equal"
        rejects.append(reject(df, dup, "clean", "duplicate", detail))
        duplicates = int(dup.sum())
        df = df[~dup]
    df = df.drop(columns=[c for c in LINE_COLUMNS if c in df.columns])
    return _finish(df, rejects, Ledger, work_dir, "clean", duplicates=duplicates)


@task(**STAGE)
@on_store
def filter_ledger(cleaned: StageResult, params: FilterParams, ingest: IngestParams, work_dir: WorkDir) -> StageResult:
    """Drop the configured optional columns and leave out rows by account, vendor and date range."""
    df = read_frame(cleaned.data, Ledger, "clean output")
    spec = column_spec(ingest.columns_conf)
    required = [c for c in params.drop_columns if spec.get(c, {}).get("required") is True]
    if required:
        raise ParameterError(f"filter.drop_columns: {required} are required columns and cannot be dropped")
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
@on_store
def normalize_values(
    filtered: StageResult, params: NormalizeParams, ingest: IngestParams, work_dir: WorkDir
) -> StageResult:
    """Map category spellings to one form (conf maps), format business numbers and account codes; one account
    written in several forms across the files stops the run or, asked for, becomes the chart's code."""
    df = read_frame(filtered.data, Ledger, "filter output")
    unmapped = {}
    for column, entry in load_yaml(params.value_maps).items():
        if column in df.columns:
            df[column], unmapped[column] = map_values(df[column], entry["values"], entry["unmapped_to"])
    if "business_no" in df.columns:
        df["business_no"] = normalize_business_no(df["business_no"])
    merged = {}
    if "account_code" in df.columns:
        df["account_code"] = normalize_code(df["account_code"])
        chart = chart_codes(ingest.chart_of_accounts)
        df, merged = settle_codes(df, params.account_codes, chart, code_forms(params.code_forms))
    data = write_frame(df, Ledger, work_dir, "normalize")
    report = {"unmapped_values": {k: v for k, v in unmapped.items() if v}}
    return StageResult(data=data, report=report | ({"merged_codes": merged} if merged else {}))


def _failures(df: pd.DataFrame, params: ValidateParams, required: list[str], any_of: list[list[str]]) -> tuple:
    """Parsed typed columns and the (rule, column, mask) list of every rule broken."""
    parsed = {c: parse_amounts(df[c]) for c in AMOUNT_COLUMNS if c in df.columns}
    parsed["date"] = parse_dates(df["date"])
    checks = [("required_blank", c, df[c].isna()) if c in df.columns else None for c in required]
    checks = [c for c in checks if c is not None]
    for group in any_of:
        present = [c for c in group if c in df.columns]
        if present:
            checks.append(("required_blank", present[0], df[present].isna().all(axis=1)))
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


@task(cache_policy=StageCache(exclude=("params.warn_rejected_share",)), persist_result=True)  # the report's, not ours
@on_store
def validate_ledger(
    normalized: StageResult, params: ValidateParams, ingest: IngestParams, labels_required: bool, work_dir: WorkDir
) -> StageResult:
    """Parse amounts and dates and check the row rules; a row that breaks any goes to rejects."""
    df = read_frame(normalized.data, Ledger, "normalize output")
    conf = columns_conf(ingest.columns_conf)
    required = required_columns(column_spec(ingest.columns_conf), labels_required)
    parsed, checks = _failures(df, params, required, conf.required_any)
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
    cancellations = settle_sides(good, conf.signed_amount_sides)
    schema = with_required(CleanLedger.to_schema(), [c for c in required if c in good.columns])
    return _finish(good, rejects, schema, work_dir, "validate", cancellations=cancellations)


def settle_sides(df: pd.DataFrame, signed: SignedSides) -> dict:
    """Every line gets its side: a card cancellation (취소 as side or status) is a negative line on its approval's
    side, tied to the approval by voucher number; a line without a side takes it from its amount's sign."""
    side = df["side"] if "side" in df else pd.Series(pd.NA, index=df.index, dtype="str")
    cancel = side.eq(CANCEL).fillna(False)
    if "status" in df:
        cancel |= df["status"].eq(CANCEL).fillna(False)
    df["amount"] = df["amount"].where(~cancel, -df["amount"].abs())
    approval = side.where(~cancel | side.ne(CANCEL))  # a 취소 side is no side: the approval's is taken below
    tied = pd.Series(False, index=df.index)
    if "voucher_no" in df and cancel.any():
        key = df["source_file"] + "\t" + df["voucher_no"]
        approved = pd.Series(side[~cancel].to_numpy(), index=key[~cancel].to_numpy())
        approved = approved[approved.index.notna() & ~approved.index.duplicated()]
        tied = cancel & key.isin(approved.index).fillna(False)
        approval = approval.where(~tied, key.map(approved))
    by_sign = pd.Series(signed.positive, index=df.index, dtype="str").where(
        (df["amount"] >= 0) | cancel, signed.negative
    )
    df["side"] = approval.where(approval.notna(), by_sign).astype("str")
    untied = df.loc[cancel & ~tied, "source_row"].astype("int64").tolist()
    return {"lines": int(cancel.sum()), "tied_to_approval": int(tied.sum()), "untied_rows": untied[:20]}
