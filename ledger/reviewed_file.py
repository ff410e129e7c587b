"""A prediction file given back after review (pure): which of its headers the product wrote, which holds the
accountant's code, and which lines are still waiting for one.

The file's own ledger columns are read like any export's; the generated ones (처리, 검토 사유, 예측1 계정코드 ...)
are recognised by the words of conf/prediction_output.yaml, Korean or stored names, and never become features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ledger.conf import load_yaml
from ledger.headers import normalize_header

OUTPUT_WORDS = "prediction_output.yaml"
PENDING_RULE = "not_reviewed"


@dataclass(frozen=True)
class ReviewedFile:
    """The generated headers of a prediction file as they appear in one file."""

    confirmed: str  # 확정 계정코드: the label
    decision: str  # 처리: auto / review
    generated: tuple[str, ...]  # every header the product wrote, confirmed and decision included
    review_word: frozenset[str]  # the decision's value on review lines, in words and as stored


def _spellings(words: dict) -> tuple[dict[str, set[str]], re.Pattern]:
    """Stored name -> normalized spellings (stored and Korean) of each plain generated column; a pattern for the
    ranked prediction columns (pred1_code, 예측1 계정코드 ...)."""
    headers = words["headers"]
    plain = {name: {normalize_header(name), normalize_header(text)} for name, text in headers.items()
             if not name.startswith("pred_")}  # fmt: skip
    ranked = [re.escape(normalize_header(headers[f"pred_{p}"]).replace("{rank}", "\0")).replace("\0", r"\d+")
              for p in ("code", "name", "prob")]  # fmt: skip
    return plain, re.compile("^(?:" + "|".join([r"pred\d+_(?:code|name|prob)", *ranked]) + ")$")


def reviewed_file(headers: list[str], words: dict | None = None) -> ReviewedFile | None:
    """The file's generated headers when it is a prediction file (a 확정 계정코드 and a 처리 column); else None."""
    words = words or load_yaml(OUTPUT_WORDS)
    plain, ranked = _spellings(words)
    found: dict[str, str] = {}
    generated = []
    for header in headers:
        spelled = normalize_header(header)
        name = next((n for n, spellings in plain.items() if spelled in spellings), None)
        if name is not None:
            found.setdefault(name, header)
        if name is not None or ranked.match(spelled):
            generated.append(header)
    if "confirmed_code" not in found or "decision" not in found:
        return None
    review = frozenset({"review", words["values"]["decision"]["review"]})
    return ReviewedFile(found["confirmed_code"], found["decision"], tuple(generated), review)


def pending_lines(raw: pd.DataFrame, reviewed: ReviewedFile) -> tuple[pd.Series, pd.Series]:
    """(mask, detail): the lines whose 확정 계정코드 is empty, never guessed; a review line says it was not reviewed,
    an auto line that its code was cleared."""
    blank = raw[reviewed.confirmed].fillna("").astype("str").str.strip().eq("")
    on_review = raw[reviewed.decision].fillna("").astype("str").str.strip().isin(reviewed.review_word)
    header = reviewed.confirmed
    detail = pd.Series(f"an auto line whose {header} was cleared", index=raw.index, dtype="str")
    detail = detail.where(~on_review, f"a review line left without {header}: not reviewed yet")
    return blank, detail
