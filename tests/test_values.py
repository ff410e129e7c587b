"""Vectorized cell parsing: amounts, dates, text tidying, value maps, business numbers, account codes."""

import math
import unicodedata

import pandas as pd
import pytest

from ledger.cells import (
    map_values,
    normalize_business_no,
    normalize_code,
    parse_amounts,
    parse_dates,
    tidy_text,
)


def text(*values) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def one_amount(value: str) -> float:
    return parse_amounts(text(value)).iloc[0]


def one_date(value: str):
    return parse_dates(text(value)).iloc[0]


# --- parse_amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("₩1,200", 1200.0),  # won sign
        ("￦1,200", 1200.0),  # full-width won sign
        ("1,200원", 1200.0),  # 원 suffix
        ("(1,200)", -1200.0),  # accounting negative
        ("△500", -500.0),  # Korean negative marker
        ("▲500", -500.0),
        (" 1 200 ", 1200.0),  # thousands separated by spaces
        ("-3,000", -3000.0),
        ("KRW 3,000", 3000.0),
        ("1,200.50", 1200.5),
    ],
)
def test_amount_spellings_parse_to_numbers(cell, expected):
    assert one_amount(cell) == expected


@pytest.mark.parametrize("cell", ["abc", "", "1,2,0a"])
def test_unparsable_amounts_become_nan(cell):
    assert math.isnan(one_amount(cell))


def test_missing_amount_stays_missing():
    assert parse_amounts(text("1,000", None)).isna().tolist() == [False, True]


def test_amounts_come_back_as_float64():
    assert parse_amounts(text("1", "2")).dtype == "float64"


# --- parse_dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "2024-01-05",
        "2024.01.05",
        "20240105",
        "2024/1/5",
        "2024년 1월 5일",
        "2024-01-05 00:00:00",
        "2024-01-05T10:30",
    ],
)
def test_date_spellings_parse_to_the_same_day(cell):
    assert one_date(cell) == pd.Timestamp("2024-01-05")


@pytest.mark.parametrize("cell", ["45296", "45296.0"])
def test_excel_serial_numbers_are_dates(cell):
    # 45296 days after Excel's 1899-12-30 epoch is 2024-01-05
    assert one_date(cell) == pd.Timestamp("2024-01-05")


@pytest.mark.parametrize("cell", ["2024-02-30", "2024-13-01", "garbage", "", "24.01.05"])
def test_impossible_or_garbage_dates_are_nat(cell):
    assert pd.isna(one_date(cell))


def test_dates_come_back_as_datetime64_with_missing_as_nat():
    dates = parse_dates(text("2024-01-05", None))
    assert dates.dtype == "datetime64[ns]"
    assert pd.isna(dates.iloc[1])


# --- tidy_text ------------------------------------------------------------------------------------


def test_decomposed_hangul_becomes_composed_nfc():
    # given 사무용품 typed as decomposed jamo (NFD, as macOS file names and some exports give it)
    decomposed = unicodedata.normalize("NFD", "사무용품")
    assert len(decomposed) > len("사무용품")
    # when tidied
    out = tidy_text(text(decomposed)).iloc[0]
    # then it is the composed syllables, equal to the typed word
    assert out == "사무용품" and unicodedata.is_normalized("NFC", out)


def test_ideographic_and_repeated_spaces_collapse_to_one():
    out = tidy_text(text("사무용품\u3000구입", "야근  식대", "\u00a0 KT \u00a0"))
    assert out.tolist() == ["사무용품 구입", "야근 식대", "KT"]


@pytest.mark.parametrize("cell", ["", "   ", "\u3000", None])
def test_blank_text_becomes_missing(cell):
    assert pd.isna(tidy_text(text(cell)).iloc[0])


def test_nfkc_form_folds_full_width_letters():
    assert tidy_text(text("ＫＴ"), form="NFKC").iloc[0] == "KT"


# --- map_values -----------------------------------------------------------------------------------

EVIDENCE = {"세금계산서": ["전자세금계산서", "tax invoice"], "신용카드": ["카드", "법인카드"]}


def test_known_spellings_map_ignoring_case_and_spaces():
    mapped, unknown = map_values(text("전자 세금계산서", "TAX INVOICE", "카드", "세금계산서"), EVIDENCE, "기타")
    assert mapped.tolist() == ["세금계산서", "세금계산서", "신용카드", "세금계산서"]
    assert unknown == {}


def test_unknown_spellings_become_unmapped_to_and_are_counted():
    mapped, unknown = map_values(text("상품권", "카드", "상품권", "송장"), EVIDENCE, "기타")
    assert mapped.tolist() == ["기타", "신용카드", "기타", "기타"]
    assert unknown == {"상품권": 2, "송장": 1}


def test_missing_values_stay_missing_and_are_not_counted():
    mapped, unknown = map_values(text(None, "카드"), EVIDENCE, "기타")
    assert pd.isna(mapped.iloc[0]) and unknown == {}


# --- normalize_business_no / normalize_code -------------------------------------------------------


def test_business_numbers_are_formatted_3_2_5():
    out = normalize_business_no(text("1234567890", "123-45-67890", "123 45 67890", "123.45.67890"))
    assert out.tolist() == ["123-45-67890"] * 4


def test_business_numbers_of_other_lengths_keep_their_digits():
    assert normalize_business_no(text("12-345")).tolist() == ["12345"]


def test_business_numbers_without_digits_become_missing():
    assert normalize_business_no(text("없음", "", None)).isna().all()


@pytest.mark.parametrize(("cell", "expected"), [("830.0", "830"), ("830.00", "830"), ("830", "830"), ("8300", "8300")])
def test_account_codes_lose_the_spreadsheet_decimal(cell, expected):
    assert normalize_code(text(cell)).iloc[0] == expected


def test_account_code_with_real_decimals_is_kept():
    assert normalize_code(text("83.05")).iloc[0] == "83.05"
