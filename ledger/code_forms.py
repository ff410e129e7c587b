"""One account written in several forms across the files of a run (811, 0811, 81100, 811-01): which chart account
each written code is, in which form, and what to do when a run mixes forms (pure, vectorized).

Left as written, those spellings become several labels of one account; merged without asking, two sub-accounts
(81100, 81101) become one. So the default keeps codes as written and stops on a mix, and the parameter
preprocess.normalize.account_codes=chart merges on purpose, keeping the sub-code beside the code.
"""

import re
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ledger.conf import load_yaml
from ledger.errors import CodeFormsError

# How the report and the error name each form (the conf's keys, plus the chart's own spelling).
FORM_NAMES = {
    "chart": "as in the chart",
    "zero_padded": "zero-padded",
    "sub_code": "with a sub-code",
    "separated": "with a separated sub-code",
}
ACCOUNTS_SHOWN = 5
CodeMode = Literal["as_written", "chart"]


class CodeForms(BaseModel):
    """conf/code_forms.yaml, typed: the forms a chart code may be written in besides its own spelling."""

    model_config = ConfigDict(extra="forbid")

    zero_padded: list[int] = Field(default_factory=list)
    sub_code_digits: list[int] = Field(default_factory=list)
    separators: list[str] = Field(default_factory=list)


def code_forms(name: str = "code_forms.yaml") -> CodeForms:
    return CodeForms.model_validate(load_yaml(name))


def _patterns(forms: CodeForms) -> list[tuple[str, str]]:
    """(form, regex with an `account` and maybe a `sub_code` group), strict to loose: the chart's own spelling wins."""
    patterns = [("chart", r"(?P<account>\d+)")]
    # the lookahead fixes the total width, so 0811 is padded to 4 but 00811 is no form unless 5 is listed
    patterns += [("zero_padded", rf"(?=\d{{{width}}}$)0+(?P<account>[1-9]\d*)") for width in forms.zero_padded]
    patterns += [("sub_code", rf"(?P<account>[1-9]\d*)(?P<sub_code>\d{{{n}}})") for n in forms.sub_code_digits]
    if forms.separators:
        between = "".join(re.escape(s) for s in forms.separators)
        patterns.append(("separated", rf"(?P<account>\d+)[{between}](?P<sub_code>[0-9A-Za-z]+)"))
    return patterns


def read_codes(codes: pd.Series, chart: set[str], forms: CodeForms) -> pd.DataFrame:
    """Per written code: the chart account it writes, its sub-code and its form (all NA: no form of a chart code,
    e.g. a code the chart lacks); the first form whose account is in the chart wins."""
    text = codes.astype("str").str.strip()
    # a ledger of a million lines writes a few hundred codes: each is read once, then put back on its lines
    position, values = pd.factorize(text)  # -1: a blank code
    unique = pd.Series([*values, pd.NA], dtype="str")  # the last row, all NA, is the blank codes'
    read = pd.DataFrame({c: pd.Series(pd.NA, index=unique.index, dtype="str") for c in ("account", "sub_code", "form")})
    for form, pattern in _patterns(forms):
        found = unique.str.extract(f"^{pattern}$")
        hit = read["form"].isna() & found["account"].isin(chart)
        read.loc[hit, "account"] = found.loc[hit, "account"]
        if "sub_code" in found:
            read.loc[hit, "sub_code"] = found.loc[hit, "sub_code"]
        read.loc[hit, "form"] = form
    return read.iloc[position].set_axis(codes.index)  # position -1 takes the last row: NA


def spellings(counts: pd.DataFrame, mode: CodeMode) -> dict:
    """account -> written code -> its form and lines per file, for the accounts that need saying: as_written, those
    written in more than one form (they stop the run); chart, those written otherwise than the chart's code.
    `counts`: file, code, lines, and the code's account and form (read_codes), one row per file and code."""
    frame = counts[counts["form"].notna()]
    if mode == "as_written":
        forms = frame.groupby("account")["form"].nunique()
        shown = forms.index[forms > 1]
    else:
        shown = frame.loc[frame["code"] != frame["account"], "account"].unique()
    out: dict[str, dict[str, dict]] = {}
    rows = frame[frame["account"].isin(shown)].sort_values(["account", "code", "file"])
    for row in rows.itertuples():  # one row per account, spelling and file: a handful, not the ledger's lines
        spelled = out.setdefault(str(row.account), {}).setdefault(str(row.code), {"form": str(row.form), "lines": {}})
        spelled["lines"][str(row.file)] = int(row.lines)
    return out


def describe_spellings(found: dict, shown: int = ACCOUNTS_SHOWN) -> str:
    """'811 as 0811 zero-padded (a.csv 120), 811 as in the chart (b.csv 300)' per account, the first `shown`."""
    parts = []
    for account, codes in list(found.items())[:shown]:
        spelled = []
        for code, seen in codes.items():
            counts = ", ".join(f"{file.rsplit('/', 1)[-1]} {n:,}" for file, n in seen["lines"].items())
            spelled.append(f"{code} {FORM_NAMES[seen['form']]} ({counts})")
        parts.append(f"{account} as {', '.join(spelled)}")
    more = f"; and {len(found) - shown} more accounts" if len(found) > shown else ""
    return "; ".join(parts) + more


def settle_codes(
    df: pd.DataFrame, mode: CodeMode, chart: set[str], forms: CodeForms
) -> tuple[pd.DataFrame, dict[str, dict[str, dict]]]:
    """The ledger with its account codes settled, and the spellings that were merged (chart) or none (as_written).

    as_written: the codes stay as written; one account in more than one form stops the run (CodeFormsError).
    chart: each code in a known form becomes its chart account, a written sub-code goes to `sub_code`."""
    if "account_code" not in df.columns:
        return df, {}
    codes = df["account_code"]
    counts = pd.DataFrame({"file": df["source_file"], "code": codes}).value_counts().reset_index(name="lines")
    found = spellings(counts.join(read_codes(counts["code"], chart, forms)), mode)
    if mode == "as_written":
        if found:
            raise CodeFormsError(
                "account codes are written in more than one form across the input, so one account would become "
                f"several labels: {describe_spellings(found)}"
            )
        return df, {}
    read = read_codes(codes, chart, forms)
    known = read["form"].notna()
    df["account_code"] = read["account"].where(known, codes)
    if read["sub_code"].notna().any():
        # a sub_code column the ledger already has keeps its values; a written sub-code fills the rest
        before = df["sub_code"] if "sub_code" in df.columns else pd.Series(pd.NA, index=df.index, dtype="str")
        df["sub_code"] = before.where(before.notna(), read["sub_code"]).astype("str")
    return df, found
