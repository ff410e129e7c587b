"""Corrections an accountant confirmed: the suspected mis-postings file (xlsx or csv) read back and its codes put on
the ledger's rows, matched on file, line and the row's digest. A row that changed or vanished since is reported and
never corrected; nothing else is touched."""

from pathlib import Path

import pandas as pd

from ledger.account_names import code_names
from ledger.conf import load_yaml
from ledger.errors import ExpectedError
from schemas import PROVENANCE

WORDS = "misposting_output.yaml"
KEY = [*PROVENANCE, "row_digest"]
NEEDED = [*KEY, "confirmed_code"]
# a plain csv may name its columns in English
ALIASES = {"file": "source_file", "line": "source_row", "digest": "row_digest", "code": "confirmed_code"}


class CorrectionsFileError(ExpectedError, ValueError):
    """The corrections file cannot be read as one: what is wrong, where, and what it must hold."""

    hint = "fix the corrections file named above (the suspects table, 확정 계정코드 filled), or leave out --corrections"


def read_corrections(path: str | Path, words: dict | None = None) -> pd.DataFrame:
    """The filled rows of a corrections file: source_file, source_row, row_digest (int64), confirmed_code (str).

    Headers are the Korean ones of the suspects file or the stored names (file / line / digest / code also do);
    a row whose confirmed code is empty was not reviewed and is left out.
    """
    words = words or load_yaml(WORDS)
    path = Path(path)
    if not path.exists():
        raise CorrectionsFileError(f"corrections file {path} does not exist")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(path, sheet_name=None, dtype="str", engine="calamine")
        sheet = words["sheets"]["suspects"]
        raw = sheets[sheet] if sheet in sheets else next(iter(sheets.values()))
    elif path.suffix.lower() == ".csv":
        raw = _read_csv(path)
    else:
        raise CorrectionsFileError(f"corrections file {path}: expected .xlsx or .csv (the suspects file, filled)")
    names = {korean: stored for stored, korean in words["headers"].items()} | ALIASES
    table = raw.rename(columns=lambda c: names.get(str(c).strip(), str(c).strip()))
    missing = [c for c in NEEDED if c not in table.columns]
    if missing:
        shown = [words["headers"].get(c, c) for c in missing]
        raise CorrectionsFileError(
            f"corrections file {path} lacks the columns {shown} (its headers: {list(raw.columns)}); give the "
            f"suspected mis-postings file with {words['headers']['confirmed_code']} filled, or a csv with "
            "file, line, digest and code"
        )
    table = table[NEEDED].copy()
    code = table["confirmed_code"].str.strip().str.replace(r"\.0+$", "", regex=True)
    filled = code.fillna("").ne("")
    table = table[filled].assign(confirmed_code=code[filled])
    lines = pd.to_numeric(table["source_row"], errors="coerce")
    digests = table["row_digest"].map(_as_int)
    bad = table.index[lines.isna() | (lines % 1 != 0) | digests.isna()]
    if len(bad):
        rows = ", ".join(str(i + 2) for i in bad[:10])
        raise CorrectionsFileError(
            f"corrections file {path}: rows {rows} have no whole line number or digest "
            f"({words['headers']['source_row']} / {words['headers']['row_digest']}); keep those cells as written"
        )
    table["source_row"] = lines.astype("int64")
    table["row_digest"] = digests.astype("int64")
    twice = table[table.duplicated(list(PROVENANCE), keep=False)]
    conflicting = twice.groupby(list(PROVENANCE))["confirmed_code"].nunique()
    if (conflicting > 1).any():
        file, line = conflicting[conflicting > 1].index[0]
        raise CorrectionsFileError(f"corrections file {path}: line {line} of {file} is given two different codes")
    return table.drop_duplicates(list(PROVENANCE)).reset_index(drop=True)


def apply_to_ledger(ledger: pd.DataFrame, corrections: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The ledger with the corrected codes (and their names), and a report: applied, confirmed (code as written),
    stale (the row changed since: another digest; or it vanished), and the reviewed row ids."""
    keyed = ledger[["row_id", *KEY, "account_code"]].merge(
        corrections, on=["source_file", "source_row"], how="right", suffixes=("", "_given"), indicator=True
    )
    vanished = keyed["_merge"].eq("right_only")
    changed = ~vanished & keyed["row_digest"].ne(keyed["row_digest_given"])
    usable = keyed[~vanished & ~changed]
    confirmed = usable["account_code"].eq(usable["confirmed_code"])
    corrected = usable[~confirmed]
    out = ledger.copy()
    at = out["row_id"].isin(corrected["row_id"])
    codes = dict(zip(corrected["row_id"], corrected["confirmed_code"], strict=True))
    out.loc[at, "account_code"] = out.loc[at, "row_id"].map(codes)
    if "account_name" in out.columns:
        names = code_names(ledger.dropna(subset=["account_code"]))
        out.loc[at, "account_name"] = out.loc[at, "account_code"].map(names)
    stale = [
        {"file": str(r.source_file), "line": int(r.source_row), "code": str(r.confirmed_code), "why": why}
        for why, rows in (("the line is gone", keyed[vanished]), ("the line changed since", keyed[changed]))
        for r in rows.itertuples()
    ]
    report = {
        "rows": int(len(corrections)),
        "applied": int(len(corrected)),
        "confirmed": int(confirmed.sum()),
        "stale": stale,
        "reviewed_row_ids": sorted(int(i) for i in usable["row_id"]),
    }
    return out, report


def _as_int(value) -> int | None:
    try:
        return int(str(value).strip().lstrip("'"))
    except ValueError:
        return None


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return pd.read_csv(path, dtype="str", encoding=encoding, keep_default_na=False, na_values=[""])
        except UnicodeDecodeError:
            continue
    raise CorrectionsFileError(f"corrections file {path}: neither UTF-8 nor CP949 text")
