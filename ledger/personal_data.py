"""Personal and payment data in ledger cells (주민등록번호, card and account numbers, phones, e-mail, card users'
names), found with the patterns and checksums of conf/personal_data.yaml and masked before anything is written.

Pure and column-wise: a cheap RE2 prefilter picks the cells worth a look, the candidates' checksums are computed
together (ledger.checksums), and only the distinct valid values are formatted as their masked form.
"""

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, computed_field

from ledger.cells import arrow_text
from ledger.checksums import CHECKS
from ledger.conf import load_yaml
from ledger.headers import normalize_header

NAME = "name"


class MaskRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style: Literal["digits", "email", "name"] = "digits"
    keep_head: int = 0  # digits kept at the start
    keep_tail: int = 0  # digits kept at the end
    head_in_first_group: bool = False  # keep_head stops at the first separator (02-***-4567, 010-****-5678)


class Detector(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    description: str
    hint: str  # RE2 prefilter: a cell without it is not looked at
    pattern: str  # Python regex; the value is the whole match, or its group `value`
    check: Literal["rrn", "foreigner_rn", "luhn", "brn_sole_proprietor"] | None = None
    mask: MaskRule

    @functools.cached_property
    def regex(self) -> re.Pattern:
        return re.compile(f"(?P<whole>{self.pattern})", re.ASCII)  # \d is 0-9: a full-width digit is no digit here


class PersonalDataConf(BaseModel):
    """conf/personal_data.yaml."""

    model_config = ConfigDict(extra="forbid")

    detectors: list[Detector]
    sole_proprietor: Detector
    columns: dict[str, list[str]]  # kind -> headers of columns that hold that kind only
    dedicated_share: float
    person_name: str
    not_names: list[str] = []

    def rule(self, kind: str) -> MaskRule:
        if kind == NAME:
            return MaskRule(style="name")
        return next(d.mask for d in [*self.detectors, self.sole_proprietor] if d.kind == kind)

    def header_kinds(self, headers: list[str]) -> dict[str, str]:
        """The headers that say their column holds one kind of personal data, with that kind."""
        aliases = {normalize_header(a): kind for kind, names in self.columns.items() for a in names}
        return {h: aliases[normalize_header(h)] for h in headers if normalize_header(h) in aliases}


def load_personal_data(name: str = "personal_data.yaml") -> PersonalDataConf:
    return PersonalDataConf.model_validate(load_yaml(name))


class ColumnFindings(BaseModel):
    cells: dict[str, int] = {}  # kind -> cells that held it (masked, unless masking is off)
    holds_only: str | None = None  # the kind, when the column holds nothing else (its header or its cells say so)


class PersonalDataReport(BaseModel):
    """What was found, per original header: counts only, never a value."""

    masked: bool = True
    columns: dict[str, ColumnFindings] = {}

    def dedicated(self) -> dict[str, str]:
        """Header -> kind of the columns that hold only personal data."""
        return {h: f.holds_only for h, f in self.columns.items() if f.holds_only}

    @computed_field
    @property
    def kinds(self) -> dict[str, int]:
        """Cells per kind over every column (in the dumped report too: what the summary's warning counts)."""
        out: dict[str, int] = {}
        for findings in self.columns.values():
            for kind, n in findings.cells.items():
                out[kind] = out.get(kind, 0) + n
        return out

    def totals(self) -> dict[str, int]:
        return self.kinds


def mask_value(value: str, rule: MaskRule) -> str:
    """One value in its masked form: 850101-1******, 1234-****-****-3456, k***@example.com, 홍**."""
    if rule.style == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if rule.style == NAME:
        text = value.strip()
        return text[:1] + "*" * max(len(text) - 1, 1)
    digits = sum(c.isdigit() for c in value)
    head = rule.keep_head
    if rule.head_in_first_group:
        head = min(head, len(re.match(r"\D*(\d*)", value).group(1)))
    out, seen = [], 0
    for char in value:
        if char.isdigit():
            seen += 1
            keep = seen <= head or seen > digits - rule.keep_tail
            out.append(char if keep else "*")
        else:
            out.append(char)
    return "".join(out)


def _nothing(cells: pd.Series) -> pd.Series:
    return pd.Series(False, index=cells.index)


def _filled(cells: pd.Series) -> pd.Series:
    return (cells.notna() & cells.str.strip().ne("").fillna(False)).astype("bool")


def has_hint(cells: pd.Series, hint: str) -> pd.Series:
    """Which cells match an RE2 pattern (pyarrow: pandas runs a pattern with \\d through Python's re per cell)."""
    found = pc.match_substring_regex(arrow_text(cells), hint)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=cells.index, dtype="bool")


