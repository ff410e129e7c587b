"""The warnings a run's reports lead with: a file most of whose lines one rule rejected, said in one line with the
likely cause read from the file's column mapping, and account codes merged from several spellings (pure: lines
from plain data).

A count in the rows-accounting table is easy to read past, and such a run still ends Completed (green in the Prefect
UI), so the line goes first: on the terminal, in the data-quality report and in the run's top report.
"""

import pandas as pd

from ledger.code_forms import describe_spellings

# Rows rejected because they are no ledger lines (blank, title, summary, account-block and repeated header rows):
# out of a file's lines, so a 계정별원장 with a 일계 under every day is not "mostly rejected".
NOT_LINES = {"blank_row", "repeated_header", "repeated_title", "summary_row", "account_block"}
CHOSEN = "filtered:"  # rows the filter section left out on purpose: the user asked for them
# validate's detail names each broken rule and its column first: "required_blank(vendor=''); ..."
DETAIL_COLUMN = r"^[\w:]+\((?P<column>\w+)="


def mapped_columns(layout: dict) -> set[str]:
    """The canonical columns one file's headers were mapped to (per-side amounts give the amount and the side)."""
    columns = set(layout.get("mapping", {}).values())
    for parts in layout.get("sided", {}).values():
        columns |= {"amount", "side"} | ({"vat"} if "vat" in parts else set())
    return columns


def likely_cause(rule: str, column: str | None, layout: dict, required_any: list[list[str]]) -> str:
    """Why a rule took most of a file's lines, from its mapping: a column of the requirement no header was mapped to
    (with the headers left unmapped, one of which likely holds it), else the header the rule read."""
    group = next((g for g in required_any if column in g), [column]) if column else []
    unmapped = ", ".join(layout.get("unmapped", [])) or "none"
    missing = [c for c in group if c not in mapped_columns(layout)]
    if rule == "required_blank" and missing:
        return f"likely cause: no header mapped to {' or '.join(missing)}; unmapped headers: {unmapped}"
    header = next((h for h, c in layout.get("mapping", {}).items() if c == column), None)
    if rule == "required_blank" and header is not None:
        return f"likely cause: header '{header}' is blank on those lines; unmapped headers: {unmapped}"
    return f"column {column} from header '{header}'" if header else "see the rejects file"


def rejection_warnings(rejects: pd.DataFrame, metadata: dict, required_any: list[list[str]], share: float) -> list[str]:
    """One line per file and rule that rejected more than `share` of the file's lines, the largest share first:
    'ledger.xlsx: 1,512 of 2,000 lines (76%) rejected as required_blank (vendor / description): likely cause: no
    header mapped to description; unmapped headers: 적요란, 비고'."""
    if rejects.empty:
        return []
    table = pd.DataFrame({"file": rejects["source_file"], "rule": rejects["rule"].astype("str")})
    table["column"] = rejects["detail"].astype("str").str.extract(DETAIL_COLUMN, expand=False).fillna("")
    not_line = table["rule"].isin(NOT_LINES)
    rows = pd.Series({f["url"]: f["rows"] for f in metadata.get("files", [])}, dtype="int64")
    lines = rows.sub(table[not_line].groupby("file").size(), fill_value=0)
    counted = table[~not_line & ~table["rule"].str.startswith(CHOSEN)]
    by_column = counted.groupby(["file", "rule", "column"]).size()  # sorted by its keys: .loc below is fast
    by_rule = by_column.groupby(level=["file", "rule"]).sum()
    shares = (by_rule / lines.reindex(by_rule.index.get_level_values("file")).to_numpy()).dropna()
    shares = shares[shares > share].sort_values(ascending=False)
    layouts = {layout["url"]: layout for layout in metadata.get("layouts", [])}
    out = []
    for (file, rule), part in shares.items():  # one item per file and rule over the threshold: a handful
        column = by_column.loc[(file, rule)].idxmax() or None  # the column the rule most often named
        group = next((g for g in required_any if column in g), [column]) if column else []
        where = f" ({' / '.join(group)})" if group else ""
        cause = likely_cause(rule, column, layouts.get(file, {}), required_any)
        out.append(
            f"{file.rsplit('/', 1)[-1]}: {by_rule[(file, rule)]:,} of {int(lines[file]):,} lines ({part:.0%}) "
            f"rejected as {rule}{where}: {cause}"
        )
    return out


def merged_codes_line(merged: dict) -> str | None:
    """What preprocess.normalize.account_codes=chart merged: each account and the spellings it was written in."""
    if not merged:
        return None
    return f"{describe_spellings(merged)}: each made the chart's code (preprocess.normalize.account_codes=chart)"


def warnings_markdown(warnings: list[str]) -> list[str]:
    """The warnings as the first lines of a report (markdown), none when there are none."""
    return [f"**Warning**: {w}" for w in warnings] + ([""] if warnings else [])


def headline(warnings: list[str], otherwise: str) -> str:
    """An artifact's description (what the Prefect UI lists): the first warning when there is one."""
    if not warnings:
        return otherwise
    return f"WARNING {warnings[0]}" + (f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else "")


def flagged(description: str, warnings: list[str]) -> str:
    """A top report's description with the data's warnings counted first, so the runs list shows them."""
    if not warnings:
        return description
    files = "a file" if len(warnings) == 1 else f"{len(warnings)} files"
    return f"WARNING: {files} mostly rejected (see the report); {description}"
