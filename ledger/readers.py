"""Reading one ledger file into text cells: CSV in any common Korean encoding, workbooks, HTML tables, Parquet.

The format comes from the file's content, not its name (exports are often misnamed: an HTML table as .xls).
"""

import contextlib
import csv
import io
import warnings
from pathlib import PurePosixPath

import fsspec
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field

from ledger.decoding import decode_text, lines_shown, refuse_nul
from ledger.errors import LedgerFileError
from ledger.grids import ReadTable, clean_cells, clean_text
from ledger.headers import (
    HeaderLayout,
    column_names,
    detect_header,
    find_header_row,
    header_candidates,
    is_known_header,
    normalize_header,
    title_lines,
)
from ledger.html_tables import read_html
from ledger.sniff import WORKBOOK_FORMATS, sniff_format
from ledger.work_store import NativeUrl
from ledger.workbooks import read_workbook

__all__ = [
    "FileReport",
    "LedgerFileError",
    "find_header_row",
    "header_candidates",
    "is_known_header",
    "normalize_header",
    "read_ledger_file",
    "sniff_format",
]

UNSUPPORTED = {
    "zip": "a zip archive that holds no workbook; unzip it and read the ledger file inside",
    "spreadsheetml": "an Excel 2003 XML spreadsheet; open it in Excel and save it as xlsx",
}
# text is read as CSV whatever its name, except under a Parquet name: that is a damaged Parquet file
PARQUET_SUFFIXES = (".parquet", ".pq")


class FileReport(BaseModel):
    """What was read from one file."""

    url: NativeUrl
    format: str
    encoding: str | None = None
    sheet: str | None = None
    sheets: list[str] = []
    # the last header row (1-based): data row i is on header_row + 1 + i unless row_lines says otherwise
    header_row: int
    header_rows: list[int]
    title_lines: list[str] = []
    headers: list[str]
    rows: int
    # each row's line when quoted cells span lines (else row i is on header_row + 1 + i); not reported
    row_lines: list[int] | None = Field(None, exclude=True)


def _header_hits(rows: list[list[str]], known: set[str]) -> int:
    return max((sum(is_known_header(c, known) for c in row) for row in rows), default=0)


def _sniff_delimiter(head: str, known: set[str]) -> str:
    """The delimiter under which some line of the head matches the most known headers (title lines aside)."""
    candidates = [",", "\t", ";", "|"]
    return max(candidates, key=lambda sep: _header_hits(list(csv.reader(io.StringIO(head), delimiter=sep)), known))


def _scan_records(url: str, text: str, sep: str, header_row: int) -> int:
    """Refuse rows with more non-blank cells than headers (naming their lines); the last record's first line.

    Only for files pyarrow refuses or the C reader reads (blank lines): the C reader would silently shift a
    long first row into the index or drop the extra cells of later ones.
    """
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width, start, last, too_long = 0, 1, 1, []
    for index, record in enumerate(reader):
        if index == header_row:
            width = len(record)
        elif index > header_row and len(record) > width and any(c.strip() for c in record[width:]):
            too_long.append(start)
        start, last = reader.line_num + 1, start
    if too_long:
        raise LedgerFileError(
            url,
            f"malformed CSV: line(s) {lines_shown(too_long)} have more cells than the {width} headers "
            f"(an unquoted '{sep}' inside a cell? quote that cell)",
        )
    return last


