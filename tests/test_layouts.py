"""What in an export is not a ledger line: summary rows, account blocks, periods, month-day dates, code columns."""

import pandas as pd
import pytest

from ledger.errors import LedgerFileError
from ledger.layouts import (
    account_blocks,
    complete_month_days,
    joined_cells,
    load_layout,
    period_of,
    summary_rows,
)
from ledger.standardize import chart_codes, check_account_codes, code_fits

LAYOUT = load_layout()


def frame(*columns: list) -> pd.DataFrame:
    return pd.DataFrame({f"c{i}": col for i, col in enumerate(columns)}, dtype="str")


@pytest.mark.parametrize(
    "cell",
    ["일계", "[ 월 계 ]", "** 합 계 **", "전기이월", "차기이월", "누계", "2024-01 합계", "1월 계", "소계", "Total"],
)
def test_a_summary_cell_marks_its_row_whatever_the_other_cells_hold(cell):
    df = frame([cell, "2024-01-05"], ["1,000,000", "쿠팡"])
    assert summary_rows(df, ["c0", "c1"], LAYOUT).tolist()[0] == cell
    assert pd.isna(summary_rows(df, ["c0", "c1"], LAYOUT).tolist()[1])


@pytest.mark.parametrize("cell", ["합계 할인 쿠폰", "월계수 잎", "이월상품 판매", "계약금"])
def test_a_word_inside_a_longer_text_is_not_a_summary(cell):
    assert summary_rows(frame([cell]), ["c0"], LAYOUT).isna().all()


def test_account_blocks_carry_their_account_down_to_the_lines_below():
    # given two block rows in two spellings, each above its lines
    df = frame(["[811] 복리후생비", "01-05", "계정과목 : 0813 접대비", "01-06"], [None, "식대", None, "선물"])
    blocks = account_blocks(*joined_cells(df, ["c0", "c1"]), LAYOUT)
    assert blocks["block"].tolist() == [True, False, True, False]
    assert blocks["code"].tolist() == ["811", "811", "0813", "0813"]
    assert blocks["name"].tolist() == ["복리후생비", "복리후생비", "접대비", "접대비"]


def test_a_line_is_never_a_block_row():
    df = frame(["2024-01-05", "811"], ["쿠팡", "복리후생비"], ["11,000", "1,000"], ["볼펜", "x"])
    assert not account_blocks(*joined_cells(df, ["c0", "c1", "c2", "c3"]), LAYOUT)["block"].any()


@pytest.mark.parametrize(
    ("line", "start", "end"),
    [
        ("기간 : 2024-01-01 ~ 2024-03-31", "2024-01-01", "2024-03-31"),
        ("2024년 01월 01일 ~ 2024년 12월 31일", "2024-01-01", "2024-12-31"),
        ("조회기간 2024.01 ~ 2024.02", "2024-01-01", "2024-02-29"),
        ("2024년 분개장", "2024-01-01", "2024-12-31"),
    ],
)
def test_the_period_comes_from_a_title_row(line, start, end):
    assert period_of(["(주)테스트", line], LAYOUT) == (pd.Timestamp(start), pd.Timestamp(end))


def test_month_day_dates_take_the_year_that_puts_them_in_the_period():
    period = (pd.Timestamp("2023-12-01"), pd.Timestamp("2024-01-31"))
    dates = pd.Series(["12-05", "01/06", "1월 7일", "2024-01-08"], dtype="str")
    assert complete_month_days(dates, period).tolist() == ["2023-12-05", "2024-01-06", "2024-01-07", "2024-01-08"]
    assert complete_month_days(dates, None).tolist() == dates.tolist()  # no period: left for validation to name


def test_account_codes_are_3_digits_in_the_chart_0_plus_3_or_5_with_a_sub_code():
    codes = pd.Series(["811", "0811", "81100", "00123", "81", "abc", "999999"], dtype="str")
    assert code_fits(codes, chart_codes()).tolist() == [True, True, True, False, False, False, False]


def test_a_code_column_of_vendor_codes_is_an_error_naming_the_column():
    codes = pd.Series(["00123", "00456", "01234", "811"], dtype="str")
    with pytest.raises(LedgerFileError, match=r"column '코드'.*거래처 \(vendor\) codes.*ingest\.columns"):
        check_account_codes("ledger.xlsx", "코드", codes, chart_codes(), vendor_like=False)


def test_no_header_spelling_names_two_columns():
    # given conf/columns.yaml / then each spelling (normalized) belongs to one column or one side's amount or VAT
    from collections import Counter

    from ledger.columns import columns_conf
    from ledger.headers import normalize_header
    from params.prepare import IngestParams

    conf = columns_conf(IngestParams().columns_conf)
    spellings = [s for name in conf.columns for s in {normalize_header(a) for a in conf.spellings(name)}]
    spellings += [s for sided in conf.sided_amounts.values() for s in {normalize_header(a) for a in sided.amount}]
    spellings += [s for sided in conf.sided_amounts.values() for s in {normalize_header(a) for a in sided.vat}]
    assert [s for s, n in Counter(spellings).items() if n > 1] == []
