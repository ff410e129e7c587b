"""Features: Korean holidays (substitute days included), calendar parts, amount features, selection."""

import logging
import math

import pandas as pd
import pytest

from params.prepare import FeatureParams
from tasks.features import build_features, select_features
from tests._stages import clean_frame, clean_stage, frames


def featured(work_dir, dates, amounts=None, params=None, **columns):
    params = params or FeatureParams()
    return build_features.fn(clean_stage(work_dir, clean_frame(dates, amounts, **columns)), params, work_dir)


def features_of(work_dir, dates, amounts=None, **columns) -> pd.DataFrame:
    return frames(featured(work_dir, dates, amounts, **columns))[0]


# --- holidays -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name_part"),
    [
        ("2024-02-09", "설날"),  # the day before 설날
        ("2024-02-10", "설날"),
        ("2024-02-12", "대체"),  # 설날 day after fell on a Sunday: substitute holiday on Monday
        ("2024-05-06", "대체"),  # 어린이날 (5/5) was a Sunday: substitute holiday on Monday
        ("2024-03-01", "삼일절"),
    ],
)
def test_korean_holidays_are_named_in_korean(work_dir, day, name_part):
    df = features_of(work_dir, [day])
    assert bool(df.loc[0, "is_holiday"]) is True
    assert name_part in df.loc[0, "holiday_name"]


def test_substitute_seollal_holiday_is_not_a_business_day(work_dir):
    # given Monday 2024-02-12, a weekday that is a substitute holiday
    df = features_of(work_dir, ["2024-02-12"])
    # then it is a holiday and so not a business day, though not a weekend
    assert df.loc[0, "holiday_name"] == "설날 대체 휴일"
    assert (bool(df.loc[0, "is_weekend"]), bool(df.loc[0, "is_business_day"])) == (False, False)


def test_ordinary_weekday_has_no_holiday(work_dir):
    df = features_of(work_dir, ["2024-02-13"])
    assert bool(df.loc[0, "is_holiday"]) is False and pd.isna(df.loc[0, "holiday_name"])
    assert bool(df.loc[0, "is_business_day"]) is True


def test_holidays_across_years_are_found(work_dir):
    df = features_of(work_dir, ["2023-12-25", "2025-01-01"])
    assert df["is_holiday"].tolist() == [True, True]


def test_build_features_reports_holiday_rows(work_dir):
    result = featured(work_dir, ["2024-02-09", "2024-02-13", "2024-05-06"])
    assert result.report == {"holiday_rows": 2}


# --- calendar -------------------------------------------------------------------------------------


def test_weekday_and_weekend(work_dir):
    # Fri 2024-01-05, Sat 01-06, Sun 01-07, Mon 01-08
    df = features_of(work_dir, ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"])
    assert df["weekday"].tolist() == [4, 5, 6, 0]
    assert df["is_weekend"].tolist() == [False, True, True, False]
    assert df["is_business_day"].tolist() == [True, False, False, True]


def test_month_end_includes_leap_day(work_dir):
    df = features_of(work_dir, ["2024-02-28", "2024-02-29", "2024-12-31"])
    assert df["is_month_end"].tolist() == [False, True, True]


def test_year_month_day_quarter(work_dir):
    df = features_of(work_dir, ["2024-03-31", "2024-04-01", "2024-12-31"])
    assert df[["year", "month", "day", "quarter"]].values.tolist() == [
        [2024, 3, 31, 1],
        [2024, 4, 1, 2],
        [2024, 12, 31, 4],
    ]


# --- amounts --------------------------------------------------------------------------------------


def test_amount_abs_log_and_sign(work_dir):
    df = features_of(work_dir, ["2024-01-05", "2024-01-05"], [-1200.0, 0.0])
    assert df["amount_abs"].tolist() == [1200.0, 0.0]
    assert df["amount_log"].iloc[0] == pytest.approx(math.log1p(1200)) and df["amount_log"].iloc[1] == 0.0
    assert df["is_negative"].tolist() == [True, False]


def test_round_amounts_are_non_zero_multiples_of_the_unit(work_dir):
    df = features_of(work_dir, ["2024-01-05"] * 4, [11000.0, 11500.0, -2000.0, 0.0])
    assert df["is_round_amount"].tolist() == [True, False, True, False]


def test_amount_buckets_are_left_closed_ranges(work_dir):
    df = features_of(work_dir, ["2024-01-05"] * 4, [9999.0, 10000.0, -60000.0, 20_000_000.0])
    assert df["amount_bucket"].tolist() == ["0-10,000", "10,000-50,000", "50,000-100,000", "10,000,000+"]


def test_vat_rate_and_has_vat(work_dir):
    df = features_of(
        work_dir,
        ["2024-01-05"] * 3,
        [11000.0, 5500.0, 1000.0],
        supply_amount=[10000.0, None, 0.0],
        vat=[1000.0, None, 0.0],
    )
    assert df["has_vat"].tolist() == [True, False, False]
    assert df["vat_rate"].iloc[0] == 0.1
    assert df["vat_rate"].iloc[1:].isna().all()  # no supply amount, or zero: no rate (no division by zero)


def test_features_without_vat_columns_still_build(work_dir):
    df = features_of(work_dir, ["2024-01-05"])
    assert bool(df.loc[0, "has_vat"]) is False and pd.isna(df.loc[0, "vat_rate"])


# --- select_features ------------------------------------------------------------------------------

TRACE = ["row_id", "source_file", "source_row"]
LABELS = ["account_code", "account_name"]


def selected(work_dir, wanted):
    params = FeatureParams(selected=wanted)
    return select_features.fn(featured(work_dir, ["2024-01-05"]), params, work_dir)


def test_select_keeps_the_configured_order_between_trace_and_labels(work_dir):
    result = selected(work_dir, ["amount_log", "month", "vendor", "date"])
    expected = [*TRACE, "amount_log", "month", "vendor", "date", *LABELS]
    assert result.report["columns"] == expected
    assert list(frames(result)[0].columns) == expected


def test_select_always_keeps_trace_and_label_columns(work_dir):
    # given a selection naming none of them (and one label, listed early)
    result = selected(work_dir, ["account_name", "weekday"])
    # then trace columns lead and labels close the frame
    assert list(frames(result)[0].columns) == [*TRACE, "weekday", *LABELS]


def test_select_warns_about_a_missing_column_and_continues(work_dir, caplog):
    # given a selection with a column that was never built
    with caplog.at_level(logging.WARNING):
        result = selected(work_dir, ["weekday", "no_such_feature", "amount_log"])
    # then it warns naming the column and keeps the others
    assert result.report["missing"] == ["no_such_feature"]
    assert any(r.levelno == logging.WARNING and "no_such_feature" in r.getMessage() for r in caplog.records)
    assert list(frames(result)[0].columns) == [*TRACE, "weekday", "amount_log", *LABELS]


def test_select_without_missing_columns_does_not_warn(work_dir, caplog):
    with caplog.at_level(logging.WARNING):
        result = selected(work_dir, ["weekday"])
    assert result.report["missing"] == [] and not caplog.records
