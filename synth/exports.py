"""Real export shapes of a labelled synthetic ledger, with the truth a correct reader must recover.

`write_export(make_ledger(200), "ledger-by-account", "out.xlsx")` writes the first lines of the ledger the way a
Korean accountant's software exports them (title and period rows, summary rows, account blocks, two-row headers,
HTML saved as .xls, BIFF .xls...) and returns an ExportTruth: the real lines in file order (date, amount, side,
account_code, vendor, description), the non-line rows by rule and rows_in. Deterministic for a seed.

Styles (STYLES): journal-two-amounts, journal-paged, ledger-by-account, bank-statement, card-approvals, html-xls,
cover-sheet, simple-book, xls-biff, web-erp, semusarang-ledger, signed-tsv, and the header spellings of conf
header_rules: numbered-headers, suffixed-headers, income-expense-book. `write_competing` writes a file whose two
headers fit one column equally loosely (an error until ingest.columns settles it). Pure functions, nothing runs at
import.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from synth import export_books as books
from synth import export_more as more
from synth import export_spellings as spellings
from synth import export_text as text
from synth.export_common import REJECT_RULES, TRUTH_COLUMNS, ExportTruth, select_lines
from synth.export_styles import DEFAULT_LINES, EXTENSIONS, STYLES

__all__ = ["DEFAULT_LINES", "EXTENSIONS", "REJECT_RULES", "STYLES", "TRUTH_COLUMNS", "ExportTruth", "write_competing",
           "write_export"]  # fmt: skip

_WRITERS = {
    "journal-two-amounts": text.journal_two_amounts,
    "journal-paged": text.journal_paged,
    "ledger-by-account": books.ledger_by_account,
    "bank-statement": text.bank_statement,
    "card-approvals": books.card_approvals,
    "html-xls": text.html_xls,
    "cover-sheet": books.cover_sheet,
    "simple-book": books.simple_book,
    "xls-biff": books.xls_biff,
    "web-erp": text.web_erp,
    "semusarang-ledger": more.semusarang_ledger,
    "signed-tsv": more.signed_tsv,
    "numbered-headers": spellings.numbered_headers,
    "suffixed-headers": spellings.suffixed_headers,
    "income-expense-book": spellings.income_expense_book,
}
if set(_WRITERS) != set(STYLES):
    raise RuntimeError("synth/export_styles.py and synth.exports._WRITERS name different styles")


def write_export(
    ledger: pd.DataFrame, style: str, path: str | os.PathLike, seed: int = 0, lines: int | None = None
) -> ExportTruth:
    """Write the first `lines` clean lines of `ledger` (a make_ledger frame; default DEFAULT_LINES[style]) to a
    local `path` in the shape of `style` and return what a correct reader must make of the file.

    Lines are moved into one year (2024, the period the file states) and sorted by date; dirt rows are skipped.
    The file's extension is the caller's choice (EXTENSIONS[style] is the usual one)."""
    if style not in _WRITERS:
        raise ValueError(f"unknown export style {style!r}; expected one of {list(STYLES)}")
    n = DEFAULT_LINES[style] if lines is None else lines
    if n < 3:
        raise ValueError(f"lines={n}: an export needs at least 3")
    chosen = select_lines(ledger, n)
    path = os.fspath(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    recorder = _WRITERS[style](chosen, path, np.random.default_rng(seed))
    return recorder.truth(style, path)


def write_competing(ledger: pd.DataFrame, path: str | os.PathLike, lines: int = 40) -> tuple[ExportTruth, dict]:
    """A CSV whose 적요란 and 비고란 both fit description only by suffix 란, its truth once settled, and the
    ingest.columns that settles it (what the reader's error must name)."""
    chosen = select_lines(ledger, lines)
    path = os.fspath(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    recorder = spellings.competing_headers(chosen, path, np.random.default_rng(0))
    return recorder.truth("competing-headers", path), dict(spellings.COMPETING_SETTLED)
