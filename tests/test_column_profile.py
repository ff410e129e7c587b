"""The data-quality report's column table on large columns (ledger/profile.py): a sample says when a column is
clearly not dates or numbers, so a 1M-line text column is not parsed in full twice; the verdict stays exact."""

import pandas as pd

import ledger.profile as profile
from ledger.profile import SAMPLE, profile_column


def dates(n: int) -> list[str]:
    return [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)]


def test_a_large_text_column_is_typed_text_parsing_only_samples(monkeypatch):
    # given a 50,000-line vendor column, and parsers that record how many cells they were given
    col = pd.Series([f"거래처 {i % 700}" for i in range(50_000)])
    sizes = []
    for name in ("parse_dates", "parse_amounts"):
        real = getattr(profile, name)
        monkeypatch.setattr(profile, name, lambda c, real=real: sizes.append(len(c)) or real(c))
    # when profiled
    out = profile_column(col)
    # then: text with its top values, and neither parser saw more than the sample
    assert out["type"] == "text" and out["unique"] == 700
    assert sizes == [SAMPLE, SAMPLE]


def test_a_large_date_column_with_some_junk_is_still_dates_counted_exactly():
    # given 20,000 dates of which 3% are junk (above 95% parsed: a date column)
    cells = dates(20_000)
    for i in range(0, 20_000, 34):
        cells[i] = "미정"
    # when
    out = profile_column(pd.Series(cells))
    # then: the unparsed count is over every cell, not the sample
    assert out["type"] == "date"
    assert out["unparsed"] == len(range(0, 20_000, 34))


def test_a_large_column_of_mostly_dates_below_the_share_is_text():
    # given 10,000 cells, 90% dates: the sample passes (>= 80%) and the full parse decides (< 95%)
    cells = dates(10_000)
    for i in range(0, 10_000, 10):
        cells[i] = "미정"
    # when / then
    assert profile_column(pd.Series(cells))["type"] == "text"