def find_values(cells: pd.Series, detector: Detector) -> tuple[pd.Series, pd.Series]:
    """The valid values of one kind in these cells (one entry per match, indexed by cell) and, per match, whether
    it is the whole cell."""
    candidates = has_hint(cells, detector.hint)
    if not candidates.any():
        return pd.Series(dtype="str"), pd.Series(dtype="bool")
    found = cells[candidates].str.extractall(detector.regex)
    values = found["value"] if "value" in found else found["whole"]
    values = values.dropna()
    if detector.check is not None and len(values):
        values = values[CHECKS[detector.check](values.str.replace(r"\D", "", regex=True)).to_numpy()]
    rows = values.index.get_level_values(0)
    whole = found.loc[values.index, "whole"].to_numpy() == cells.str.strip().reindex(rows).to_numpy()
    return pd.Series(values.to_numpy(), index=rows, dtype="str"), pd.Series(whole, index=rows, dtype="bool")


def replace_values(cells: pd.Series, regex: re.Pattern, masks: dict[str, str], rows: pd.Index) -> pd.Series:
    """The cells with each listed value (whole match or its `value` group) replaced by its masked form."""
    grouped = "value" in regex.groupindex

    def swap(match: re.Match) -> str:
        value = match.group("value") if grouped else match.group(0)
        masked = masks.get(value)
        if masked is None:
            return match.group(0)
        if not grouped:
            return masked
        start, end = match.span("value")
        text, base = match.group(0), match.start()
        return text[: start - base] + masked + text[end - base :]

    out = cells.copy()
    held = cells.index.isin(rows)
    out[held] = cells[held].str.replace(regex, swap, regex=True)
    return out


@dataclass
class ColumnScan:
    """One column after every detector: its masked cells, and per kind the cells that held it and the cells that
    were one such value and nothing else."""

    cells: pd.Series
    held: dict[str, pd.Series] = field(default_factory=dict)
    whole: dict[str, pd.Series] = field(default_factory=dict)


def scan_column(cells: pd.Series, detectors: list[Detector]) -> ColumnScan:
    """Every detector in order over one column's cells; a value masked by one is never matched by the next. The
    hints pick the cells worth a look first (most cells of a ledger are none; one RE2 scan per hint: joined into
    one pattern they run several times slower)."""
    scan = ColumnScan(cells=cells)
    look = _nothing(cells)
    for hint in dict.fromkeys(d.hint for d in detectors):
        look |= has_hint(cells, hint)
    if not look.any():
        return scan
    part = cells[look]
    for detector in detectors:
        values, whole = find_values(part, detector)
        if values.empty:
            continue
        masks = {v: mask_value(v, detector.mask) for v in values.unique()}
        part = replace_values(part, detector.regex, masks, values.index)
        held = cells.index.isin(values.index)
        entire = cells.index.isin(whole.index[whole.to_numpy()])
        scan.held[detector.kind] = scan.held.get(detector.kind, _nothing(cells)) | held
        scan.whole[detector.kind] = scan.whole.get(detector.kind, _nothing(cells)) | entire
    if scan.held:
        scan.cells = cells.copy()
        scan.cells[look] = part
    return scan


def mask_text(
    texts: list[str], conf: PersonalDataConf, sole_proprietors: bool = False, names: list[str] = ()
) -> list[str]:
    """Free text (title lines, an error message) with every detected value, and these names, masked."""
    if not texts:
        return texts
    scan = scan_column(pd.Series(texts, dtype="str"), detectors(conf, sole_proprietors))
    return mask_names(scan.cells, list(names))[0].fillna("").tolist()


