"""Drawing a synthetic ledger's cells, vectorised: one function per column family, no Prefect, no I/O."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from synth.vocab import DATE_RANGE, SIDE_FLIP, VAT_TYPES, synth_vocab


def apportion(total: int, p: np.ndarray) -> np.ndarray:
    """Split `total` into integer parts proportional to p (largest remainder; deterministic)."""
    q = total * np.asarray(p, dtype=float) / np.sum(p)
    out = np.floor(q).astype(np.int64)
    short = int(total - out.sum())
    out[np.argsort(-(q - out), kind="stable")[:short]] += 1
    return out


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
    if name in synth_vocab().no_brn_counterparties:
        return ""
    h = int(hashlib.md5(name.encode("utf-8")).hexdigest(), 16)
    mid = (81, 86, 87, 88)[h % 4] if name.startswith("(주)") else 10 + (h >> 8) % 80
    return f"{101 + (h >> 16) % 899:03d}-{mid:02d}-{(h >> 32) % 100000:05d}"


def _flat(lists: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    items = [s.split("|") for s in lists]
    flat = np.array([x.strip() for it in items for x in it], dtype=object)
    n = np.array([len(it) for it in items], dtype=np.int64)
    return flat, np.concatenate([[0], np.cumsum(n)[:-1]]), n


def draw_rows(
    chosen: pd.DataFrame,
    label: np.ndarray,
    feat: np.ndarray,
    rng: np.random.Generator,
    date_range: tuple[str, str] = DATE_RANGE,
):
    """Cells (header -> object array of str) for rows of account `label` drawn from account `feat`'s profile,
    dated within `date_range` (first and last day, ISO), and the raw drawn values (day, amount, supply, vat,
    evidence, label) that synth.dirt needs."""
    k, n = len(chosen), len(label)
    codes = chosen["code"].astype(int).to_numpy()
    # Calendar: weekdays ~6x as likely as weekend days; rows sorted by date, then numbered per day.
    days = np.arange(np.datetime64(date_range[0]), np.datetime64(date_range[1]) + 1)
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

    vocab = synth_vocab()
    vat_type = np.array([VAT_TYPES.index(v) for v in chosen["vat"]])
    ev_p = np.array([vocab.evidence_by_vat[VAT_TYPES[t]] for t in vat_type])
    evidence = _pick(_cum(ev_p * rng.gamma(2.0, 0.5, (k, len(vocab.evidence)))), feat, rng)
    payment = _pick(_cum(vocab.payment_by_evidence), evidence, rng)
    dept_w = rng.gamma(0.8, 1.0, (k, len(vocab.departments)))
    prod, lab = vocab.departments.index("생산팀"), vocab.departments.index("연구소")
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
        "증빙구분": np.array(vocab.evidence, dtype=object)[evidence],
        "결제수단": np.array(vocab.payments, dtype=object)[payment],
        "부서": np.array(vocab.departments, dtype=object)[dept],
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
