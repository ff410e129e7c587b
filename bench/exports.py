"""P6: reading real export shapes (read + per-file standardize) against the bare parser of each format."""

import csv
import io
import time
from pathlib import Path

from bench.common import Table

P6_TARGET = 3.0
LINES = 10_000


def _decoded(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("neither utf-8 nor cp949")


def bare_parse(path: str) -> int:
    """The floor: the format's parser alone (csv module, calamine, lxml), every cell, no header logic; rows seen."""
    from ledger.sniff import sniff_format

    raw = Path(path).read_bytes()
    fmt = sniff_format(raw)
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(_decoded(raw)))))
    if fmt == "html":
        import lxml.html

        return sum(1 for _ in lxml.html.document_fromstring(raw).iter("tr"))
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(path)
    return sum(len(book.get_sheet_by_index(i).to_python()) for i in range(len(book.sheet_names)))


def ours(path: str, labelled: bool) -> int:
    """What load_ledger + standardize_columns do to one file, without Prefect: read, digest, mask personal data,
    standardize."""
    from ledger.cells import row_digest
    from ledger.columns import column_spec, columns_conf, known_headers
    from ledger.layouts import load_layout
    from ledger.personal_data import load_personal_data, mask_frame
    from ledger.readers import read_ledger_file
    from ledger.standardize import chart_codes, standardize_file
    from params.prepare import IngestParams

    params = IngestParams()
    conf = columns_conf(params.columns_conf)
    known = known_headers(column_spec(params.columns_conf), conf)
    df, report = read_ledger_file(path, known, params.encodings, params.sheet, params.header_search_rows)
    row_digest(df)
    df, found = mask_frame(df, list(df.columns), load_personal_data())
    out, _ = standardize_file(
        df, report, conf, load_layout(), known, labelled, params.columns, params.year, chart_codes(), found.dedicated()
    )
    return len(out)


def _best(fn, repeats: int = 2) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_exports(root: Path, table: Table, lines: int = LINES) -> dict:
    """Every export style at `lines` lines: our read + standardize against the bare parse, best of two each."""
    from synth.export_styles import EXTENSIONS, STYLES
    from synth.exports import write_export
    from synth.ledger import make_ledger

    ledger = make_ledger(lines * 2, 120, seed=5)
    details = {}
    for style in STYLES:
        truth = write_export(ledger, style, root / "exports" / f"{style}{EXTENSIONS[style]}", lines=lines)
        floor = _best(lambda path=truth.path: bare_parse(path))
        read = _best(lambda path=truth.path, labelled=truth.labelled: ours(path, labelled))
        ratio = read / floor
        table.add(
            f"P6 read {style}, {lines:,} lines",
            f"{read:.2f} s read + standardize vs {floor:.2f} s bare parse ({truth.rows_in:,} rows)",
            ratio,
            f"<= {P6_TARGET:.0f}x",
            ratio <= P6_TARGET,
        )
        details[style] = {"ours_s": read, "floor_s": floor, "rows_in": truth.rows_in}
    return details
