"""HTML tables, which many Korean web systems save with an .xls name: charset, spans and the ledger table."""

import codecs
import re

import lxml.html

from ledger.decoding import decode_text
from ledger.errors import LedgerFileError
from ledger.grids import Grid, ReadTable
from ledger.workbooks import pick_sheet, table_of

META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# pages labelled EUC-KR are written by Windows in CP949, its superset (똠, 햏 are CP949 only)
KOREAN_LABELS = {"euc_kr", "ks_c_5601-1987", "ksc5601", "ks_c_5601", "x-windows-949", "windows-949", "cp949", "uhc"}
MAX_SPAN = 1000
HEAD_BYTES = 4096


def declared_charset(raw: bytes) -> str | None:
    """The codec named by <meta charset=...> or <meta http-equiv content="...charset=...">, if Python knows it."""
    match = META_CHARSET.search(raw[:HEAD_BYTES])
    if not match:
        return None
    label = match.group(1).decode("ascii").lower()
    if label in KOREAN_LABELS:
        return "cp949"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(url: str, raw: bytes, encodings: list[str]) -> tuple[str, str]:
    """The page's text by its declared charset, else by the first configured encoding that fits."""
    charset = declared_charset(raw)
    if charset:
        try:
            return raw.decode(charset).removeprefix("\ufeff"), charset
        except UnicodeDecodeError:
            pass  # a wrong label: the configured encodings may still fit
    return decode_text(url, raw, encodings)


def _span(cell, name: str) -> int:
    try:
        return min(max(int(cell.get(name, "1")), 1), MAX_SPAN)
    except ValueError:
        return 1


def table_grid(table) -> Grid:
    """A table's own rows (not nested tables') as a rectangular grid; a spanned cell keeps its text at top left only."""
    rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
    taken: dict[tuple[int, int], str | None] = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row.xpath("./td | ./th"):
            while (r, c) in taken:
                c += 1
            text = " ".join(cell.text_content().split()) or None
            colspan, rowspan = _span(cell, "colspan"), min(_span(cell, "rowspan"), len(rows) - r)
            for dr in range(rowspan):
                for dc in range(colspan):
                    taken[(r + dr, c + dc)] = text if dr == dc == 0 else None
            c += colspan
    width = max((c for _, c in taken), default=-1) + 1
    return [[taken.get((r, c)) for c in range(width)] for r in range(len(rows))]


def read_html(
    url: str, raw: bytes, encodings: list[str], sheet: str | int | None, known: set[str], search: int
) -> ReadTable:
    """The HTML table whose header matches the most known headers (or the one asked for: 'table 2' or index 1)."""
    text, encoding = decode_html(url, raw, encodings)
    try:
        # lxml refuses a str that still carries an XML encoding declaration
        document = lxml.html.document_fromstring(XML_DECLARATION.sub("", text))
    except Exception as err:  # lxml raises ParserError or ValueError for an empty or broken page
        raise LedgerFileError(url, f"not a readable HTML page ({err})") from err
    grids = [table_grid(t) for t in document.iter("table")]
    grids = [g for g in grids if g]
    if not grids:
        raise LedgerFileError(url, "an HTML page with no table rows; export the ledger as xlsx or CSV")
    names = [f"table {i}" for i in range(1, len(grids) + 1)]
    by_name = dict(zip(names, grids, strict=True))
    chosen, layout = pick_sheet(url, names, lambda n, rows: by_name[n][:rows], sheet, known, search, what="table")
    return table_of(by_name[chosen], layout, chosen, names, encoding)
