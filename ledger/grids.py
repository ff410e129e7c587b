"""Tables read as grids of cells (workbook sheets, HTML tables) into text frames, and cleaning every format shares."""

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ledger.headers import HeaderLayout, column_names

# Excel's text-keeping wrapper ="00123" (="" "" doubled when a CSV writer quoted it and the quoting got lost)
EXCEL_TEXT = r'^\s*=\s*"{1,2}([^"]*)"{1,2}\s*$'
EXCEL_TEXT_START = r'^\s*=\s*"|^\''
# a leading apostrophe is Excel's "keep as text" marker ('0813), not part of the value
APOSTROPHE = r"^'"
# Excel keeps 15 significant digits: the rest of a stored double is noise (1234.5600000000002 shows as 1234.56)
EXCEL_DIGITS = 15

Grid = list[list[str | None]]


@dataclass
class ReadTable:
    """One table read from a file: text cells under the file's own headers, and where they came from."""

    df: pd.DataFrame
    header_rows: list[int]  # 0-based row (CSV: record) indices of the header rows
    title_lines: list[str] = field(default_factory=list)
    encoding: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    row_lines: list[int] | None = None


def float_text(value: float) -> str | None:
    """A number cell as the digits a person sees: 81100 (not 81100.0), 0.1, 0.0000001 (no exponent)."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return str(value)
    value = float(f"{value:.{EXCEL_DIGITS}g}")
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    return np.format_float_positional(value, trim="-") if "e" in text else text


def _clock(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def cell_text(value: object) -> str | None:
    """One workbook cell as text: numbers without '.0', dates as ISO (with the time when not midnight), '' missing."""
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, dt.datetime):
        midnight = value.time() == dt.time(0)
        return value.date().isoformat() if midnight else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        return _clock(value.total_seconds())
    return str(value)


def grid_texts(rows: list[list]) -> Grid:
    """Every cell of a workbook grid as text (or None)."""
    # calamine hands over Python objects: one pass per cell is the least work left
    return [[cell_text(v) for v in row] for row in rows]


def clean_text(text: str) -> str:
    """One header cell cleaned like the data cells: ="81100" -> 81100, '0813 -> 0813."""
    return re.sub(APOSTROPHE, "", re.sub(EXCEL_TEXT, r"\1", text))


def clean_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells as the software meant them: Excel's ="81100" wrapper and leading apostrophe taken off."""
    for column in df.columns:
        col = df[column]
        if not (pd.api.types.is_string_dtype(col) or col.dtype == object):
            continue
        # most columns hold neither: look before rewriting the column
        if not col.astype("str").str.contains(EXCEL_TEXT_START, regex=True, na=False).any():
            continue
        text = col.astype("str").str.replace(EXCEL_TEXT, r"\1", regex=True).str.replace(APOSTROPHE, "", regex=True)
        df[column] = text.where(col.notna())
    return df


def _blank(row: list) -> bool:
    return not any(c is not None and str(c).strip() for c in row)


def grid_frame(grid: Grid, layout: HeaderLayout) -> pd.DataFrame:
    """The data rows under the header as a text frame; blank rows inside the data are kept (their numbers stay true)."""
    body = grid[layout.data_start :]
    end = len(body)
    while end and _blank(body[end - 1]):
        end -= 1
    body = body[:end]
    width = max([len(layout.headers), *(len(r) for r in body)])
    if any(len(r) != width for r in body):
        body = [r + [None] * (width - len(r)) for r in body]
    headers = [clean_text(h) for h in layout.headers] + [""] * (width - len(layout.headers))
    df = pd.DataFrame(body, columns=column_names(headers), dtype="str")
    # a column with neither header nor value is the empty right edge of the used area, not a ledger column
    empty = [name for name, h in zip(df.columns, headers, strict=True) if not h.strip() and df[name].isna().all()]
    return df.drop(columns=empty)
