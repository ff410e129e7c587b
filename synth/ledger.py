"""Synthetic Korean bookkeeping ledgers (더존-style exports) for tests, demos and benchmarks.

Pure functions, no Prefect, nothing runs at import. `make_ledger` draws a labelled ledger from the chart
of accounts in conf/chart_of_accounts.csv; `synth.dirt.add_dirt` adds the dirt real exports carry.

How a row is drawn (all vectorised): its account (the label) by a Zipf-like law over the chosen accounts;
then vendor, 적요, amount, evidence type (증빙), payment, department and side from that account's profile,
then a share of rows (`mispostings`, 5% by default) is booked to a nearby account of the same category: the line
looks like its own account but carries another's code, a mis-posting. Which rows and their true accounts are in
`df.attrs["mispostings"]` (`injected_mispostings(df)`), so the detection of mis-postings can be scored.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.conf import conf_dir
from synth.draw import apportion, draw_rows
from synth.vocab import (
    CATEGORIES,
    CHART_COLUMNS,
    CP949_REPLACEMENTS,
    DATE_RANGE,
    LABEL_NOISE,
    VAT_TYPES,
    ZIPF_EXPONENT,
    synth_vocab,
)

__all__ = [
    "CP949_REPLACEMENTS", "conf_dir", "injected_mispostings", "load_chart", "make_ledger", "synth_vocab", "write_ledger"
]


def load_chart(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The chart of accounts: `code` (str, e.g. "830"), name, category, side, vat, vendors and keywords
    (`|`-separated str), amount_median (int, KRW) and amount_sigma (float, lognormal sigma)."""
    path = Path(path) if path else conf_dir() / "chart_of_accounts.csv"
    chart = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in CHART_COLUMNS if c not in chart.columns]
    if missing:
        raise ValueError(f"{path}: chart of accounts lacks columns {missing}")
    chart = chart[CHART_COLUMNS].apply(lambda s: s.str.strip())
    chart["amount_median"] = chart["amount_median"].astype("int64")
    chart["amount_sigma"] = chart["amount_sigma"].astype("float64")
    for col, allowed in (("category", CATEGORIES), ("side", ("차변", "대변")), ("vat", VAT_TYPES)):
        bad = sorted(set(chart[col]) - set(allowed))
        if bad:
            raise ValueError(f"{path}: column {col} has values {bad}; allowed: {list(allowed)}")
    if not chart["code"].is_unique:
        raise ValueError(f"{path}: duplicate account codes")
    return chart.reset_index(drop=True)


def make_ledger(
    rows: int,
    accounts: int = 120,
    seed: int = 0,
    dirty: float = 0.0,
    mispostings: float = LABEL_NOISE,
    date_range: tuple[str, str] = DATE_RANGE,
) -> pd.DataFrame:
    """A labelled ledger of exactly `rows` rows with the columns synth_vocab().headers, every cell a str ("" = blank).

    `accounts` accounts are drawn from the chart; their frequencies follow a Zipf law (exponent 1.1) with,
    when rows >= 2000 and accounts >= 50, max(3, accounts // 25) tail accounts of 1-3 rows; every account
    appears when rows >= accounts. `dirty` (0-1) is the share of rows given one kind of export dirt
    (see synth.dirt); the counts per kind are in `df.attrs["dirt"]`. `mispostings` (0-1) is the share of rows
    booked to a nearby account of the same category while their cells describe their own (`injected_mispostings(df)`
    tells which, before dirt: a duplicate overwrites a row with the one above). Lines are dated within `date_range`
    (first and last day, ISO; two years by default), in date order. Same arguments, same frame, and `dirty` draws
    nothing before the dirt: the same call with dirty=0 gives the frame's clean cells.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if not 0.0 <= dirty <= 1.0:
        raise ValueError(f"dirty must be within [0, 1], got {dirty}")
    if not 0.0 <= mispostings <= 1.0:
        raise ValueError(f"mispostings must be within [0, 1], got {mispostings}")
    chart = load_chart()
    if not 1 <= accounts <= len(chart):
        raise ValueError(
            f"accounts={accounts}: the chart of accounts has {len(chart)}, so the maximum is "
            f"{len(chart)} (and the minimum 1)"
        )
    rng = np.random.default_rng(seed)
    chosen = _choose_accounts(chart, accounts, rng)
    counts = _class_counts(rows, accounts, rng)
    true = rng.permutation(np.repeat(np.arange(accounts), counts))  # what each line is
    rare = counts <= 3
    codes, cats = chosen["code"].astype(int).to_numpy(), chosen["category"].to_numpy()
    label = _mispost(true, codes, cats, rng, mispostings, rare)  # what it was booked to
    cols, raw = draw_rows(chosen, label, true, rng, date_range)
    raw["protect"] = rare[raw["label"]]  # dirt never touches the rare tail: its counts stay exact
    dirt_counts = {}
    if dirty > 0 and rows:
        from synth.dirt import add_dirt, load_evidence_spellings

        dirt_counts = add_dirt(cols, raw, dirty, rng, load_evidence_spellings())
    df = pd.DataFrame({h: pd.array(cols[h], dtype="str") for h in synth_vocab().headers})
    df.attrs["dirt"] = dirt_counts
    wrong = np.flatnonzero(true != label)
    df.attrs["mispostings"] = {
        "rows": wrong.tolist(),
        "true_code": chosen["code"].to_numpy()[true[wrong]].tolist(),
        "true_name": chosen["name"].to_numpy()[true[wrong]].tolist(),
    }
    return df


def injected_mispostings(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of a `make_ledger` frame booked to the wrong account: row (position), the code and name written,
    and the account the row's cells were drawn from (the true one)."""
    truth = df.attrs.get("mispostings", {"rows": [], "true_code": [], "true_name": []})
    rows = np.asarray(truth["rows"], dtype="int64")
    return pd.DataFrame(
        {
            "row": rows,
            "written_code": df["계정코드"].to_numpy()[rows],
            "written_name": df["계정과목"].to_numpy()[rows],
            "true_code": pd.array(truth["true_code"], dtype="str"),
            "true_name": pd.array(truth["true_name"], dtype="str"),
        }
    )


