"""Builders of bad ledgers for tests/test_bad_ledgers.py: each writes file(s) under a folder, returns the --input."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from ledger.readers import LedgerFileError
from tasks.report import NoRowsAcceptedError
from tests.conftest import HEADER, ROWS

Builder = Callable[[Path], str]
COLUMNS = HEADER.split(",")
# The first fixture row as cells by header: {"일자": "2024-01-05", "거래처": "쿠팡", ..., "금액": "11000", ...}
BASE = dict(zip(COLUMNS, ROWS[0].split(","), strict=True))


def line(sep: str = ",", **cells: str | None) -> str:
    """One CSV line: the base row with some cells replaced (None: blank), quoted where needed."""
    values = [cells[c] if c in cells else BASE[c] for c in COLUMNS]
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return out.getvalue()[:-1]


def lines_with(column: str, values: list[str], **cells: str | None) -> list[str]:
    """One CSV line per value of `column`, the other cells from the base row (or `cells`)."""
    return [line(**{**cells, column: value}) for value in values]


def cells(**over) -> list:
    """The base row as xlsx cell values (None: an empty cell), some replaced."""
    return [over[c] if c in over else BASE[c] for c in COLUMNS]


def text_file(lines: list[str], name: str = "ledger.csv", encoding: str = "utf-8", eol: str = "\n") -> Builder:
    def build(folder: Path) -> str:
        (folder / name).write_bytes((eol.join(lines) + eol).encode(encoding))
        return str(folder / name)

    return build


def raw_file(data: bytes, name: str = "ledger.csv") -> Builder:
    def build(folder: Path) -> str:
        (folder / name).write_bytes(data)
        return str(folder / name)

    return build


def files(*builders: Builder, source: str = "*.csv") -> Builder:
    """Several files in one folder, read through `source` (a glob or '' for the folder itself)."""

    def build(folder: Path) -> str:
        for b in builders:
            b(folder)
        return str(folder / source) if source else str(folder)

    return build


def xlsx(rows: list[list], name: str = "ledger.xlsx", merge: tuple[str, ...] = ()) -> Builder:
    """A workbook whose first sheet holds `rows` from A1 (None: empty cell; '=...': a formula); `merge`: 'A4:A5'."""

    def build(folder: Path) -> str:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    sheet.cell(row=r, column=c, value=value)
        for cells_range in merge:
            sheet.merge_cells(cells_range)
        book.save(folder / name)
        return str(folder / name)

    return build


def parquet(frame: dict, name: str = "ledger.parquet") -> Builder:
    def build(folder: Path) -> str:
        pd.DataFrame(frame).to_parquet(folder / name)
        return str(folder / name)

    return build


@dataclass(frozen=True)
class Refused:
    """The flow must fail with `error`, naming `file` (relative to the input folder) and every one of `names`."""

    build: Builder
    names: tuple[str, ...]
    file: str = "ledger.csv"
    error: type[Exception] = LedgerFileError
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Quarantined:
    """Every row is either accepted or rejected, exactly these.

    rejected: source line -> (rule, text the detail holds). accepted: source line -> {column: parsed value}
    (an empty dict when the row only has to be there). csv_cells: source line -> {column: text in rejects.csv}.
    """

    build: Builder
    rejected: dict[int, tuple[str, str]]
    accepted: dict[int, dict]
    params: dict = field(default_factory=dict)
    csv_cells: dict[int, dict] = field(default_factory=dict)


# --- ledger pieces and table rows -------------------------------------------------------------------

NO_AMOUNT = ["일자,거래처,적요,계정코드", "2024-01-05,쿠팡,볼펜,830"]
NO_VAT = {"공급가액": None, "부가세": None}  # amount changed: no supply/VAT split to check against
TABS = [row.replace(",", "\t") for row in [HEADER, *ROWS]]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
UTF8_HEAD = ("\n".join([HEADER, ROWS[0], ROWS[1]]) + "\n").encode()
LATIN1_LINE = "2024-01-07,Café,,coffee,5000,,,card,811,x\n".encode("latin-1")
NO_AMOUNT_PARQUET = {"일자": ["2024-01-05"], "거래처": ["쿠팡"], "적요": ["볼펜"], "계정코드": ["830"]}
# a second file with two title lines and other spellings of every header: its rows are on lines 4 and 5
OTHER_SPELLINGS = ["2024년 원장,,", ",,", "거래일자,거래처명,등록번호,내용,합계금액,공급가,세액,증빙,과목코드,계정명"]
VENDORS = {2: {"vendor": "쿠팡"}, 3: {"vendor": "GS25"}, 4: {"vendor": "KT"}, 5: {"vendor": "한국전력공사"}}
AMOUNT_MISSING = "required column 'amount' not found"
BLANK = ("blank_row", "every cell is blank")  # (in the mapped columns)


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def refused(kind_id: str, build: Builder, *names: str, **options) -> pytest.param:
    return pytest.param(Refused(build, names, **options), id=kind_id)


def quarantined(kind_id: str, build: Builder, rejected: dict, accepted: dict, **options) -> pytest.param:
    return pytest.param(Quarantined(build, rejected, accepted, **options), id=kind_id)


# The refused kinds (the quarantined ones are in tests/test_bad_ledgers.py, next to their test).
REFUSED = [
    refused(
        "missing_required_column",
        text_file(NO_AMOUNT),
        AMOUNT_MISSING,
        "합계금액",
        "file: ['일자', '거래처', '적요', '계정코드']",
    ),
    refused(
        "unknown_header_spelling",
        text_file([HEADER.replace("금액,", "결제금액,", 1), *ROWS]),
        AMOUNT_MISSING,
        "'결제금액'",
    ),
    refused(
        "no_label_column", text_file(["일자,거래처,적요,금액", "2024-01-05,쿠팡,볼펜,1"]), "'account_code' not found"
    ),
    refused("empty_file", raw_file(b""), "file is empty"),
    refused("whitespace_only_file", raw_file(b" \n\n  \r\n"), "file is empty"),
    refused("header_only", text_file([HEADER]), "has a header (['일자', '거래처'", "but no data rows"),
    refused("binary_garbage", raw_file(PNG), "binary data (NUL bytes)"),
    refused("wrong_encoding", raw_file(UTF8_HEAD + LATIN1_LINE), "['utf-8-sig', 'cp949']", "from line 4", "byte 0xe9"),
    refused("utf8_file_with_a_cp949_line", raw_file(UTF8_HEAD + ROWS[2].encode("cp949")), "decoded", "from line 4"),
    refused(
        "utf16_without_bom", text_file(TABS, encoding="utf-16-le"), "binary data", "UTF-16 text needs its byte-order"
    ),
    refused(
        "nul_bytes_in_a_cell",
        text_file([HEADER, ROWS[0], ROWS[1].replace("야근", "야\x00근"), ROWS[2]]),
        "in line(s) 3;",
    ),
    refused("not_a_ledger", text_file(["name,age,city", "kim,30,seoul"]), "first row: ['name', 'age', 'city']"),
    refused(
        "rows_with_too_many_cells",  # line 5: an unquoted comma inside the description
        text_file([HEADER, ROWS[0] + ",extra", "", ROWS[1], ROWS[2].replace("인터넷 요금", "인터넷, 전화 요금")]),
        "line(s) 2, 5 have more cells than the 10 headers",
    ),
    refused(
        "quote_never_closed",
        text_file([HEADER, ROWS[0], ROWS[1].replace("야근 식대", '"야근 식대'), ROWS[2], ROWS[3]]),
        "a quote opened in line 3 is never closed",
    ),
    refused("corrupt_xlsx", raw_file(b"PK\x03\x04 nope", "ledger.xlsx"), "not a readable xlsx", file="ledger.xlsx"),
    refused(
        "missing_xlsx_sheet",
        xlsx([COLUMNS, cells()]),
        "has no sheet '원장' (its sheets: ['Sheet'])",
        file="ledger.xlsx",
        params={"ingest": {"sheet": "원장"}},
    ),
    refused("corrupt_parquet", raw_file(b"nope", "ledger.parquet"), "not a readable Parquet", file="ledger.parquet"),
    refused("parquet_without_amount", parquet(NO_AMOUNT_PARQUET), AMOUNT_MISSING, file="ledger.parquet"),
    refused(
        "second_file_lacks_a_column",
        files(text_file([HEADER, ROWS[0]], name="a.csv"), text_file(NO_AMOUNT, name="b.csv")),
        AMOUNT_MISSING,
        file="b.csv",
    ),
    refused(
        "folder_without_ledgers",
        files(raw_file(b"notes", "notes.md"), source=""),
        "matched no ledger files",
        file="",
        error=FileNotFoundError,
    ),
    refused(
        "glob_matching_nothing",
        files(text_file([HEADER, ROWS[0]]), source="*.xlsx"),
        "matched no ledger files",
        file="*.xlsx",
        error=FileNotFoundError,
    ),
    refused("missing_path", lambda d: str(d / "no.csv"), "no such file", file="no.csv", error=FileNotFoundError),
    refused(
        "every_row_rejected",
        text_file([HEADER, *lines_with("금액", ["abc", "x"])]),
        "no row was accepted: all 2 rows were rejected",
        "line 2 of file://",
        "amount_unparsable(amount='abc')",
        "rejects.csv",
        error=NoRowsAcceptedError,
    ),
]