def names_in(df: pd.DataFrame, columns: list[str], conf: PersonalDataConf) -> list[str]:
    """The person names the name columns among these hold (for masking them in free text too)."""
    return person_names([df[h] for h, kind in conf.header_kinds(columns).items() if kind == NAME], conf)


def detectors(conf: PersonalDataConf, sole_proprietors: bool) -> list[Detector]:
    return [*conf.detectors, conf.sole_proprietor] if sole_proprietors else list(conf.detectors)


def person_names(columns: list[pd.Series], conf: PersonalDataConf) -> list[str]:
    """The values of name columns that look like a person's name (longest first, for one alternation)."""
    if not columns:
        return []
    values = pd.concat(columns).dropna().str.strip().drop_duplicates()
    looks = values.str.fullmatch(conf.person_name).fillna(False).astype("bool") & ~values.isin(conf.not_names)
    return sorted(values[looks].tolist(), key=len, reverse=True)


def mask_names(cells: pd.Series, names: list[str]) -> tuple[pd.Series, pd.Series]:
    """Names of card users or account holders wherever else they appear (a 적요 naming the user)."""
    if not names:
        return cells, _nothing(cells)
    regex = re.compile("|".join(map(re.escape, names)))
    held = has_hint(cells, regex.pattern)
    if not held.any():
        return cells, held
    masks = {n: mask_value(n, MaskRule(style="name")) for n in names}
    return replace_values(cells, regex, masks, cells.index[held]), held


def mask_whole(cells: pd.Series, rule: MaskRule) -> tuple[pd.Series, pd.Series]:
    """Every filled cell of a column whose header names its kind, masked whole (checksum or not)."""
    filled = _filled(cells)
    values = cells[filled].str.strip()
    masks = {v: mask_value(v, rule) for v in values.unique()}
    out = cells.copy()
    out[filled] = values.map(masks)
    return out, filled


def mask_frame(
    df: pd.DataFrame,
    columns: list[str],
    conf: PersonalDataConf,
    mask: bool = True,
    sole_proprietors: bool = False,
    names: list[str] | None = None,
) -> tuple[pd.DataFrame, PersonalDataReport]:
    """Personal data in these text columns found, counted per column and kind, and masked unless `mask` is off.
    A column whose header names a kind is masked whole; one whose cells are nearly all one kind is marked as
    holding only that kind (so standardize leaves it out of the features and texts)."""
    report = PersonalDataReport(masked=mask)
    out = df.copy()
    by_header = conf.header_kinds(columns)
    names = names_in(df, columns, conf) if names is None else names  # `names`: the caller's, from names_in
    for column in columns:
        cells = df[column].astype("str")
        findings = ColumnFindings()
        if column in by_header:
            kind = by_header[column]
            masked, held = mask_whole(cells, conf.rule(kind))
            findings.cells, findings.holds_only = {kind: int(held.sum())}, kind
        else:
            scan = scan_column(cells, detectors(conf, sole_proprietors))
            masked, named = mask_names(scan.cells, names)
            findings.cells = {k: int(v.sum()) for k, v in scan.held.items() if v.any()}
            if named.any():
                findings.cells[NAME] = int(named.sum())
            # a business_no column of sole proprietors is still the vendors' numbers: masked, never left out
            whole = {k: v for k, v in scan.whole.items() if k != conf.sole_proprietor.kind}
            findings.holds_only = dedicated_kind(cells, whole, conf.dedicated_share)
        if findings.cells:
            report.columns[column] = findings
            if mask:
                out[column] = masked
    return out, report


def dedicated_kind(cells: pd.Series, whole: dict[str, pd.Series], share: float) -> str | None:
    """The kind that nearly every filled cell is, nothing else (a 비고 column of phone numbers), if any."""
    filled = int(_filled(cells).sum())
    if not filled or not whole:
        return None
    kind, cells_of_kind = max(((k, int(v.sum())) for k, v in whole.items()), key=lambda kv: kv[1])
    return kind if cells_of_kind / filled >= share else None