def write_ledger(df: pd.DataFrame, path: str, fmt: str | None = None, encoding: str = "utf-8") -> str:
    """Write `df` as csv (utf-8, utf-8-sig or cp949), xlsx (openpyxl) or parquet (pyarrow) to a local path
    or fsspec URL; fmt defaults to the path's extension; parent folders are created. Returns `path`.
    For cp949 the characters in CP949_REPLACEMENTS (₩) are written as their cp949 look-alikes (￦)."""
    fmt = (fmt or _format_from_path(path)).lower().lstrip(".")
    if fmt not in ("csv", "xlsx", "parquet"):
        raise ValueError(f"unknown ledger format {fmt!r}: expected csv, xlsx or parquet")
    aliases = {"utf8": "utf-8", "ms949": "cp949", "utf-8-bom": "utf-8-sig"}
    enc = aliases.get(encoding.lower(), encoding.lower())
    if enc not in ("utf-8", "utf-8-sig", "cp949"):
        raise ValueError(f"unsupported encoding {encoding!r}: expected utf-8, utf-8-sig or cp949")
    import fsspec

    fs, fpath = fsspec.core.url_to_fs(str(path))
    parent = posixpath.dirname(fpath.replace(os.sep, "/"))
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(fpath, "wb") as f:
        if fmt == "csv":
            out = df
            if enc == "cp949":
                out = df.copy()
                for col in out.columns:
                    if pd.api.types.is_string_dtype(out[col]):
                        for bad, good in CP949_REPLACEMENTS.items():
                            out[col] = out[col].str.replace(bad, good, regex=False)
            out.to_csv(f, index=False, encoding=enc)
        elif fmt == "xlsx":
            df.to_excel(f, index=False, engine="openpyxl")
        else:
            df.to_parquet(f, index=False, engine="pyarrow")
    return path


def _format_from_path(path: str) -> str:
    name = str(path).lower()
    for ext, fmt in ((".csv", "csv"), (".xlsx", "xlsx"), (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(ext):
            return fmt
    raise ValueError(f"cannot tell the ledger format from {path!r}: pass fmt='csv', 'xlsx' or 'parquet'")


def _choose_accounts(chart: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Weighted sample of k accounts without replacement, in Zipf rank order (popular accounts first)."""
    codes = chart["code"].astype(int).to_numpy()
    pos = {c: i for i, c in enumerate(synth_vocab().popular_accounts)}
    weight = np.array(
        [30 * 0.93 ** pos[c] if c in pos else 4.0 if 800 <= c < 900 else 2.0 if 500 <= c < 600 else 1.0 for c in codes]
    )
    keys = np.log(weight) + 0.5 * rng.gumbel(size=len(codes))  # Gumbel top-k: a weighted draw, in rank order
    return chart.iloc[np.argsort(-keys, kind="stable")[:k]].reset_index(drop=True)


def _class_counts(rows: int, k: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.zeros(k, dtype=np.int64)
    if rows == 0:
        return counts
    n_rare = max(3, k // 25) if rows >= 2000 and k >= 50 else 0
    rare = rng.integers(1, 4, n_rare)
    m = k - n_rare
    base = 1 if rows >= k else 0
    p = np.arange(1, m + 1, dtype=float) ** -ZIPF_EXPONENT
    counts[:m] = base + apportion(rows - int(rare.sum()) - base * m, p)
    counts[m:] = rare
    return counts


def _mispost(
    true: np.ndarray, codes: np.ndarray, cats: np.ndarray, rng: np.random.Generator, share: float, rare: np.ndarray
) -> np.ndarray:
    """The account each row is booked to: its own, or for `share` of rows one of the (up to) 6 accounts of the same
    category with the nearest codes (a plausible mis-posting). The mistakes follow the true accounts' frequencies,
    as a bookkeeper's slips do, so every account's lines stay mostly its own; rare-tail accounts (`rare`) neither
    lose a row nor receive one, so their counts stay exact."""
    k = len(codes)
    written = true.copy()
    if k < 2 or len(true) == 0:
        return written
    near = np.zeros((k, 6), dtype=np.int64)
    n_near = np.zeros(k, dtype=np.int64)
    for a in range(k):
        others = np.flatnonzero((np.arange(k) != a) & (cats == cats[a]) & ~rare)
        if len(others) == 0:
            others = np.flatnonzero((np.arange(k) != a) & ~rare)
        others = others[np.argsort(np.abs(codes[others] - codes[a]), kind="stable")][:6]
        near[a, : len(others)], n_near[a] = others, len(others)
    idx = np.flatnonzero(rng.random(len(true)) < share)
    pick = rng.random(len(idx))
    keep = ~rare[true[idx]] & (n_near[true[idx]] > 0)
    idx, pick = idx[keep], pick[keep]
    written[idx] = near[true[idx], (pick * n_near[true[idx]]).astype(np.int64)]
    return written
