"""Header spellings: the plain normalisation every match uses, then the looser steps real exports need.

Exports write the same column many ways (적요란, ① 수입(원), 총 금액, 이용일시). conf/columns.yaml `header_rules:`
says how a header is loosened, step by step from strict to loose (STEPS); a matcher takes, per column, the
strictest step that finds a header, and each loosened spelling says why it was made (its note, for the report).
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.conf import conf_path, load_yaml

# circled and parenthesized numbers (①, ⑴, ⒈, ❶, ㉑) go before NFKC, which would turn ① into a bare "1"
CIRCLED_NUMBER = re.compile(r"^[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]+")
# "1.", "1)", "(1)", "[1]" once NFKC made them ASCII; only 1-2 digits and no digit after, so 2024년 and 3.3% stay
NUMBERING = re.compile(r"^(?:\d{1,2}[.)](?!\d)|\(\d{1,2}\)|\[\d{1,2}\])")
# strict to loose; "exact" is the plain normalisation, the others are conf/columns.yaml `header_rules:`
STEPS = ("exact", "drop", "suffix", "prefix", "ending")


def normalize_header(text: object) -> str:
    """Header spelling used for alias matching: NFKC, no whitespace, no leading numbering, lower case."""
    spelled = unicodedata.normalize("NFC", str(text)).strip()
    spelled = unicodedata.normalize("NFKC", CIRCLED_NUMBER.sub("", spelled) or spelled)
    spelled = "".join(spelled.split()).lower()
    return NUMBERING.sub("", spelled) or spelled


class HeaderRules(BaseModel):
    """conf/columns.yaml `header_rules:`, typed. Without that section a header only loses a trailing (...), as it
    did before the section existed, so an older copy of the conf reads its files as it did."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # frozen: hashable, so loosening is cached per header

    drop: tuple[str, ...] = (r"\([^()]*\)$",)  # regexes over the normalised spelling, removed wherever they match
    suffixes: tuple[str, ...] = ()  # one trailing word left out: 적요란 -> 적요
    prefixes: tuple[str, ...] = ()  # one leading word left out: 총금액 -> 금액
    endings: tuple[tuple[str, ...], ...] = ()  # an ending read as another of its group: 이용일시 -> 이용일자
    min_stem: int = Field(2, ge=1)  # what is left after a word is left out: never 액 alone from 잔액

    @field_validator("drop")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"header_rules.drop: {pattern!r} is no regular expression ({err})") from err
        return patterns


def default_rules() -> HeaderRules:
    """The rules of the shipped conf/columns.yaml, for a caller that passes a plain set of known spellings."""
    path = conf_path("columns.yaml")
    return _conf_rules(str(path), path.stat().st_mtime if path.exists() else 0.0)


@functools.lru_cache(maxsize=8)
def _conf_rules(path: str, mtime: float) -> HeaderRules:
    # per file version, as ledger.conf reads it: a conf folder swapped ($ACCOUNT_TAX_CONF) or edited is read again
    return HeaderRules.model_validate((load_yaml(path) or {}).get("header_rules") or {})


class KnownHeaders(frozenset):
    """The exact header spellings of a columns conf (normalised), carrying the rules that loosen a header to meet
    them: the readers and matchers get both through the one argument they already pass around."""

    rules: HeaderRules

    def __new__(cls, spellings, rules: HeaderRules):
        known = super().__new__(cls, spellings)
        known.rules = rules
        return known


def rules_of(known: object) -> HeaderRules:
    return getattr(known, "rules", None) or default_rules()


@dataclass(frozen=True)
class Spelling:
    """One spelling of a header to look up, and why it differs from the header (empty at the exact step)."""

    text: str
    note: str = ""


def _dropped(spelled: str, rules: HeaderRules) -> tuple[str, list[str]]:
    removed: list[str] = []
    for pattern in rules.drop:
        removed += [m.group(0) for m in re.finditer(pattern, spelled) if m.group(0)]
        spelled = re.sub(pattern, "", spelled)
    return spelled, removed


def _plain(text: str, rules: HeaderRules) -> tuple[str, list[str]]:
    """The normalised spelling with the drop patterns applied, and the parts they removed."""
    spelled = normalize_header(text)
    bare, removed = _dropped(spelled, rules)
    return (bare, removed) if bare else (spelled, [])


def _splits(text: str, rules: HeaderRules) -> list[tuple[str, str, list[str]]]:
    """(head, tail, dropped parts) at the end of the header and at each space in it: a word is left out at the end of
    a header or of one of its words, so the parent of a two-row header (수입란 over 금액: `수입란 금액`) loosens too."""
    words = str(text).split()
    whole, removed = _plain(text, rules)
    splits = [(whole, "", removed)]
    for k in range(1, len(words)):
        (head, dropped_head), (tail, dropped_tail) = (_plain(" ".join(w), rules) for w in (words[:k], words[k:]))
        splits.append((head, tail, dropped_head + dropped_tail))
    return splits


def _because(removed: list[str], what: str) -> str:
    parts = ([f"dropping {' '.join(removed)}"] if removed else []) + ([what] if what else [])
    return "by " + ", ".join(parts)


def _longest_end(spelled: str, words: tuple[str, ...], min_stem: int) -> str:
    own = max((w for w in words if spelled.endswith(w)), key=len, default="")
    return own if own and len(spelled) - len(own) >= min_stem else ""


@functools.lru_cache(maxsize=8192)
def loosened(text: str, rules: HeaderRules) -> tuple[tuple[Spelling, ...], ...]:
    """The spellings of a header to try at each of STEPS, strict to loose, each with its note."""
    exact = normalize_header(text)
    splits = _splits(text, rules)
    whole, _, removed = splits[0]
    drop = [Spelling(whole, _because(removed, ""))] if whole != exact else []
    # the longest word of a list a spelling ends with (출금금액 ends in 금액, not in 액), if enough is left before it
    suffix = [
        Spelling(head[: -len(s)] + tail, _because(dropped, f"suffix {s}"))
        for head, tail, dropped in splits
        if (s := _longest_end(head, rules.suffixes, rules.min_stem))
    ]
    prefix = [
        Spelling(whole[len(p) :], _because(removed, f"prefix {p}"))
        for p in rules.prefixes
        if whole.startswith(p) and len(whole) - len(p) >= rules.min_stem
    ]
    ending = [
        Spelling(whole[: -len(own)] + other, _because(removed, f"ending {own} as {other}"))
        for group in rules.endings
        if (own := _longest_end(whole, group, rules.min_stem))
        for other in group
        if other != own
    ]
    return tuple(tuple(step) for step in ([Spelling(exact)], drop, suffix, prefix, ending))


def header_candidates(text: object, rules: HeaderRules | None = None) -> list[str]:
    """Every spelling of a header to look up, strict to loose: 거래처(상호) -> 거래처(상호), 거래처."""
    steps = loosened(str(text), rules or default_rules())
    return list(dict.fromkeys(s.text for step in steps for s in step))
