"""Synthetic Korean bookkeeping ledgers (더존-style exports) for tests, demos and benchmarks.

Pure functions, no Prefect, nothing runs at import. `make_ledger` draws a labelled ledger from the chart
of accounts in conf/chart_of_accounts.csv; `synth.dirt.add_dirt` adds the dirt real exports carry.

How a row is drawn (all vectorised): its account (the label) by a Zipf-like law over the chosen accounts;
then vendor, 적요, amount, evidence type (증빙), payment, department and side from that account's profile,
except for ~5% of rows whose features come from a nearby account of the same category (label noise).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.conf import conf_dir

HEADERS = [
    "일자",
    "전표번호",
    "차대구분",
    "거래처",
    "사업자번호",
    "적요",
    "금액",
    "공급가액",
    "부가세",
    "증빙구분",
    "결제수단",
    "부서",
    "계정코드",
    "계정과목",
]
CHART_COLUMNS = ["code", "name", "category", "side", "vat", "vendors", "keywords", "amount_median", "amount_sigma"]
CATEGORIES = ("자산", "부채", "자본", "수익", "비용")
VAT_TYPES = ("taxable", "exempt", "none")
DEPARTMENTS = ("경영지원팀", "재무팀", "영업팀", "마케팅팀", "생산팀", "연구소", "구매팀", "물류팀")
EVIDENCE = ("세금계산서", "계산서", "신용카드", "현금영수증", "영수증", "없음")
PAYMENTS = ("법인카드", "계좌이체", "현금", "대체")
DATE_RANGE = ("2023-01-01", "2024-12-31")
ZIPF_EXPONENT = 1.1
LABEL_NOISE = 0.05  # share of rows whose features come from another account of the same category
SIDE_FLIP = 0.05  # share of rows booked on the account's untypical side (refunds, reversals)
# Characters a cp949 (EUC-KR superset) file cannot hold, and what `write_ledger` writes instead.
CP949_REPLACEMENTS = {"₩": "￦"}

_EVIDENCE_P = {  # per VAT type, over EVIDENCE
    "taxable": (0.45, 0.0, 0.33, 0.12, 0.10, 0.0),
    "exempt": (0.0, 0.55, 0.10, 0.0, 0.35, 0.0),
    "none": (0.0, 0.0, 0.0, 0.0, 0.25, 0.75),
}
_PAYMENT_P = np.array(
    [  # rows: EVIDENCE, columns: PAYMENTS
        (0.0, 0.60, 0.05, 0.35),
        (0.0, 0.60, 0.10, 0.30),
        (1.0, 0.0, 0.0, 0.0),
        (0.0, 0.50, 0.50, 0.0),
        (0.0, 0.30, 0.60, 0.10),
        (0.0, 0.30, 0.10, 0.60),
    ]
)
# Accounts most ledgers book most often, most frequent first; they get the head of the Zipf law.
_POPULAR = (
    811,
    830,
    812,
    813,
    822,
    814,
    831,
    103,
    251,
    108,
    401,
    253,
    802,
    819,
    824,
    817,
    826,
    815,
    254,
    255,
    135,
    146,
    833,
    821,
    820,
    829,
    827,
    901,
    931,
    134,
    131,
)
# Counterparties without a business registration number (internal entries, people).
_NO_BRN = frozenset(
    {
        "결산대체",
        "내부대체",
        "자체",
        "자체생산",
        "재고조정",
        "현금시재",
        "임직원",
        "대표이사",
        "임원",
        "주주",
        "주주총회",
        "일용직",
        "김민수",
        "이지은",
        "박준영",
        "최서연",
        "윤하늘",
        "김영호",
        "부산지점",
        "대구지점",
        "광주지점",
        "현장사무소",
    }
)


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


def make_ledger(rows: int, accounts: int = 120, seed: int = 0, dirty: float = 0.0) -> pd.DataFrame:
    """A labelled ledger of exactly `rows` rows with the columns HEADERS, every cell a str ("" = blank).

    `accounts` accounts are drawn from the chart; their frequencies follow a Zipf law (exponent 1.1) with,
    when rows >= 2000 and accounts >= 50, max(3, accounts // 25) tail accounts of 1-3 rows; every account
    appears when rows >= accounts. `dirty` (0-1) is the share of rows given one kind of export dirt
    (see synth.dirt); the counts per kind are in `df.attrs["dirt"]`. Same arguments, same frame.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if not 0.0 <= dirty <= 1.0:
        raise ValueError(f"dirty must be within [0, 1], got {dirty}")
    chart = load_chart()
    if not 1 <= accounts <= len(chart):
        raise ValueError(
            f"accounts={accounts}: the chart of accounts has {len(chart)}, so the maximum is "
            f"{len(chart)} (and the minimum 1)"
        )
    rng = np.random.default_rng(seed)
    chosen = _choose_accounts(chart, accounts, rng)
    counts = _class_counts(rows, accounts, rng)
    label = rng.permutation(np.repeat(np.arange(accounts), counts))
    feat = _confuse(label, chosen["code"].astype(int).to_numpy(), chosen["category"].to_numpy(), rng)
    cols, raw = _draw_rows(chosen, label, feat, rng)
    raw["protect"] = counts[raw["label"]] <= 3  # dirt never touches the rare tail: its counts stay exact
    dirt_counts = {}
    if dirty > 0 and rows:
        from synth.dirt import add_dirt, load_evidence_spellings

        dirt_counts = add_dirt(cols, raw, dirty, rng, load_evidence_spellings())
    df = pd.DataFrame({h: pd.array(cols[h], dtype="str") for h in HEADERS})
    df.attrs["dirt"] = dirt_counts
    return df


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


def _apportion(total: int, p: np.ndarray) -> np.ndarray:
    """Split `total` into integer parts proportional to p (largest remainder; deterministic)."""
    q = total * np.asarray(p, dtype=float) / np.sum(p)
    out = np.floor(q).astype(np.int64)
    short = int(total - out.sum())
    out[np.argsort(-(q - out), kind="stable")[:short]] += 1
    return out


def _choose_accounts(chart: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Weighted sample of k accounts without replacement, in Zipf rank order (popular accounts first)."""
    codes = chart["code"].astype(int).to_numpy()
    pos = {c: i for i, c in enumerate(_POPULAR)}
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
    counts[:m] = base + _apportion(rows - int(rare.sum()) - base * m, p)
    counts[m:] = rare
    return counts


def _confuse(label: np.ndarray, codes: np.ndarray, cats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Feature account per row: the label, or for LABEL_NOISE of rows one of the (up to) 6 accounts of the
    same category with the nearest codes (a plausible mis-posting)."""
    k = len(codes)
    feat = label.copy()
    if k < 2 or len(label) == 0:
        return feat
    near = np.zeros((k, 6), dtype=np.int64)
    n_near = np.zeros(k, dtype=np.int64)
    for a in range(k):
        others = np.flatnonzero((np.arange(k) != a) & (cats == cats[a]))
        if len(others) == 0:
            others = np.flatnonzero(np.arange(k) != a)
        others = others[np.argsort(np.abs(codes[others] - codes[a]), kind="stable")][:6]
        near[a, : len(others)], n_near[a] = others, len(others)
    idx = np.flatnonzero(rng.random(len(label)) < LABEL_NOISE)
    la = label[idx]
    feat[idx] = near[la, (rng.random(len(idx)) * n_near[la]).astype(np.int64)]
    return feat


def _cum(weights: np.ndarray) -> np.ndarray:
    """Row-wise CDF for sampling by (u >= cum).sum(1); exactly 1 from the last nonzero weight on."""
    w = weights / weights.sum(axis=1, keepdims=True)
    cum = np.cumsum(w, axis=1)
    last = w.shape[1] - 1 - np.argmax(w[:, ::-1] > 0, axis=1)
    cum[np.arange(w.shape[1])[None, :] >= last[:, None]] = 1.0
    return cum


def _pick(cum: np.ndarray, which: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(len(which))[:, None] >= cum[which]).sum(axis=1)


def _brn(name: str) -> str:
    """A stable, plausible 사업자등록번호 for a vendor name (blank for people and internal entries)."""
    if name in _NO_BRN:
        return ""
    h = int(hashlib.md5(name.encode("utf-8")).hexdigest(), 16)
    mid = (81, 86, 87, 88)[h % 4] if name.startswith("(주)") else 10 + (h >> 8) % 80
    return f"{101 + (h >> 16) % 899:03d}-{mid:02d}-{(h >> 32) % 100000:05d}"


def _flat(lists: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    items = [s.split("|") for s in lists]
    flat = np.array([x.strip() for it in items for x in it], dtype=object)
    n = np.array([len(it) for it in items], dtype=np.int64)
    return flat, np.concatenate([[0], np.cumsum(n)[:-1]]), n


def _draw_rows(chosen: pd.DataFrame, label: np.ndarray, feat: np.ndarray, rng: np.random.Generator):
    k, n = len(chosen), len(label)
    codes = chosen["code"].astype(int).to_numpy()
    # Calendar: weekdays ~6x as likely as weekend days; rows sorted by date, then numbered per day.
    days = np.arange(np.datetime64(DATE_RANGE[0]), np.datetime64(DATE_RANGE[1]) + 1)
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    p_day = np.where(weekday < 5, 1.0, 0.15)
    day = np.sort(rng.choice(len(days), size=n, p=p_day / p_day.sum()))  # labels are already shuffled
    iso = days.astype(str).astype(object)
    seq = np.arange(n) - np.searchsorted(day, day, side="left") + 1
    seq_str = np.array([f"{i:05d}" for i in range(int(seq.max(initial=0)) + 1)], dtype=object)
    compact = np.array([d.replace("-", "") for d in iso], dtype=object)
    month = (days.astype("datetime64[M]").astype(np.int64) % 12) + 1

    vendors, v_start, v_n = _flat(chosen["vendors"])
    vi = v_start[feat] + (rng.random(n) ** 1.6 * v_n[feat]).astype(np.int64)  # first vendors most common
    brn = np.array([_brn(v) for v in vendors], dtype=object)
    keywords, k_start, k_n = _flat(chosen["keywords"])
    ki = k_start[feat] + (rng.random(n) ** 1.3 * k_n[feat]).astype(np.int64)
    suffix_table = np.array(["", " 외", " 등"] + [f" {m}월분" for m in range(1, 13)], dtype=object)
    s = rng.random(n)
    suffix = np.where(s < 0.62, 0, np.where(s < 0.74, 1, np.where(s < 0.80, 2, 2 + month[day])))

    median = chosen["amount_median"].to_numpy(dtype=float)
    sigma = chosen["amount_sigma"].to_numpy(dtype=float)
    raw_amt = np.exp(np.log(median[feat]) + sigma[feat] * rng.standard_normal(n))
    step = np.where(raw_amt < 10_000, 10, np.where(raw_amt < 1_000_000, 100, 1000))
    amount = np.maximum(step, np.rint(raw_amt / step) * step).astype(np.int64)

    vat_type = np.array([VAT_TYPES.index(v) for v in chosen["vat"]])
    ev_w = np.array([_EVIDENCE_P[VAT_TYPES[t]] for t in vat_type]) * rng.gamma(2.0, 0.5, (k, len(EVIDENCE)))
    evidence = _pick(_cum(ev_w), feat, rng)
    payment = _pick(_cum(_PAYMENT_P), evidence, rng)
    dept_w = rng.gamma(0.8, 1.0, (k, len(DEPARTMENTS)))
    prod, lab = DEPARTMENTS.index("생산팀"), DEPARTMENTS.index("연구소")
    dept_w[:, prod] = np.where((codes >= 500) & (codes < 600), dept_w.sum(axis=1) * 3, dept_w[:, prod] * 0.1)
    dept_w[np.isin(codes, (523, 823, 239)), lab] = dept_w.sum(axis=1)[np.isin(codes, (523, 823, 239))] * 3
    dept = _pick(_cum(dept_w), feat, rng)

    vt = vat_type[feat]
    split = (vt == 0) & np.isin(evidence, (0, 2, 3))
    exempt_bill = (vt == 1) & (evidence == 1)
    supply = np.where(split, np.rint(amount / 1.1).astype(np.int64), np.where(exempt_bill, amount, -1))
    vat = np.where(split, amount - supply, np.where(exempt_bill, 0, -1))

    typical = (chosen["side"].to_numpy() == "대변").astype(np.int64)[feat]
    side = typical ^ (rng.random(n) < SIDE_FLIP)
    cols = {
        "일자": iso[day],
        "전표번호": compact[day] + "-" + seq_str[seq],
        "차대구분": np.array(["차변", "대변"], dtype=object)[side],
        "거래처": vendors[vi],
        "사업자번호": brn[vi],
        "적요": keywords[ki] + suffix_table[suffix],
        "금액": _int_str(amount),
        "공급가액": _int_str(supply),
        "부가세": _int_str(vat),
        "증빙구분": np.array(EVIDENCE, dtype=object)[evidence],
        "결제수단": np.array(PAYMENTS, dtype=object)[payment],
        "부서": np.array(DEPARTMENTS, dtype=object)[dept],
        "계정코드": chosen["code"].to_numpy(dtype=object)[label],
        "계정과목": chosen["name"].to_numpy(dtype=object)[label],
    }
    raw = {
        "day": day,
        "days": days,
        "amount": amount,
        "supply": supply,
        "vat": vat,
        "evidence": evidence,
        "label": label,
    }
    return cols, raw


def _int_str(values: np.ndarray) -> np.ndarray:
    """Integers as an object array of str, negative (= absent) as "" (pyarrow's cast: ~4x numpy's astype)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pc.cast(pa.array(values), pa.string()).to_numpy(zero_copy_only=False)
    out[values < 0] = ""
    return out
