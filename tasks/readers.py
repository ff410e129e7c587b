"""Reading one ledger file (CSV in any common Korean encoding, xlsx, Parquet) into text cells."""

import csv
import io
import unicodedata
import zipfile
from pathlib import PurePosixPath

import fsspec
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel

NUL_SNIFF_BYTES = 8192


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


def decode_text(url: str, raw: bytes, encodings: list[str]) -> tuple[str, str]:
    """Decode CSV bytes with the first encoding that fits; binary data is refused."""
    if b"\x00" in raw[:NUL_SNIFF_BYTES]:
        raise LedgerFileError(url, "binary data (NUL bytes), not a text ledger; is the extension right?")
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    raise LedgerFileError(url, f"cannot be decoded with any of {encodings}; save it as UTF-8 or CP949")


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


def _read_csv(url: str, raw: bytes, encodings: list[str], known: set[str], search: int):
    text, encoding = decode_text(url, raw, encodings)
    head = "\n".join(text.splitlines()[:search])
    sep = _sniff_delimiter(head, known)
    sample = list(csv.reader(io.StringIO(head), delimiter=sep))
    header_row = _header_or_error(url, sample, known)
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    data = data if encoding.replace("-sig", "") in ("utf-8", "utf8") else text.encode("utf-8")
    # pyarrow's reader is ~30x faster but skips blank lines; keep them (as rejected blank rows) so that
    # source_row stays the file's line number, with the C reader only when a file has blank lines
    has_blank_lines = b"\n\n" in data or b"\n\r\n" in data
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            skiprows=header_row,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            **({"skip_blank_lines": False} if has_blank_lines else {"engine": "pyarrow"}),
        )
    except (pd.errors.ParserError, pa.ArrowInvalid) as err:
        raise LedgerFileError(url, f"malformed CSV: {err}") from err
    return df, encoding, header_row


def _read_xlsx(url: str, raw: bytes, sheet, known: set[str], search: int):
    try:
        head = pd.read_excel(io.BytesIO(raw), sheet_name=sheet, header=None, nrows=search, dtype=str)
        header_row = _header_or_error(url, head.values.tolist(), known)
        df = pd.read_excel(io.BytesIO(raw), sheet_name=sheet, skiprows=header_row, dtype=str)
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        if isinstance(err, LedgerFileError):
            raise
        raise LedgerFileError(url, f"not a readable xlsx workbook ({err})") from err
    return df, None, header_row


def _read_parquet(url: str, raw: bytes):
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        raise LedgerFileError(url, f"not a readable Parquet file ({err})") from err
    for column in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].dt.strftime("%Y-%m-%d")
    return df.astype("str").where(df.notna()), None, 0


def _header_or_error(url: str, rows: list[list[object]], known: set[str]) -> int:
    try:
        return find_header_row(rows, known)
    except ValueError:
        first = [str(c) for c in rows[0]] if rows else []
        raise LedgerFileError(url, f"no ledger header found (first row: {first[:8]}); not a ledger?") from None


def read_ledger_file(url: str, known_headers: set[str], encodings: list[str], sheet, search: int):
    """Read one file into text cells with its own headers; clear errors for empty or malformed files."""
    with fsspec.open(url, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        raise LedgerFileError(url, "file is empty")
    fmt = file_format(url)
    if fmt == "csv":
        df, encoding, header_row = _read_csv(url, raw, encodings, known_headers, search)
    elif fmt == "xlsx":
        df, encoding, header_row = _read_xlsx(url, raw, sheet, known_headers, search)
    else:
        df, encoding, header_row = _read_parquet(url, raw)
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise LedgerFileError(url, f"has a header ({list(df.columns)[:8]}) but no data rows")
    report = FileReport(
        url=url, format=fmt, encoding=encoding, header_row=header_row + 1, headers=list(df.columns), rows=len(df)
    )
    return df, report
