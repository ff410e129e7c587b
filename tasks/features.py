"""Features: Korean public holidays, calendar parts, amount features, then the configured selection."""

import itertools
import logging

import holidays
import numpy as np
import pandas as pd
from prefect import task
from prefect.logging import get_run_logger

from ledger.frames import StageResult, read_frame, write_frame
from ledger.work_store import WorkDir, on_store
from params.prepare import FeatureParams
from schemas import LABEL_COLUMNS, TRACE_COLUMNS, CleanLedger, FeatureFrame, selected_schema
from tasks.caching import STAGE


def holiday_names(dates: pd.Series, country: str) -> pd.Series:
    """Holiday name per date (substitute holidays included, Korean names); missing when none."""
    years = sorted(dates.dt.year.dropna().unique().tolist())
    calendar = holidays.country_holidays(country, years=years, language="ko") if years else {}
    names = {pd.Timestamp(day): name for day, name in calendar.items()}
    return dates.dt.normalize().map(names).astype("str")


def amount_buckets(amounts: pd.Series, bins: list[float]) -> pd.Series:
    """Absolute amount as an ordered range label, e.g. '10,000-50,000'."""
    edges = [0.0, *sorted(bins), np.inf]
    labels = [f"{lo:,.0f}-{hi:,.0f}" if np.isfinite(hi) else f"{lo:,.0f}+" for lo, hi in itertools.pairwise(edges)]
    return pd.cut(amounts, edges, labels=labels, right=False, include_lowest=True).astype("str")


def add_features(df: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Calendar, holiday and amount columns added to clean rows (vectorized)."""
    date = df["date"]
    out = df.assign(
        year=date.dt.year,
        month=date.dt.month,
        day=date.dt.day,
        quarter=date.dt.quarter,
        weekday=date.dt.weekday,
        is_weekend=date.dt.weekday >= 5,
        is_month_end=date.dt.is_month_end,
        holiday_name=holiday_names(date, params.holiday_country),
    )
    out["is_holiday"] = out["holiday_name"].notna()
    out["is_business_day"] = ~(out["is_weekend"] | out["is_holiday"])
    amount = out["amount"]
    out["amount_abs"] = amount.abs()
    out["amount_log"] = np.log1p(out["amount_abs"])
    out["is_negative"] = amount < 0
    out["is_round_amount"] = (amount % params.round_amount_unit == 0) & (amount != 0)
    vat = out["vat"] if "vat" in out.columns else pd.Series(np.nan, index=out.index)
    supply = out["supply_amount"] if "supply_amount" in out.columns else pd.Series(np.nan, index=out.index)
    out["has_vat"] = vat.fillna(0) != 0
    out["vat_rate"] = (vat / supply.where(supply != 0)).round(4)
    out["amount_bucket"] = amount_buckets(out["amount_abs"], params.amount_bins)
    return out


@task(**STAGE)
@on_store
def build_features(validated: StageResult, params: FeatureParams, work_dir: WorkDir) -> StageResult:
    """Add KR holiday, calendar and amount features to the validated ledger."""
    df = read_frame(validated.data, CleanLedger, "validate output")
    out = add_features(df, params)
    holidays_hit = int(out["is_holiday"].sum())
    return StageResult(data=write_frame(out, FeatureFrame, work_dir, "features"), report={"holiday_rows": holidays_hit})


def selection(available: list[str], wanted: list[str]) -> tuple[list[str], list[str]]:
    """Trace columns, wanted features in the configured order, then labels; and the wanted ones missing."""
    missing = [c for c in wanted if c not in available]
    keep = [c for c in TRACE_COLUMNS if c in available]
    keep += [c for c in dict.fromkeys(wanted) if c in available and c not in keep and c not in LABEL_COLUMNS]
    keep += [c for c in LABEL_COLUMNS if c in available]
    return keep, missing


@task(**STAGE)
@on_store
def select_features(featured: StageResult, params: FeatureParams, work_dir: WorkDir) -> StageResult:
    """Keep the configured columns in their configured order; warn about any that is missing."""
    df = read_frame(featured.data, FeatureFrame, "features output")
    keep, missing = selection(list(df.columns), params.selected)
    if missing:
        logger = _logger()
        logger.warning("features.selected: %s not in the data (dropped or never built); continuing without", missing)
    data = write_frame(df[keep], selected_schema(keep), work_dir, "select")
    return StageResult(data=data, report={"columns": keep, "missing": missing})


def _logger():
    try:
        return get_run_logger()
    except Exception:  # called outside a run, e.g. task.fn in a unit test
        return logging.getLogger(__name__)
