"""The canonical ledger columns: one source, conf/columns.yaml, for header matching and required values.

A column marked `required: true` must be a header of every file and non-blank in every row; `required: label`
only for training data (rows to classify carry no code). `required_any` groups: each row fills one of them.
Amounts come in three shapes: one amount (with a side column or a sign), or one amount column per side.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.conf import load_yaml
from ledger.errors import ConfFileError
from ledger.headers import header_candidates
from ledger.readers import normalize_header

# The stages compute with these (calendar and amount features): a conf may not make them optional.
ALWAYS_REQUIRED = ("date", "amount")


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool | Literal["label"]
    kind: str
    aliases: list[str]


class SidedAmount(BaseModel):
    """The amount (and VAT) columns of one side, when each side has its own column."""

    model_config = ConfigDict(extra="forbid")

    amount: list[str]
    vat: list[str] = []


class SignedSides(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positive: str
    negative: str


class ColumnsConf(BaseModel):
    """conf/columns.yaml, typed."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, ColumnSpec]
    required_any: list[list[str]] = []
    sided_amounts: dict[str, SidedAmount] = Field(default_factory=dict)
    signed_amount_sides: SignedSides = SignedSides(positive="차변", negative="대변")

    def spellings(self, canonical: str) -> list[str]:
        return [canonical, *self.columns[canonical].aliases]


def columns_conf(name: str = "columns.yaml") -> ColumnsConf:
    """conf/columns.yaml (or the file `ingest.columns_conf` names), checked."""
    return ColumnsConf.model_validate(load_yaml(name))


def column_spec(name: str = "columns.yaml") -> dict[str, dict]:
    """The canonical columns as plain dicts: name -> required, kind, aliases."""
    return {col: spec.model_dump() for col, spec in columns_conf(name).columns.items()}


def known_headers(spec: dict[str, dict], conf: ColumnsConf | None = None) -> set[str]:
    """Every header spelling that names a column (normalized), sided amount columns included."""
    names = {normalize_header(a) for col in spec.values() for a in col["aliases"]} | {normalize_header(c) for c in spec}
    for sided in conf.sided_amounts.values() if conf else ():
        names |= {normalize_header(a) for a in [*sided.amount, *sided.vat]}
    return names


def _match(headers: list[str], wanted: dict[str, list[str]], taken: set[str]) -> dict[str, str]:
    """Header -> target for each target whose spellings a header has; exact spellings before loose ones, the
    first alias listed before later ones, each header used once."""
    mapping: dict[str, str] = {}
    for level in (0, 1):  # 0: the normalized spelling; 1: without a parenthesized suffix
        by_spelling: dict[str, str] = {}
        for header in reversed(headers):
            candidates = header_candidates(header)
            if level < len(candidates):
                by_spelling[candidates[level]] = header
        for target, spellings in wanted.items():
            if target in mapping.values():
                continue
            for spelling in spellings:
                header = by_spelling.get(normalize_header(spelling))
                if header is not None and header not in mapping and header not in taken:
                    mapping[header] = target
                    break
    return mapping


def match_columns(headers: list[str], spec: dict[str, dict], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Raw header -> canonical name; `overrides` (header -> canonical, from ingest.columns) come first."""
    forced = {h: c for h, c in (overrides or {}).items() if h in headers}
    wanted = {c: [c, *col["aliases"]] for c, col in spec.items() if c not in forced.values()}
    return forced | _match(headers, wanted, set(forced))


def match_sided(headers: list[str], conf: ColumnsConf, taken: set[str]) -> dict[str, dict[str, str]]:
    """side -> {"amount": header, "vat": header} for the per-side amount columns of a file (headers not taken)."""
    wanted = {
        f"{side}\t{part}": spellings
        for side, s in conf.sided_amounts.items()
        for part, spellings in (("amount", s.amount), ("vat", s.vat))
        if spellings
    }
    found: dict[str, dict[str, str]] = {}
    for header, target in _match(headers, wanted, taken).items():
        side, part = target.split("\t")
        found.setdefault(side, {})[part] = header
    return {side: parts for side, parts in found.items() if "amount" in parts}


def missing_required(conf: ColumnsConf, labels_required: bool, found: set[str]) -> list[str]:
    """Errors for required columns not among the `found` ones (mapped, or derived from the file's layout),
    naming the aliases tried."""
    spec = {name: col.model_dump() for name, col in conf.columns.items()}
    problems = []
    for canonical in required_columns(spec, labels_required):
        if canonical not in found:
            tried = conf.columns[canonical].aliases
            if canonical == "amount":
                tried = tried + [a for s in conf.sided_amounts.values() for a in s.amount[:2]]
            problems.append(f"required column '{canonical}' not found (aliases tried: {tried})")
    for group in conf.required_any:
        if not found & set(group):
            aliases = [a for c in group for a in conf.columns[c].aliases[:4]]
            problems.append(f"none of the columns {group} found: a line needs one of them (aliases tried: {aliases})")
    return problems


def required_columns(spec: dict[str, dict], labels_required: bool) -> list[str]:
    """Columns every row must fill, in conf order; an error when the conf makes date or amount optional."""
    required = [
        c for c, col in spec.items() if col["required"] is True or (col["required"] == "label" and labels_required)
    ]
    if missing := [c for c in ALWAYS_REQUIRED if c not in required]:
        raise ConfFileError(
            f"columns conf: {missing} must be `required: true` (every ledger line has a date and amount)"
        )
    return required
