"""Workbooks (xlsx, xlsm, xlsb, xls, ods) through calamine, and choosing the sheet or HTML table holding a ledger."""

import io
from collections.abc import Callable

from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from ledger.errors import LedgerFileError
from ledger.grids import Grid, ReadTable, grid_frame, grid_texts
from ledger.headers import HeaderLayout, detect_header, title_lines
from ledger.sniff import is_encrypted_workbook

SheetLoader = Callable[[str, int | None], Grid]


def table_of(grid: Grid, layout: HeaderLayout, chosen: str, names: list[str], encoding: str | None = None) -> ReadTable:
    """The table read from the chosen sheet (or HTML table) of a grid file."""
    return ReadTable(
        df=grid_frame(grid, layout),
        header_rows=list(layout.rows),
        title_lines=title_lines(grid, layout.rows[0]),
        encoding=encoding,
        sheet=chosen,
        sheets=names,
    )


def pick_sheet(
    url: str,
    names: list[str],
    load: SheetLoader,
    sheet: str | int | None,
    known: set[str],
    search: int,
    hidden: frozenset[str] = frozenset(),
    what: str = "sheet",
) -> tuple[str, HeaderLayout]:
    """The sheet asked for, or (sheet None) the one whose header matches the most known headers; and its header."""
    if sheet is not None:
        # "1" from a form or the command line is an index unless a sheet has that name
        if isinstance(sheet, str) and sheet not in names and sheet.lstrip("-").isdigit():
            sheet = int(sheet)
        if isinstance(sheet, int) and -len(names) <= sheet < len(names):
            sheet = names[sheet]
        if sheet not in names:
            raise LedgerFileError(url, f"has no {what} {sheet!r} (its {what}s: {names}); set ingest.sheet")
        head = load(sheet, search)
        if (layout := detect_header(head, known)) is None:
            first = [c for c in head[0] if c] if head else []
            problem = f"no ledger header found in {what} {sheet!r} (first row: {first[:8]}); not a ledger?"
            raise LedgerFileError(url, problem)
        return sheet, layout
    best: tuple[tuple, str, HeaderLayout] | None = None
    for index, name in enumerate(names):
        layout = detect_header(load(name, search), known)
        # a hidden sheet (a lookup list) loses a tie against a visible one; the first sheet wins the rest
        rank = (layout.hits, name not in hidden, -index) if layout else None
        if rank and (best is None or rank > best[0]):
            best = (rank, name, layout)
    if best is None:
        raise LedgerFileError(url, f"no {what} has a ledger header ({what}s: {names}); set ingest.sheet")
    return best[1], best[2]


def _open_workbook(url: str, raw: bytes, fmt: str) -> CalamineWorkbook:
    if is_encrypted_workbook(raw):
        raise LedgerFileError(url, "a password-protected workbook; open it in Excel and save it without a password")
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as err:  # calamine raises several error types (and Rust panics) for a damaged file
        raise LedgerFileError(url, f"not a readable {fmt} workbook ({err}); re-export it or save it as xlsx") from err


def read_workbook(url: str, raw: bytes, fmt: str, sheet: str | int | None, known: set[str], search: int) -> ReadTable:
    """Every worksheet scanned for the ledger header (or the one asked for), that sheet read as text cells."""
    book = _open_workbook(url, raw, fmt)
    try:
        sheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        names = [m.name for m in sheets]
        hidden = frozenset(m.name for m in sheets if m.visible != SheetVisibleEnum.Visible)

        def load(name: str, nrows: int | None) -> Grid:
            # skip_empty_area=False: the grid starts at A1, so row numbers are the sheet's own
            return grid_texts(book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows))

        chosen, layout = pick_sheet(url, names, load, sheet, known, search, hidden)
        grid = load(chosen, None)
    except LedgerFileError:
        raise
    except Exception as err:  # see _open_workbook
        raise LedgerFileError(url, f"not a readable {fmt} workbook ({err}); re-export it or save it as xlsx") from err
    finally:
        book.close()
    return table_of(grid, layout, chosen, names)
