"""Tables a person opens in a spreadsheet: cells that would run as a formula are defused."""

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?[\d,]*\.?\d+$"


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (=, +, -, @, tab, CR) prefixed with a quote; numbers kept.

    A ledger cell like =HYPERLINK(...) must not run when an accountant opens rejects.csv or the predictions.
    """
    out = df.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) or out[column].dtype == object:
            text = out[column].astype("str")
            risky = text.str.match(FORMULA_START, na=False) & ~text.str.match(PLAIN_NUMBER, na=False)
            out[column] = text.where(~risky, "'" + text).where(out[column].notna())
    return out
