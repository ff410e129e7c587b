"""The data-quality report's column table: per column of the standardized ledger, what its values look like, over
the rows that are ledger lines only (a title or summary row's text is not a vendor's or an amount's value)."""

import pandas as pd

from ledger.cells import parse_amounts, parse_dates

NOT_PROFILED = ["row_id", "source_row", "row_digest", "line_rule", "line_detail"]
SHARE_FOR_TYPE = 0.95  # a column is dates or numbers when this share of its filled cells parse as such
SAMPLE, SAMPLE_BELOW = 5000, 0.8  # a sample of 5,000 cells under 80% is no column at 95% (binomial sd < 0.6 pt)


def ledger_lines(df: pd.DataFrame) -> pd.DataFrame:
    """The rows standardize kept as ledger lines (no line_rule: not a title, summary or period row)."""
    if "line_rule" not in df.columns:
        return df
    rule = df["line_rule"]
    return df[rule.isna() | rule.eq("")]


def profile_column(col: pd.Series) -> dict:
    """type (date / number / text / empty), nulls, unique, and the range (dates, numbers) or the top 3 values."""
    filled = col.dropna()
    filled = filled[filled.astype("str").str.strip().ne("")]
    out = {"nulls": int(len(col) - len(filled)), "unique": int(filled.nunique())}
    if filled.empty:
        return {"type": "empty", **out, "top": {}}
    sample = filled.sample(SAMPLE, random_state=0) if len(filled) > SAMPLE else None
    for kind, parse in (("date", parse_dates), ("number", parse_amounts)):
        try:
            if sample is not None and parse(sample).notna().mean() < SAMPLE_BELOW:
                continue  # clearly not this kind: a 1M-line text column is not parsed in full twice
            parsed = parse(filled)
        except (OverflowError, ValueError):  # an amount read as an Excel date serial lands past year 2262
            continue
        if parsed.notna().mean() >= SHARE_FOR_TYPE:
            low, high = parsed.min(), parsed.max()
            shown = (lambda v: v.strftime("%Y-%m-%d")) if kind == "date" else (lambda v: f"{v:,.0f}")
            return {"type": kind, **out, "range": [shown(low), shown(high)], "unparsed": int(parsed.isna().sum())}
    top = filled.value_counts().head(3)
    return {"type": "text", **out, "top": {str(k): int(v) for k, v in top.items()}}


def profile_columns(df: pd.DataFrame) -> dict[str, dict]:
    """profile_column for every column a user mapped, over the ledger lines."""
    lines = ledger_lines(df)
    return {name: profile_column(lines[name]) for name in df.columns.drop(NOT_PROFILED, errors="ignore")}
