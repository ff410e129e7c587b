"""Finding the header of a ledger table: title rows above it, one or two header rows, and header spellings."""

import re
from dataclasses import dataclass

from ledger.spellings import header_candidates, normalize_header, rules_of

__all__ = ["header_candidates", "normalize_header"]  # spelled in ledger.spellings, used through here too

TITLE_LINES = 10
# a cell of digits, dates, amounts or codes: data, never a sub-header (a row under the header holding one is a line)
DATA_LIKE = re.compile(r"^[\d\s,.\-/:()₩￦원%△▲=\"'+]+$")

Row = list[str | None]


def is_known_header(text: object, known: set[str]) -> bool:
    """Whether any spelling of a non-blank cell (loosened by the rules `known` carries) is a known header."""
    return bool(_text(text)) and any(c in known for c in header_candidates(text, rules_of(known)))


def _text(cell: object) -> str:
    # None and NaN (a float) are blank cells
    return cell.strip() if isinstance(cell, str) else ""


def _hits(row: list, known: set[str]) -> int:
    return sum(is_known_header(c, known) for c in row)


def find_header_row(rows: list[list[object]], known: set[str]) -> int:
    """Index of the first row whose cells match the most known header spellings (title rows skipped)."""
    hits = [_hits(row, known) for row in rows]
    if not hits or max(hits) == 0:
        raise ValueError("no header row found")
    return hits.index(max(hits))


def _fill_groups(group: list[str], sub: list[str]) -> list[str]:
    """A group cell spans the blank group cells to its right that have a sub-header (Excel keeps a merged value once).

    A group cell with no sub-header under it is a vertically merged header (일자 over both rows): it spans nothing.
    """
    filled, carry = [], ""
    for g, s in zip(group, sub, strict=True):
        if g:
            carry = g if s else ""
        elif not s:
            carry = ""
        filled.append(g or (carry if s else ""))
    return filled


def _combined(group: str, sub: str, known: set[str]) -> str:
    if not group or not sub or group == sub:
        return group or sub
    # `group sub` keeps the word boundary, so a parent loosened by a suffix (수입란 over 금액) still meets 수입금액
    for candidate in (group + sub, f"{group} {sub}", sub, group):
        if is_known_header(candidate, known):
            return candidate
    return f"{group} {sub}"


def combine_header(group: list, sub: list, known: set[str]) -> list[str]:
    """One header per column from a group row over a sub-header row: 차변 over 금액 -> 차변금액 when known."""
    width = max(len(group), len(sub))
    upper = [_text(c) for c in group] + [""] * (width - len(group))
    lower = [_text(c) for c in sub] + [""] * (width - len(sub))
    return [_combined(g, s, known) for g, s in zip(_fill_groups(upper, lower), lower, strict=True)]


@dataclass(frozen=True)
class HeaderLayout:
    """Where a table's header is: its row indices (0-based, one or two rows) and one header text per column."""

    rows: tuple[int, ...]
    headers: list[str]
    hits: int

    @property
    def data_start(self) -> int:
        return self.rows[-1] + 1


def detect_header(rows: list[list], known: set[str]) -> HeaderLayout | None:
    """The header of a table's first rows: the best single row, or two rows when together they match more headers."""
    try:
        h = find_header_row(rows, known)
    except ValueError:
        return None
    best = HeaderLayout((h,), [_text(c) for c in rows[h]], _hits(rows[h], known))
    for upper in (h - 1, h):
        if upper < 0 or upper + 1 >= len(rows):
            continue
        if not _sub_header_row(rows[upper + 1], known):
            continue
        headers = combine_header(rows[upper], rows[upper + 1], known)
        hits = _hits(headers, known)
        if hits > best.hits:
            best = HeaderLayout((upper, upper + 1), headers, hits)
    return best


def _sub_header_row(row: list, known: set[str]) -> bool:
    """A row that can be the lower row of a two-row header: some cell is a header, none looks like data."""
    texts = [t for c in row if (t := _text(c))]
    return any(is_known_header(t, known) for t in texts) and not any(DATA_LIKE.match(t) for t in texts)


def title_lines(rows: list[list], first_header_row: int) -> list[str]:
    """The non-blank rows above the header (report title, company, period), each joined by single spaces."""
    lines = [" ".join(t for c in row if (t := _text(c))) for row in rows[:first_header_row]]
    return [line for line in lines if line][:TITLE_LINES]


def column_names(headers: list[str]) -> list[str]:
    """Unique column names as pandas makes them: a blank header is 'Unnamed: i', a repeated one gets '.1', '.2'."""
    names: list[str] = []
    seen: set[str] = set()
    for i, header in enumerate(headers):
        name = _text(header) or f"Unnamed: {i}"
        base, k = name, 0
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen.add(name)
        names.append(name)
    return names
