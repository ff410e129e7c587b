"""What every export style shares: the truth it returns, the ledger lines it starts from, and CSV writing.

An export starts from the first clean lines of a labelled synthetic ledger (synth.ledger.make_ledger), moved
into one year (PERIOD_YEAR, so a period row can cover them and month-day dates have a year) and sorted by date;
each style lays those lines out and records, row by row, what a correct reader must make of them.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synth.vocab import CP949_REPLACEMENTS

PERIOD_YEAR = 2024
PERIOD_TEXT = f"{PERIOD_YEAR}-01-01 ~ {PERIOD_YEAR}-12-31"
TRUTH_COLUMNS = ["date", "amount", "side", "account_code", "vendor", "description"]
REJECT_RULES = ("summary_row", "account_block", "repeated_header", "repeated_title", "blank_row")
COMPANIES = ("(주)한빛상사", "주식회사 다온테크", "(주)미래물산", "(주)새솔유통")
STANDARD_HEADERS = ["일자", "전표번호", "차대구분", "거래처", "사업자번호", "적요", "금액", "공급가액", "부가세",
                    "증빙구분", "결제수단", "부서", "계정코드", "계정과목"]  # fmt: skip


@dataclass
class ExportTruth:
    """What a correct reader makes of an export file.

    lines: one row per real ledger line, in file order, columns TRUTH_COLUMNS (date ISO text, amount float,
    negative for a cancellation; side 차변/대변/입금/출금; account_code text or None; vendor, description text
    or None). rejected: rule -> count of the file's non-line rows (summary_row, account_block, repeated_header,
    repeated_title, blank_row: nothing leaves silently). rows_in: the data rows below the header(s)
    = len(lines) + sum(rejected). blank_rows: how many of them are blank (page breaks).
    """

    style: str
    path: str
    lines: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    rows_in: int = 0
    blank_rows: int = 0

    @property
    def labelled(self) -> bool:
        return bool(self.lines["account_code"].notna().any())


class Recorder:
    """Collects the truth while a style writes its rows: one call per row below the header, in file order."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self.rejected: dict[str, int] = {}
        self.blank_rows = 0

    def line(self, date: str, amount: float, side: str, code: str | None, vendor: str, description: str) -> None:
        self.lines.append(
            {"date": date, "amount": float(amount), "side": side, "account_code": code or None,
             "vendor": vendor or None, "description": description or None}
        )  # fmt: skip

    def reject(self, rule: str, n: int = 1) -> None:
        if rule not in REJECT_RULES:
            raise ValueError(f"unknown reject rule {rule!r}")
        self.rejected[rule] = self.rejected.get(rule, 0) + n

    def blank(self) -> None:
        self.blank_rows += 1
        self.reject("blank_row")

    def truth(self, style: str, path: str) -> ExportTruth:
        lines = pd.DataFrame(self.lines, columns=TRUTH_COLUMNS)
        lines["amount"] = lines["amount"].astype("float64")
        for col in ("date", "side", "account_code", "vendor", "description"):
            lines[col] = lines[col].astype("object")
        rows_in = len(lines) + sum(self.rejected.values())
        rejected = dict(sorted(self.rejected.items()))
        return ExportTruth(style, path, lines, rejected, rows_in=rows_in, blank_rows=self.blank_rows)


def select_lines(ledger: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first `n` clean lines of a make_ledger frame (dirt rows skipped), moved into PERIOD_YEAR, sorted by date,
    with fresh voucher numbers (YYYYMMDD-NNNNN per day) and an int column `amt`."""
    missing = [c for c in STANDARD_HEADERS if c not in ledger.columns]
    if missing:
        raise ValueError(f"the ledger lacks columns {missing}: pass a frame made by synth.ledger.make_ledger")
    df = ledger[STANDARD_HEADERS].astype("str").fillna("")
    digits_or_blank = r"\d*"
    ok = (
        df["일자"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")
        & df["금액"].str.fullmatch(r"[1-9]\d*")
        & df["공급가액"].str.fullmatch(digits_or_blank)
        & df["부가세"].str.fullmatch(digits_or_blank)
        & df["계정코드"].str.fullmatch(r"\d{3}")
        & df["차대구분"].isin(["차변", "대변"])
        & (df["거래처"].str.strip().ne("") | df["적요"].str.strip().ne(""))
    )
    df = df[ok].drop_duplicates().head(n).copy()
    if len(df) < 3:
        raise ValueError(f"the ledger has {len(df)} clean lines; an export needs at least 3")
    df["일자"] = f"{PERIOD_YEAR}" + df["일자"].str.slice(4)
    df = df.sort_values("일자", kind="stable").reset_index(drop=True)
    day_seq = df.groupby("일자").cumcount() + 1
    df["전표번호"] = df["일자"].str.replace("-", "", regex=False) + "-" + day_seq.map("{:05d}".format).astype("str")
    df["amt"] = df["금액"].astype("int64")
    return df


def company(rng: np.random.Generator) -> str:
    return str(COMPANIES[int(rng.integers(len(COMPANIES)))])


def money(value: int | float) -> str:
    """Thousands separators, as accounting software prints amounts."""
    return f"{int(value):,}"


def pad(rows: list[list[str]], width: int) -> list[list[str]]:
    """Every row as wide as the header, as Excel writes a CSV of its used range."""
    return [list(r) + [""] * (width - len(r)) for r in rows]


def write_bytes(path: str, data: bytes) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return os.fspath(path)


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    text = buf.getvalue()
    if encoding == "cp949":
        for bad, good in CP949_REPLACEMENTS.items():
            text = text.replace(bad, good)
    return text.encode(encoding)
