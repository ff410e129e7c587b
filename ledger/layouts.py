"""What in an export is not a ledger line (conf/layouts.yaml): summary rows, account blocks, titles, the period.

Pure, vectorized over a file's rows as read (its own headers, every cell text): no Prefect.
"""

import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from ledger.conf import load_yaml

# taken out of a cell before it is compared with the summary words: "[ 월 계 ]", "** 합계 **", "- 누계 -"
DECORATION = r"[\s\[\]()<>*=:：·.\-~_|]+"
SUMMARY_CELL_CHARS = 30  # longer cells are text (a 적요), never a summary label
MONTH_DAY = r"^\s*(\d{1,2})\s*[-/.월]\s*(\d{1,2})\s*일?\s*$"


class Layout(BaseModel):
    """conf/layouts.yaml, compiled."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    summary_words: list[str]
    summary_patterns: list[str]
    account_block_patterns: list[str]
    period_patterns: list[str]

    def summary_regex(self) -> str:
        words = sorted({re.sub(DECORATION, "", w).lower() for w in self.summary_words}, key=len, reverse=True)
        patterns = [re.sub(r"\((?!\?)", "(?:", p) for p in self.summary_patterns]  # no groups: only "is it one"
        return "|".join([f"^(?:{'|'.join(map(re.escape, words))})$", *patterns])


def load_layout(name: str = "layouts.yaml") -> Layout:
    return Layout.model_validate(load_yaml(name))


def _cells(df: pd.DataFrame, columns: list[str]) -> list[pd.Series]:
    return [df[c].astype("str").str.strip().replace("", None) for c in columns]


def summary_rows(df: pd.DataFrame, columns: list[str], layout: Layout) -> pd.Series:
    """The matched summary word per row (일계, 월계, 누계, 전기이월, 합계...), missing for real lines."""
    pattern = layout.summary_regex()
    found = pd.Series(pd.NA, index=df.index, dtype="str")
    for cells in _cells(df, columns):
        # a summary label is short: only short cells are matched (on a million rows the regex is the cost);
        # pyarrow's RE2 directly: pandas falls back to Python per cell for these patterns
        short = cells[cells.str.len().le(SUMMARY_CELL_CHARS).fillna(False) & found.isna()]
        key = pc.utf8_lower(pc.replace_substring_regex(pa.array(short, type=pa.large_string()), DECORATION, ""))
        matched = pc.fill_null(pc.match_substring_regex(key, pattern, ignore_case=True), False)
        hit = short.index[matched.to_numpy(zero_copy_only=False)]
        found.loc[hit] = cells.loc[hit]
    return found


def joined_cells(df: pd.DataFrame, columns: list[str]) -> tuple[pd.Series, pd.Series]:
    """Each row's non-blank cells joined by one space, and how many there are."""
    cells = _cells(df, columns)
    count = sum(c.notna().astype("int64") for c in cells) if cells else pd.Series(0, index=df.index)
    if not cells:
        return pd.Series("", index=df.index, dtype="str"), count
    arrays = [pa.array(c.fillna(""), type=pa.large_string()) for c in cells]
    # pyarrow: pandas' str.cat loops in Python here
    joined = pc.binary_join_element_wise(*arrays, pa.scalar(" ", pa.large_string()))
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s+", " "))
    return pd.Series(text, index=df.index, dtype="str"), count


def account_blocks(text: pd.Series, count: pd.Series, layout: Layout) -> pd.DataFrame:
    """Block rows of a ledger by account (`[811] 복리후생비`, `계정과목 : 0813 접대비`) from each row's joined cells
    and their count (joined_cells): columns `block` (bool), and `code` / `name` carried down from each block row
    to the lines below it (missing above the first)."""
    out = pd.DataFrame({"block": False, "code": pd.NA, "name": pd.NA}, index=text.index).astype(
        {"code": "str", "name": "str"}
    )
    few = text[count.between(1, 3)]  # a block row is a label, not a line: it holds at most a few cells
    for pattern in layout.account_block_patterns:
        parts = few[~out.loc[few.index, "block"]].str.extract(pattern)
        hit = parts.index[parts["code"].notna()]
        out.loc[hit, "code"], out.loc[hit, "name"] = parts.loc[hit, "code"], parts.loc[hit, "name"].str.strip()
        out.loc[hit, "block"] = True
    if out["block"].any():
        out[["code", "name"]] = out[["code", "name"]].ffill()
    return out


def period_of(title_lines: list[str], layout: Layout) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The period a title or period row names (기간 : 2024-01-01 ~ 2024-12-31, 2024년), or None."""
    from ledger.cells import parse_dates

    for line in title_lines:
        for pattern in layout.period_patterns:
            match = re.search(pattern, line)
            if not match:
                continue
            groups = match.groupdict()
            if groups.get("year"):
                year = int(groups["year"])
                return pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
            start, end = (_loose_date(groups[k], parse_dates) for k in ("start", "end"))
            if start is not None and end is not None and start <= end:
                if re.search(r"\d{1,2}\s*[-./년]\s*\d{1,2}\s*[-./월]\s*\d{1,2}", groups["end"]) is None:
                    end = end + pd.offsets.MonthEnd(
                        0
                    )  # a month period (2024-01 ~ 2024-03) ends on the month's last day
                return start, end
    return None


def _loose_date(text: str, parse_dates) -> pd.Timestamp | None:
    digits = [int(x) for x in re.findall(r"\d+", text)]
    if len(digits) == 2:
        digits.append(1)
    if len(digits) != 3:
        return None
    value = parse_dates(pd.Series([f"{digits[0]:04d}-{digits[1]:02d}-{digits[2]:02d}"], dtype="str")).iloc[0]
    return None if pd.isna(value) else value


def complete_month_days(dates: pd.Series, period: tuple[pd.Timestamp, pd.Timestamp] | None) -> pd.Series:
    """Month-day cells (`01-05`, `01/05`, `1월 5일`) as ISO dates in the period's year (the year that puts them
    inside the period when it spans two); other cells unchanged; month-day cells stay as they are without a period."""
    parts = dates.astype("str").str.extract(MONTH_DAY)
    short = parts[0].notna()
    if period is None or not short.any():
        return dates
    month, day = parts.loc[short, 0].astype("int64"), parts.loc[short, 1].astype("int64")
    out, todo = dates.copy(), pd.Series(True, index=month.index)
    years = [period[0].year, *([period[1].year] if period[1].year != period[0].year else [])]
    for i, year in enumerate(years):
        text = f"{year:04d}-" + month.map("{:02d}".format) + "-" + day.map("{:02d}".format)
        inside = pd.to_datetime(text, errors="coerce").between(period[0], period[1])
        take = todo & (inside | (i == len(years) - 1))  # outside every year: the last one (rejected as outside)
        out.loc[take[take].index] = text[take]
        todo &= ~take
    return out
