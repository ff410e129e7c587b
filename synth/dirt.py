"""Export dirt for synthetic ledgers: one kind of dirt per chosen row, applied in place on the column arrays.

Kinds (share of the dirty rows, by exact quota):
  duplicate 15%          the row is overwritten by an exact copy of the row above (row count unchanged)
  blank 15%              one cell emptied: 80% an optional column (사업자번호, 공급가액+부가세,
                         증빙구분, 결제수단, 부서, 차대구분, 전표번호, 계정과목), 20% a required one
                         (거래처, 적요, 금액, 일자)
  amount_format 20%      금액 (and 공급가액/부가세 when present) as "₩1,200", "￦1,200", "1,200원" or "1,200"
  date_format 20%        일자 as 2024.01.05, 20240105 or 2024/01/05 (clean rows: 2024-01-05)
  whitespace 15%         거래처/적요/부서 with leading, trailing or both-side spaces, a doubled inner space,
                         or an ideographic space (U+3000)
  evidence_spelling 10%  증빙구분 written as a non-canonical spelling from conf/value_maps.yaml
  invalid 5%             unparsable 금액 ("abc"), impossible 일자 (2024-02-30, 2024-13-01),
                         공급가액+부가세 far from 금액 (공급가액 x10), or blank 계정코드 and 계정과목
                         (an unlabelled row); the four in equal parts
Rows of accounts with <= 3 rows are never touched (nor copied by a duplicate), so the rare tail stays exact.
"₩" (U+20A9) is not in cp949: `synth.ledger.write_ledger(..., encoding="cp949")` writes it as "￦" (U+FFE6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KINDS = ("duplicate", "blank", "amount_format", "date_format", "whitespace", "evidence_spelling", "invalid")
KIND_SHARE = (0.15, 0.15, 0.20, 0.20, 0.15, 0.10, 0.05)
OPTIONAL_BLANKS = ("사업자번호", "공급가액", "증빙구분", "결제수단", "부서", "차대구분", "전표번호", "계정과목")
REQUIRED_BLANKS = ("거래처", "적요", "금액", "일자")
AMOUNT_STYLES = ("₩{:,}", "￦{:,}", "{:,}원", "{:,}")
BAD_AMOUNTS = ("abc", "N/A", "12O00", "확인필요")
BAD_DATES = ("{}-02-30", "{}-13-01", "{}-04-31", "{}-00-15")


def load_evidence_spellings(conf: Path | None = None) -> dict[str, list[str]]:
    """Canonical evidence type -> spellings, from value_maps.yaml (`evidence_type.values`)."""
    import yaml

    from ledger.conf import conf_dir
    from synth.vocab import synth_vocab

    path = (conf or conf_dir()) / "value_maps.yaml"
    values = {}
    if path.exists():
        maps = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        values = maps.get("evidence_type", {}).get("values", {})
    return {e: [str(s) for s in values.get(e, [])] or [e] for e in synth_vocab().evidence}


def add_dirt(
    cols: dict, raw: dict, dirty: float, rng: np.random.Generator, spellings: dict[str, list[str]]
) -> dict[str, int]:
    """Dirty round(dirty * rows) rows of `cols` (header -> object array) in place; returns rows per kind."""
    from synth.draw import apportion
    from synth.vocab import synth_vocab

    n = len(raw["day"])
    ok = ~raw["protect"]
    cand = np.flatnonzero(ok)
    chosen = rng.choice(cand, size=min(int(round(dirty * n)), len(cand)), replace=False)
    kinds = np.repeat(np.arange(len(KINDS)), apportion(len(chosen), np.array(KIND_SHARE)))
    # A duplicate copies the row above, which must not be a protected (rare-tail) row; else: amount format.
    dup_bad = (kinds == 0) & ((chosen < 1) | ~ok[np.maximum(chosen - 1, 0)])
    kinds[dup_bad] = KINDS.index("amount_format")
    rows = {kind: np.sort(chosen[kinds == i]) for i, kind in enumerate(KINDS)}

    _blank(cols, rows["blank"], rng)
    _amount_format(cols, raw, rows["amount_format"], rng)
    _date_format(cols, raw, rows["date_format"], rng)
    _whitespace(cols, rows["whitespace"], rng)
    _evidence_spelling(cols, raw, rows["evidence_spelling"], rng, spellings, synth_vocab().evidence)
    _invalid(cols, raw, rows["invalid"], rng)
    _duplicate(cols, rows["duplicate"], n)
    return {kind: int(len(r)) for kind, r in rows.items()}


def _cycle(m: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """m sub-kinds out of k, balanced (each appears once m >= k) and shuffled."""
    return rng.permutation(m) % k


def _blank(cols: dict, idx: np.ndarray, rng: np.random.Generator) -> None:
    n_req = int(round(0.2 * len(idx)))
    perm = rng.permutation(idx)
    opt, req = perm[n_req:], perm[:n_req]
    for rows, names in ((opt, OPTIONAL_BLANKS), (req, REQUIRED_BLANKS)):
        which = _cycle(len(rows), len(names), rng)
        for j, col in enumerate(names):
            r = rows[which == j]
            cols[col][r] = ""
            if col == "공급가액":
                cols["부가세"][r] = ""


def _amount_format(cols: dict, raw: dict, idx: np.ndarray, rng: np.random.Generator) -> None:
    style = _cycle(len(idx), len(AMOUNT_STYLES), rng)
    for j, fmt in enumerate(AMOUNT_STYLES):
        r = idx[style == j]
        for col, key in (("금액", "amount"), ("공급가액", "supply"), ("부가세", "vat")):
            vals = raw[key][r]
            keep = vals >= 0
            cols[col][r[keep]] = np.array([fmt.format(int(v)) for v in vals[keep]] or [], dtype=object)


def _date_format(cols: dict, raw: dict, idx: np.ndarray, rng: np.random.Generator) -> None:
    iso = raw["days"].astype(str)
    tables = [np.array([d.replace("-", sep) for d in iso], dtype=object) for sep in (".", "", "/")]
    style = _cycle(len(idx), len(tables), rng)
    for j, table in enumerate(tables):
        r = idx[style == j]
        cols["일자"][r] = table[raw["day"][r]]


def _whitespace(cols: dict, idx: np.ndarray, rng: np.random.Generator) -> None:
    target = _cycle(len(idx), 5, rng)  # 거래처 x2, 적요 x2, 부서
    style = rng.integers(0, 5, len(idx))
    for col, ts in (("거래처", (0, 1)), ("적요", (2, 3)), ("부서", (4,))):
        r_mask = np.isin(target, ts)
        r, st = idx[r_mask], style[r_mask]
        spaced = [_space(v, s) for v, s in zip(cols[col][r], st, strict=True)]
        cols[col][r] = np.array(spaced or [], dtype=object)


def _space(value: str, style: int) -> str:
    if style == 0:
        return " " + value
    if style == 1:
        return value + "  "
    if style == 2:
        return "  " + value + " "
    if style == 3:
        return value.replace(" ", "  ", 1) if " " in value else value + " "
    return value.replace(" ", "\u3000", 1) if " " in value else value + "\u3000"


def _evidence_spelling(
    cols: dict,
    raw: dict,
    idx: np.ndarray,
    rng: np.random.Generator,
    spellings: dict[str, list[str]],
    evidence: tuple[str, ...],
) -> None:
    ev = raw["evidence"][idx]
    pick = rng.random(len(idx))
    for j, canon in enumerate(evidence):
        alts = [s for s in spellings.get(canon, []) if s != canon] or [canon]
        r_mask = ev == j
        cols["증빙구분"][idx[r_mask]] = np.array(alts, dtype=object)[(pick[r_mask] * len(alts)).astype(int)]


def _invalid(cols: dict, raw: dict, idx: np.ndarray, rng: np.random.Generator) -> None:
    sub = _cycle(len(idx), 4, rng)
    r = idx[sub == 0]  # unparsable amount
    cols["금액"][r] = np.array(BAD_AMOUNTS, dtype=object)[rng.integers(0, len(BAD_AMOUNTS), len(r))]
    r = idx[sub == 1]  # impossible date, same year
    years = raw["days"][raw["day"][r]].astype("datetime64[Y]").astype(int) + 1970
    pat = rng.integers(0, len(BAD_DATES), len(r))
    bad = [BAD_DATES[p].format(y) for p, y in zip(pat, years, strict=True)]
    cols["일자"][r] = np.array(bad or [], dtype=object)
    r = idx[sub == 2]  # 공급가액 + 부가세 far from 금액 (a typed extra zero)
    amount, supply, vat = raw["amount"][r], raw["supply"][r], raw["vat"][r]
    cols["공급가액"][r] = (np.where(supply >= 0, supply, amount) * 10).astype(str).astype(object)
    vat = np.where(vat >= 0, vat, np.rint(amount / 11).astype(np.int64))
    cols["부가세"][r] = vat.astype(str).astype(object)
    r = idx[sub == 3]  # no account: an unlabelled row
    cols["계정코드"][r] = ""
    cols["계정과목"][r] = ""


def _duplicate(cols: dict, idx: np.ndarray, n: int) -> None:
    """Overwrite each target row with the nearest non-target row above it (exact copies, adjacent)."""
    if len(idx) == 0:
        return
    target = np.zeros(n, dtype=bool)
    target[idx] = True
    last_clean = np.maximum.accumulate(np.where(target, -1, np.arange(n)))
    src = last_clean[idx - 1]
    for col in cols.values():
        col[idx] = col[src]
