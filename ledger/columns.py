"""The canonical ledger columns: one source, conf/columns.yaml, for header matching and required values.

A column marked `required: true` must be a header of every file and non-blank in every row; `required: label`
only for training data (rows to classify carry no code). `required_any` groups: each row fills one of them.
Amounts come in three shapes: one amount (with a side column or a sign), or one amount column per side.
"""

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.conf import load_yaml
from ledger.errors import ConfFileError, HeaderClashError
from ledger.spellings import STEPS, HeaderRules, KnownHeaders, default_rules, loosened, normalize_header, rules_of

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
    header_rules: HeaderRules = HeaderRules()

    def spellings(self, canonical: str) -> list[str]:
        return [canonical, *self.columns[canonical].aliases]


def columns_conf(name: str = "columns.yaml") -> ColumnsConf:
    """conf/columns.yaml (or the file `ingest.columns_conf` names), checked."""
    return ColumnsConf.model_validate(load_yaml(name))


def column_spec(name: str = "columns.yaml") -> dict[str, dict]:
    """The canonical columns as plain dicts: name -> required, kind, aliases."""
    return {col: spec.model_dump() for col, spec in columns_conf(name).columns.items()}


def known_headers(spec: dict[str, dict], conf: ColumnsConf | None = None) -> KnownHeaders:
    """Every header spelling that names a column (normalized), sided amount columns included, with the conf's rules
    that loosen a header to meet them (the shipped conf's without a conf)."""
    names = {normalize_header(a) for col in spec.values() for a in col["aliases"]} | {normalize_header(c) for c in spec}
    for sided in conf.sided_amounts.values() if conf else ():
        names |= {normalize_header(a) for a in [*sided.amount, *sided.vat]}
    return KnownHeaders(names, conf.header_rules if conf else default_rules())


@dataclass
class Matched:
    """Header -> target, and for a header matched only once loosened, why (the mapping report's note)."""

    mapping: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def _exact(headers: list[str], wanted: dict[str, list[str]]) -> dict[str, str]:
    """The first alias listed before later ones, the first of two headers spelled alike, each header used once."""
    by_spelling = {normalize_header(h): h for h in reversed(headers)}
    mapping: dict[str, str] = {}
    for target, spellings in wanted.items():
        found = (by_spelling.get(normalize_header(s)) for s in spellings)
        if (header := next((h for h in found if h is not None and h not in mapping), None)) is not None:
            mapping[header] = target
    return mapping


def _refuse_clashes(fits: dict[str, dict[str, str]], url: str, settle: str) -> None:
    """Two headers fitting one target, or one header fitting two, at one step: an error naming both, never a guess."""
    for target, found in fits.items():
        if len(found) > 1:
            (first, why), (second, other) = list(found.items())[:2]
            raise HeaderClashError(
                url,
                f"headers '{first}' ({why}) and '{second}' ({other}) fit {_name(target)} equally loosely; "
                "say which one it is, e.g. " + settle.format(header=first, target=target.replace("\t", ".")),
            )
    by_header: dict[str, list[str]] = {}
    for target, found in fits.items():
        for header in found:
            by_header.setdefault(header, []).append(target)
    for header, targets in by_header.items():
        if len(targets) > 1:
            raise HeaderClashError(
                url,
                f"header '{header}' fits {_name(targets[0])} ({fits[targets[0]][header]}) and "
                f"{_name(targets[1])} ({fits[targets[1]][header]}) equally loosely; say which one it is, e.g. "
                + settle.format(header=header, target=targets[0].replace("\t", ".")),
            )


def _name(target: str) -> str:
    side, _, part = target.partition("\t")  # a sided target is "side<TAB>part"
    return f"the {part} of side {side}" if part else f"column {target}"


def _match(
    headers: list[str], wanted: dict[str, list[str]], taken: set[str], known: set[str], url: str, settle: str
) -> Matched:
    """Header -> target for each target whose spellings a header has, at the strictest step of STEPS that finds one:
    exact spellings first (the first alias listed wins, as always), then the conf's loosened ones, where a clash is
    an error. A header spelled exactly as any column or side names it is never loosened into another one."""
    free = [h for h in headers if h not in taken]
    matched = Matched(_exact(free, wanted))
    index = {normalize_header(s): target for target, spellings in wanted.items() for s in spellings}
    rules = rules_of(known)
    loose = [h for h in free if h not in matched.mapping and normalize_header(h) not in known]
    for level in range(1, len(STEPS)):
        fits: dict[str, dict[str, str]] = {}  # target -> header -> note
        for header in loose:
            for spelling in loosened(str(header), rules)[level]:
                target = index.get(spelling.text)
                if target is not None and target not in matched.mapping.values() and header not in matched.mapping:
                    fits.setdefault(target, {}).setdefault(header, spelling.note)
        _refuse_clashes(fits, url, settle)
        for target, found in fits.items():
            ((header, note),) = found.items()
            matched.mapping[header], matched.notes[header] = target, note
    return matched


# the line that settles a clash of loosened headers, for ingest.columns and for the per-side amount columns
SETTLE_COLUMN = '--set \'ingest.columns={{"{header}": "{target}"}}\''
SETTLE_SIDED = (
    "add the right header's spelling to sided_amounts.{target} in conf/columns.yaml (or in a copy: --set "
    "ingest.columns_conf=my-columns.yaml): an exact spelling wins over a loosened one"
)


def match_columns(
    headers: list[str],
    spec: dict[str, dict],
    overrides: dict[str, str] | None = None,
    known: set[str] | None = None,
    url: str = "",
) -> Matched:
    """Raw header -> canonical name; `overrides` (header -> canonical, from ingest.columns) come first. `known`:
    every exact spelling of the conf (known_headers), with its loosening rules; `url` names the file in an error."""
    forced = {h: c for h, c in (overrides or {}).items() if h in headers}
    wanted = {c: [c, *col["aliases"]] for c, col in spec.items() if c not in forced.values()}
    known = known_headers(spec) if known is None else known
    matched = _match(headers, wanted, set(forced), known, url, SETTLE_COLUMN)
    return Matched(forced | matched.mapping, matched.notes)


def match_sided(
    headers: list[str], conf: ColumnsConf, taken: set[str], known: set[str] | None = None, url: str = ""
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """side -> {"amount": header, "vat": header} for the per-side amount columns of a file (headers not taken),
    and the notes of the headers matched once loosened."""
    wanted = {
        f"{side}\t{part}": spellings
        for side, s in conf.sided_amounts.items()
        for part, spellings in (("amount", s.amount), ("vat", s.vat))
        if spellings
    }
    known = known_headers({}, conf) if known is None else known
    matched = _match(headers, wanted, taken, known, url, SETTLE_SIDED)
    found: dict[str, dict[str, str]] = {}
    for header, target in matched.mapping.items():
        side, part = target.split("\t")
        found.setdefault(side, {})[part] = header
    return {side: parts for side, parts in found.items() if "amount" in parts}, matched.notes


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
