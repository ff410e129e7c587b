"""What a synthetic ledger is made of: conf/synth_ledger.yaml (headers, value sets) and the drawing constants."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ledger.conf import conf_dir

CHART_COLUMNS = ["code", "name", "category", "side", "vat", "vendors", "keywords", "amount_median", "amount_sigma"]
CATEGORIES = ("자산", "부채", "자본", "수익", "비용")
VAT_TYPES = ("taxable", "exempt", "none")
DATE_RANGE = ("2023-01-01", "2024-12-31")
ZIPF_EXPONENT = 1.1
LABEL_NOISE = 0.05  # default share of rows booked to a nearby account of the same category (mis-postings)
SIDE_FLIP = 0.05  # share of rows booked on the account's untypical side (refunds, reversals)
# Characters a cp949 (EUC-KR superset) file cannot hold, and what `write_ledger` writes instead.
CP949_REPLACEMENTS = {"₩": "￦"}


@dataclass(frozen=True)
class SynthVocab:
    """What conf/synth_ledger.yaml says a synthetic ledger is made of (headers and value sets)."""

    headers: tuple[str, ...]
    departments: tuple[str, ...]
    evidence: tuple[str, ...]
    payments: tuple[str, ...]
    evidence_by_vat: dict[str, tuple[float, ...]]
    payment_by_evidence: np.ndarray  # rows: evidence, columns: payments
    popular_accounts: tuple[int, ...]
    no_brn_counterparties: frozenset[str]


@functools.cache
def synth_vocab() -> SynthVocab:
    """The synthetic ledger's vocabulary, read once from conf/synth_ledger.yaml and checked for shape."""
    import yaml

    path = conf_dir() / "synth_ledger.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    vocab = SynthVocab(
        headers=tuple(raw["headers"]),
        departments=tuple(raw["departments"]),
        evidence=tuple(raw["evidence"]),
        payments=tuple(raw["payments"]),
        evidence_by_vat={k: tuple(map(float, v)) for k, v in raw["evidence_by_vat"].items()},
        payment_by_evidence=np.array(raw["payment_by_evidence"], dtype=float),
        popular_accounts=tuple(int(c) for c in raw["popular_accounts"]),
        no_brn_counterparties=frozenset(raw["no_brn_counterparties"]),
    )
    shape_ok = (
        set(vocab.evidence_by_vat) == set(VAT_TYPES)
        and all(len(p) == len(vocab.evidence) for p in vocab.evidence_by_vat.values())
        and vocab.payment_by_evidence.shape == (len(vocab.evidence), len(vocab.payments))
        and {"생산팀", "연구소"} <= set(vocab.departments)
    )
    if not shape_ok:
        raise ValueError(
            f"{path}: evidence_by_vat needs one row per VAT type {list(VAT_TYPES)} over `evidence`, "
            "payment_by_evidence one row per evidence over `payments`, and departments must hold 생산팀 and 연구소"
        )
    return vocab