def _parse_csv(data: bytes, sep: str, header_row: int, engine: str) -> pd.DataFrame:
    # the C reader keeps blank lines as rows (rejected later as blank rows, so source_row stays the line),
    # pads short rows with blank cells and drops blank trailing cells (index_col=False)
    options = {"engine": "pyarrow"} if engine == "pyarrow" else {"skip_blank_lines": False, "index_col": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        return pd.read_csv(
            io.BytesIO(data), sep=sep, skiprows=header_row, dtype=str, keep_default_na=False, na_values=[""], **options
        )


def _line_numbers(df: pd.DataFrame, text: str, header_line: int) -> list[int] | None:
    """Each row's first line when some quoted cell spans lines (None: row i is simply on header_line + 1 + i)."""
    if text.count("\n") <= header_line + len(df):
        return None
    breaks = sum(df[c].str.count("\n").fillna(0).astype("int64") for c in df.columns)
    before = breaks.cumsum() - breaks
    return (header_line + 1 + pd.RangeIndex(len(df)) + before.to_numpy()).tolist()


def _no_header(url: str, rows: list[list[object]]) -> LedgerFileError:
    first = [str(c) for c in rows[0]] if rows else []
    return LedgerFileError(url, f"no ledger header found (first row: {first[:8]}); not a ledger?")


def _read_csv_frame(url: str, raw: bytes, text: str, encoding: str, sep: str, header_row: int) -> pd.DataFrame:
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    data = data if encoding.replace("-sig", "") in ("utf-8", "utf8") else text.encode("utf-8")
    # pyarrow's reader is ~30x faster but skips blank lines and refuses ragged rows: those files go
    # through a check of their rows and the C reader
    if not (b"\n\n" in data or b"\n\r\n" in data):
        try:
            return _parse_csv(data, sep, header_row, "pyarrow")
        except (pd.errors.ParserError, pa.ArrowInvalid):
            pass
    last = _scan_records(url, text, sep, header_row)
    try:
        return _parse_csv(data, sep, header_row, "c")
    except pd.errors.ParserError as err:
        if "EOF inside string" in str(err):
            problem = f"a quote opened in line {last} is never closed (the rest of the file would be one cell)"
            raise LedgerFileError(url, f"malformed CSV: {problem}") from err
        raise LedgerFileError(url, f"malformed CSV: {err}") from err


def _combined_columns(df: pd.DataFrame, layout: HeaderLayout) -> list[str]:
    """The two-row header's combined names over the columns pandas read from its lower row."""
    headers = [clean_text(h) for h in layout.headers[: len(df.columns)]]
    return column_names(headers + [""] * (len(df.columns) - len(headers)))


def _read_csv(url: str, raw: bytes, encodings: list[str], known: set[str], search: int) -> ReadTable:
    text, encoding = decode_text(url, raw, encodings)
    refuse_nul(url, text)
    head = "\n".join(text.splitlines()[:search])
    sep = _sniff_delimiter(head, known)
    sample = list(csv.reader(io.StringIO(head), delimiter=sep))
    layout = detect_header(sample, known)
    if layout is None:
        raise _no_header(url, sample)
    header_row = layout.rows[-1]
    df = _read_csv_frame(url, raw, text, encoding, sep, header_row)
    if len(layout.rows) > 1:
        df.columns = _combined_columns(df, layout)
    return ReadTable(
        df=df,
        header_rows=list(layout.rows),
        title_lines=title_lines(sample, layout.rows[0]),
        encoding=encoding,
        row_lines=_line_numbers(df, text, header_row + 1),
    )


def _read_parquet(url: str, raw: bytes) -> ReadTable:
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        raise LedgerFileError(url, f"not a readable Parquet file ({err})") from err
    for column in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].dt.strftime("%Y-%m-%d")
    return ReadTable(df=df.astype("str").where(df.notna()), header_rows=[0])


@contextlib.contextmanager
def long_csv_cells():
    """A ledger cell may be long (a pasted memo): csv.reader must not refuse it (its default limit is 128 KiB).

    The limit is process-wide, so it is raised only while a file is read and restored after.
    """
    before = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _read_table(url: str, raw: bytes, fmt: str, known: set[str], encodings: list[str], sheet, search: int):
    if fmt == "csv":
        with long_csv_cells():
            return _read_csv(url, raw, encodings, known, search)
    if fmt in WORKBOOK_FORMATS:
        return read_workbook(url, raw, fmt, sheet, known, search)
    if fmt == "html":
        return read_html(url, raw, encodings, sheet, known, search)
    if fmt == "parquet":
        return _read_parquet(url, raw)
    raise LedgerFileError(url, UNSUPPORTED[fmt])


def read_ledger_file(
    url: str, known_headers: set[str], encodings: list[str], sheet: str | int | None = None, search: int = 20
) -> tuple[pd.DataFrame, FileReport]:
    """Read one file into text cells with its own headers; clear errors for empty or malformed files."""
    with fsspec.open(url, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        raise LedgerFileError(url, "file is empty")
    fmt = sniff_format(raw)
    if fmt == "csv" and PurePosixPath(url.split("?")[0]).suffix.lower() in PARQUET_SUFFIXES:
        fmt = "parquet"
    table = _read_table(url, raw, fmt, known_headers, encodings, sheet, search)
    df = clean_cells(table.df)
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise LedgerFileError(url, f"has a header ({list(df.columns)[:8]}) but no data rows")
    header_rows = [r + 1 for r in table.header_rows]
    report = FileReport(
        url=url,
        format=fmt,
        encoding=table.encoding,
        sheet=table.sheet,
        sheets=table.sheets,
        header_row=header_rows[-1],
        header_rows=header_rows,
        title_lines=table.title_lines,
        headers=list(df.columns),
        rows=len(df),
        row_lines=table.row_lines,
    )
    return df, report
