"""Vectorized parsing and normalization of ledger cells (no row-wise apply: these run on every row)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ledger.readers import normalize_header

# pyarrow's RE2 takes \s as ASCII only: name the Unicode spaces real exports carry explicitly.
SPACES = r"[\s\x{00a0}\x{3000}\x{2000}-\x{200b}\x{feff}]+"
AMOUNT_NOISE = r"[\s\x{00a0}\x{3000},₩￦\\$원]|KRW|krw"
DATE_PATTERN = r"^(\d{4})[-./년\s]*(\d{1,2})[-./월\s]*(\d{1,2})일?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)?$"
EXCEL_SERIAL = r"^\d{5}(?:\.0+)?$"


def arrow_text(col: pd.Series) -> pa.Array:
    return pa.array(col.astype("str"), type=pa.large_string(), from_pandas=True)


def _series(values: pa.Array, like: pd.Series) -> pd.Series:
    return pd.Series(values, index=like.index, dtype="str", name=like.name)


def tidy_text(col: pd.Series, form: str = "NFC") -> pd.Series:
    """Unicode form, trimmed, inner runs of any space collapsed; blank becomes missing."""
    # pyarrow compute directly (pandas' str.replace with a character class is ~4x slower), but the Unicode
    # form through pandas: pyarrow's utf8_normalize leaves decomposed Hangul jamo uncomposed
    normalized = arrow_text(col.astype("str").str.normalize(form))
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(normalized, SPACES, " "))
    text = _series(text, col)
    return text.where(text != "")


def spelling_key(col: pd.Series) -> pd.Series:
    """The matching key of a value: lower case, no whitespace."""
    return _series(pc.replace_substring_regex(pc.utf8_lower(arrow_text(col)), SPACES, ""), col)


def fold_width(col: pd.Series) -> pd.Series:
    """Full-width digits and signs ('１１，０００', '２０２４－０１－０５') as ASCII (NFKC), where needed."""
    text = col.astype("str")
    wide = ~text.str.isascii().fillna(True).astype("bool")
    if not wide.any():
        return text
    return text.where(~wide, text[wide].str.normalize("NFKC"))


def parse_amounts(col: pd.Series) -> pd.Series:
    """'₩1,200', '1,200원', '(1,200)', '△1,200', '１，２００' -> float; anything else (inf too) -> NaN."""
    text = _series(pc.replace_substring_regex(arrow_text(fold_width(col)), AMOUNT_NOISE, ""), col)
    negative = text.str.match(r"^\(.*\)$", na=False) | text.str.startswith(("△", "▲"), na=False)
    text = text.str.replace(r"^[(△▲]|\)$", "", regex=True)
    values = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    values = values.where(np.isfinite(values))  # 'inf', '1e400': not an amount
    return values.where(~negative, -values)


def parse_dates(col: pd.Series) -> pd.Series:
    """2024-01-05, 2024.01.05, 20240105, 2024/1/5, '2024년 1월 5일', Excel serials -> Timestamp; else NaT."""
    text = col.astype("str").str.strip()
    # most cells are ISO dates: parse those at C speed, the regex only sees the rest
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    rest = dates.isna() & text.notna()
    if rest.any():
        dates = dates.where(~rest, _parse_other_dates(fold_width(text[rest])))
    return dates.astype("datetime64[ns]")


def _parse_other_dates(text: pd.Series) -> pd.Series:
    parts = text.str.extract(DATE_PATTERN)
    numbers = parts.apply(pd.to_numeric, errors="coerce")
    dates = pd.to_datetime(pd.DataFrame({"year": numbers[0], "month": numbers[1], "day": numbers[2]}), errors="coerce")
    serial = text.str.match(EXCEL_SERIAL, na=False)
    if serial.any():
        days = pd.to_numeric(text.where(serial), errors="coerce")
        dates = dates.where(~serial, pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D"))
    return dates


def map_values(col: pd.Series, spellings: dict[str, list[str]], unmapped_to: str) -> tuple[pd.Series, dict]:
    """Map spellings to canonical values; unknown non-blank values become `unmapped_to` and are counted."""
    lookup = {normalize_header(s): canonical for canonical, names in spellings.items() for s in [canonical, *names]}
    mapped = spelling_key(col).map(lookup)
    unknown = col.notna() & mapped.isna()
    counts = col[unknown].value_counts().head(20)
    mapped = mapped.where(~unknown, unmapped_to).astype("str")
    return mapped.where(col.notna()), {str(k): int(v) for k, v in counts.items()}


def normalize_business_no(col: pd.Series) -> pd.Series:
    """Korean business registration numbers as 123-45-67890 (a masked one as 123-45-*****); other digit strings
    kept as digits."""
    digits = col.str.replace(r"[^\d*]", "", regex=True)
    formatted = digits.str.slice(0, 3) + "-" + digits.str.slice(3, 5) + "-" + digits.str.slice(5, 10)
    out = formatted.where(digits.str.len() == 10, digits)
    return out.where(digits.notna() & (digits != ""))


def normalize_code(col: pd.Series) -> pd.Series:
    """Account codes as text without the '.0' a spreadsheet adds to numbers."""
    return col.str.replace(r"\.0+$", "", regex=True)


def row_digest(df: pd.DataFrame) -> np.ndarray:
    """One int64 per row over every cell (text tidied: spacing and Unicode form do not make a line new)."""
    tidy = pd.DataFrame({c: tidy_text(df[c].astype("str")).fillna("") for c in df.columns}, index=df.index)
    return pd.util.hash_pandas_object(tidy, index=False).to_numpy().view("int64")
