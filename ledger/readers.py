"""Reading one ledger file (CSV in any common Korean encoding, xlsx, Parquet) into text cells."""

import contextlib
import csv
import io
import unicodedata
import warnings
import zipfile
from pathlib import PurePosixPath

import fsspec
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field

NUL_SNIFF_BYTES = 8192
LINES_SHOWN = 10
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
BINARY = "binary data (NUL bytes), not a text ledger; is the extension right? (UTF-16 text needs its byte-order mark)"


class LedgerFileError(ValueError):
    """A file that cannot be read as a ledger; the message names the file and what is wrong."""

    def __init__(self, url: str, problem: str):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class FileReport(BaseModel):
    """What was read from one file."""

    url: str
    format: str
    encoding: str | None = None
    header_row: int
    headers: list[str]
    rows: int
    # each row's line when quoted cells span lines (else row i is on header_row + 1 + i); not reported
    row_lines: list[int] | None = Field(None, exclude=True)


def normalize_header(text: object) -> str:
    """Header spelling used for alias matching: NFC, no whitespace, lower case."""
    return "".join(unicodedata.normalize("NFC", str(text)).split()).lower()


def file_format(url: str) -> str:
    suffix = PurePosixPath(url.split("?")[0]).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"


def _lines_shown(lines: list[int]) -> str:
    more = f" and {len(lines) - LINES_SHOWN} more" if len(lines) > LINES_SHOWN else ""
    return ", ".join(map(str, lines[:LINES_SHOWN])) + more


def decode_text(url: str, raw: bytes, encodings: list[str]) -> tuple[str, str]:
    """Decode CSV bytes with the first encoding that fits (UTF-16 by its byte-order mark); binary is refused."""
    # Excel's "Unicode text" export: a byte-order mark, and NULs as the high bytes of digits and separators
    if raw.startswith(UTF16_BOMS) and b"\x00" in raw[:NUL_SNIFF_BYTES]:
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    first_error = None
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as err:
            first_error = first_error or (encoding, err)
        except LookupError:
            continue
    if b"\x00" in raw[:NUL_SNIFF_BYTES]:
        raise LedgerFileError(url, BINARY)
    where = ""
    if first_error:
        encoding, err = first_error
        data = err.object  # without the BOM utf-8-sig took off
        line = data[: err.start].count(b"\n") + 1
        where = f" (not {encoding} from line {line} on: byte 0x{data[err.start]:02x})"
    raise LedgerFileError(url, f"cannot be decoded with any of {encodings}{where}; save it as UTF-8 or CP949")


def refuse_nul(url: str, text: str) -> None:
    """NUL characters: a binary file (or UTF-16 without its mark) when many, else the lines holding them."""
    if "\x00" not in text:
        return
    if text.count("\x00") * 10 > len(text):
        raise LedgerFileError(url, BINARY)
    lines = [i for i, line in enumerate(text.split("\n"), start=1) if "\x00" in line]
    raise LedgerFileError(url, f"NUL bytes (\\x00) in line(s) {_lines_shown(lines)}; remove them or re-export the file")


def find_header_row(rows: list[list[object]], known: set[str]) -> int:
    """Index of the first row whose cells match the most known header spellings (title rows skipped)."""
    best, best_hits = 0, 0
    for i, row in enumerate(rows):
        hits = sum(normalize_header(c) in known for c in row if c is not None and str(c).strip())
        if hits > best_hits:
            best, best_hits = i, hits
    if best_hits == 0:
        raise ValueError("no header row found")
    return best


def _header_hits(rows: list[list[str]], known: set[str]) -> int:
    return max((sum(normalize_header(c) in known for c in row) for row in rows), default=0)


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
            f"malformed CSV: line(s) {_lines_shown(too_long)} have more cells than the {width} headers "
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


def _read_csv(url: str, raw: bytes, encodings: list[str], known: set[str], search: int):
    text, encoding = decode_text(url, raw, encodings)
    refuse_nul(url, text)
    head = "\n".join(text.splitlines()[:search])
    sep = _sniff_delimiter(head, known)
    sample = list(csv.reader(io.StringIO(head), delimiter=sep))
    header_row = _header_or_error(url, sample, known)
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    data = data if encoding.replace("-sig", "") in ("utf-8", "utf8") else text.encode("utf-8")
    # pyarrow's reader is ~30x faster but skips blank lines and refuses ragged rows: those files go
    # through a check of their rows and the C reader
    df = None
    if not (b"\n\n" in data or b"\n\r\n" in data):
        try:
            df = _parse_csv(data, sep, header_row, "pyarrow")
        except (pd.errors.ParserError, pa.ArrowInvalid):
            df = None
    if df is None:
        last = _scan_records(url, text, sep, header_row)
        try:
            df = _parse_csv(data, sep, header_row, "c")
        except pd.errors.ParserError as err:
            if "EOF inside string" in str(err):
                problem = f"a quote opened in line {last} is never closed (the rest of the file would be one cell)"
                raise LedgerFileError(url, f"malformed CSV: {problem}") from err
            raise LedgerFileError(url, f"malformed CSV: {err}") from err
    return df, encoding, header_row, _line_numbers(df, text, header_row + 1)


def _read_xlsx(url: str, raw: bytes, sheet, known: set[str], search: int):
    try:
        with pd.ExcelFile(io.BytesIO(raw)) as book:
            names = book.sheet_names
            if sheet not in names and not (isinstance(sheet, int) and -len(names) <= sheet < len(names)):
                raise LedgerFileError(url, f"has no sheet {sheet!r} (its sheets: {names}); set ingest.sheet")
            head = book.parse(sheet, header=None, nrows=search, dtype=str)
            header_row = _header_or_error(url, head.values.tolist(), known)
            df = book.parse(sheet, skiprows=header_row, dtype=str)
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        if isinstance(err, LedgerFileError):
            raise
        raise LedgerFileError(url, f"not a readable xlsx workbook ({err})") from err
    return df, None, header_row, None


def _read_parquet(url: str, raw: bytes):
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        raise LedgerFileError(url, f"not a readable Parquet file ({err})") from err
    for column in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].dt.strftime("%Y-%m-%d")
    return df.astype("str").where(df.notna()), None, 0, None


def _header_or_error(url: str, rows: list[list[object]], known: set[str]) -> int:
    try:
        return find_header_row(rows, known)
    except ValueError:
        first = [str(c) for c in rows[0]] if rows else []
        raise LedgerFileError(url, f"no ledger header found (first row: {first[:8]}); not a ledger?") from None


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


def read_ledger_file(url: str, known_headers: set[str], encodings: list[str], sheet, search: int):
    """Read one file into text cells with its own headers; clear errors for empty or malformed files."""
    with fsspec.open(url, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        raise LedgerFileError(url, "file is empty")
    fmt = file_format(url)
    if fmt == "csv":
        with long_csv_cells():
            df, encoding, header_row, lines = _read_csv(url, raw, encodings, known_headers, search)
    elif fmt == "xlsx":
        df, encoding, header_row, lines = _read_xlsx(url, raw, sheet, known_headers, search)
    else:
        df, encoding, header_row, lines = _read_parquet(url, raw)
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise LedgerFileError(url, f"has a header ({list(df.columns)[:8]}) but no data rows")
    report = FileReport(
        url=url,
        format=fmt,
        encoding=encoding,
        header_row=header_row + 1,
        headers=list(df.columns),
        rows=len(df),
        row_lines=lines,
    )
    return df, report
