"""The name a ledger gives each account code: what the label map and corrected lines carry."""

import pandas as pd


def code_names(df: pd.DataFrame) -> dict[str, str]:
    """Each code's most frequent account name (the code itself when the ledger has no names)."""
    if "account_name" not in df.columns:
        return {code: code for code in df["account_code"].unique()}
    named = df.dropna(subset=["account_name"])
    pairs = named.groupby(["account_code", "account_name"]).size().reset_index(name="n")
    pairs = pairs.sort_values(["account_code", "n"], ascending=[True, False]).drop_duplicates("account_code")
    names = dict(zip(pairs["account_code"], pairs["account_name"], strict=True))
    return {code: names.get(code, code) for code in df["account_code"].unique()}
