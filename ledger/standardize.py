"""One file's rows as read -> canonical columns, with the rows that are not ledger lines marked (pure, vectorized).

What a file's layout says is settled here, per file, because it differs per file: which header is which column,
the per-side amount columns, account blocks, summary and title rows, month-day dates and the period.
"""

import pandas as pd
from pydantic import BaseModel

from ledger.cells import normalize_code, parse_amounts, parse_dates, spelling_key
from ledger.code_forms import CodeForms, code_forms, read_codes
from ledger.columns import ColumnsConf, match_columns, match_sided, missing_required
from ledger.conf import conf_path
from ledger.layouts import Layout, account_blocks, complete_month_days, joined_cells, period_of, summary_rows
from ledger.readers import FileReport, LedgerFileError, normalize_header
from ledger.reviewed_file import PENDING_RULE, pending_lines, reviewed_file
from ledger.work_store import NativeUrl

LINE_COLUMNS = ["line_rule", "line_detail"]
# an account-code column is believed when at least this share of its values look like account codes
CODE_FIT = 0.5
EXAMPLES = 5


class FileLayout(BaseModel):
    """What was made of one file's headers and rows (for metadata.json, the summary and the UI)."""

    url: NativeUrl
    mapping: dict[str, str]  # original header -> canonical column
    sided: dict[str, dict[str, str]] = {}  # side -> {"amount": header, "vat": header}
    notes: dict[str, str] = {}  # header -> why it was matched once loosened: "by suffix 란" (conf header_rules)
    unmapped: list[str] = []
    generated: list[str] = []  # a prediction file given back: the product's own columns, never features
    personal: dict[str, str] = {}  # header -> kind of the columns left out for holding only personal data
    period: tuple[str, str] | None = None
    account_blocks: int = 0
    line_rules: dict[str, int] = {}


def chart_codes(name: str = "chart_of_accounts.csv") -> set[str]:
    """The account codes of the chart of accounts in conf/ (3 digits)."""
    return set(pd.read_csv(conf_path(name), dtype=str, usecols=["code"])["code"].str.strip())


def code_fits(codes: pd.Series, chart: set[str], forms: CodeForms | None = None) -> pd.Series:
    """Which values look like account codes: a chart code in one of the forms of conf/code_forms.yaml (811, 0811,
    81100: 811 and a sub-code, 811-01)."""
    return read_codes(normalize_code(codes.astype("str")), chart, forms or code_forms())["form"].notna()


def check_account_codes(url: str, header: str, codes: pd.Series, chart: set[str], vendor_like: bool) -> None:
    """Refuse a column mapped to account_code whose values mostly are no account codes (e.g. 거래처 codes)."""
    values = codes.dropna()
    values = values[values.astype("str").str.strip() != ""]
    if values.empty:
        return
    fits = code_fits(values, chart)
    if fits.mean() >= CODE_FIT:
        return
    examples = list(dict.fromkeys(values[~fits].astype("str")))[:EXAMPLES]
    seems = (
        "거래처 (vendor) codes"
        if vendor_like or values.astype("str").str.fullmatch(r"0\d{4,}", na=False).mean() > 0.5
        else "something else than account codes"
    )
    raise LedgerFileError(
        url,
        f"column '{header}' was taken as the account code, but {1 - fits.mean():.0%} of its values do not look like "
        f"account codes (e.g. {examples}); it seems to hold {seems}. Point at the right column with "
        f'--set \'ingest.columns={{"<header>": "account_code"}}\', or leave the file unlabelled (--no-labels)',
    )


def _repeated_headers(raw: pd.DataFrame, headers: list[str], known: set[str]) -> pd.Series:
    hits = sum(spelling_key(raw[h]).isin({normalize_header(h)} | known).astype("int64") for h in headers)
    filled = sum(raw[h].notna().astype("int64") for h in headers)
    return (hits >= 2) & (hits * 2 >= filled)


def _mark(rule: pd.Series, detail: pd.Series, mask: pd.Series, name: str, what: pd.Series | str) -> None:
    mask = mask.fillna(False) & rule.isna()
    rule[mask] = name
    detail[mask] = what[mask] if isinstance(what, pd.Series) else what


def _sided_amounts(raw: pd.DataFrame, sided: dict, out: pd.DataFrame, rule: pd.Series, detail: pd.Series) -> None:
    """Amount, side and VAT from one amount column per side: the non-zero one wins."""
    values = {side: parse_amounts(raw[parts["amount"]]) for side, parts in sided.items()}
    filled = {side: v.notna() & (v != 0) for side, v in values.items()}
    count = sum(f.astype("int64") for f in filled.values())
    out["amount"] = pd.Series(pd.NA, index=raw.index, dtype="str")
    for side, parts in sided.items():
        take = filled[side] & (count == 1)
        out.loc[take, "amount"] = raw.loc[take, parts["amount"]]
        out.loc[take, "side"] = side
        if "vat" in parts:
            out.loc[take, "vat"] = raw.loc[take, parts["vat"]]
        # a cell no amount parser reads stays the amount, so validation names it (amount_unparsable)
        odd = raw[parts["amount"]].notna() & values[side].isna() & (count == 0) & out["amount"].isna()
        out.loc[odd, "amount"], out.loc[odd, "side"] = raw.loc[odd, parts["amount"]], side
    names = " / ".join(parts["amount"] for parts in sided.values())
    _mark(rule, detail, count >= 2, "two_sided_amount", f"more than one of {names} filled")
    _mark(rule, detail, (count == 0) & out["amount"].isna(), "no_sided_amount", f"none of {names} filled")


def standardize_file(
    raw: pd.DataFrame,
    report: FileReport,
    conf: ColumnsConf,
    layout: Layout,
    known: set[str],
    labels_required: bool,
    columns: dict[str, str],
    year: int | None,
    chart: set[str],
    personal: dict[str, str] | None = None,
    keep: list[str] | tuple[str, ...] = (),
) -> tuple[pd.DataFrame, FileLayout]:
    """Canonical columns (text) plus line_rule / line_detail for the rows that are not ledger lines. `personal`:
    header -> kind of the columns holding only personal data; they are mapped nowhere unless `keep` names the
    header or its column, or ingest.columns maps the header."""
    headers = report.headers
    spec = {name: col.model_dump() for name, col in conf.columns.items()}
    overrides = dict(columns)
    reviewed = reviewed_file(headers)
    if reviewed is not None:  # a prediction file given back: the accountant's code is the label, ours no feature
        if "account_code" not in overrides.values():
            overrides[reviewed.confirmed] = "account_code"
        ours = set(reviewed.generated) - {reviewed.confirmed}
        headers = [h for h in headers if h not in ours]
    matched = match_columns(headers, spec, overrides, known, report.url)
    mapping = matched.mapping
    left_out = {
        h: kind
        for h, kind in (personal or {}).items()
        if h in headers and h not in keep and mapping.get(h) not in keep and h not in overrides
    }
    if left_out:
        matched = match_columns([h for h in headers if h not in left_out], spec, overrides, known, report.url)
        mapping = matched.mapping
    sided, sided_notes = match_sided(headers, conf, set(mapping), known, report.url)
    if sided and "amount" in mapping.values() and len(sided) < 2:
        sided = {}  # one amount column plus a lone per-side column: the amount column is the amount
    if sided:
        mapping = {h: c for h, c in mapping.items() if c not in ("amount", "vat")}
    text, count = joined_cells(raw, headers)
    blocks = account_blocks(text, count, layout)
    has_blocks = bool(blocks["block"].any())
    found = set(mapping.values()) | ({"amount", "side"} if sided else set())
    found |= {"account_code", "account_name"} if has_blocks else set()  # carried down from the block rows
    if problems := missing_required(conf, labels_required, found):
        raise LedgerFileError(report.url, "; ".join(problems) + f". Headers in the file: {headers}")
    out = pd.DataFrame(index=raw.index)
    for header, canonical in mapping.items():
        out[canonical] = raw[header].astype("str")
    rule = pd.Series(pd.NA, index=raw.index, dtype="str")
    detail = pd.Series(pd.NA, index=raw.index, dtype="str")
    titles = {" ".join(t.split()) for t in report.title_lines if t.strip()}
    _mark(
        rule,
        detail,
        _repeated_headers(raw, headers, known),
        "repeated_header",
        "the header line repeated inside the data",
    )
    _mark(rule, detail, text.isin(titles) & (count <= 3), "repeated_title", "a title row repeated in the data: " + text)
    summary = summary_rows(raw, headers, layout)
    _mark(rule, detail, summary.notna(), "summary_row", "a summary row (" + summary.fillna("") + "), not a ledger line")
    if has_blocks:
        _mark(rule, detail, blocks["block"], "account_block", "the account of the lines below it: " + text)
        for column in ("account_code", "account_name"):
            carried = blocks["code" if column == "account_code" else "name"]
            out[column] = out[column].where(out[column].notna(), carried) if column in out else carried
    if sided:
        _sided_amounts(raw, sided, out, rule, detail)
    period = period_of(report.title_lines, layout)
    if period is None and year is not None:
        period = (pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31))
    if "date" in out:
        out["date"] = complete_month_days(out["date"], period)
        if period is not None:
            dates = parse_dates(out["date"])
            outside = (dates < period[0]) | (dates > period[1])
            span = f"{period[0]:%Y-%m-%d} ~ {period[1]:%Y-%m-%d}"
            _mark(
                rule, detail, outside, "date_outside_period", f"date outside the file's period {span}: " + out["date"]
            )
    if reviewed is not None and labels_required:
        pending, why = pending_lines(raw, reviewed)
        _mark(rule, detail, pending, PENDING_RULE, why)
    code_header = next((h for h, c in mapping.items() if c == "account_code"), None)
    if code_header is not None and labels_required:
        lines = rule.isna() & count.gt(0)
        vendor_like = "거래처" in code_header or "vendor" in code_header.lower()
        check_account_codes(report.url, code_header, raw.loc[lines, code_header], chart, vendor_like)
    out["line_rule"], out["line_detail"] = rule, detail
    used = set(mapping) | {parts[p] for parts in sided.values() for p in parts}
    layout_report = FileLayout(
        url=report.url,
        mapping=mapping,
        sided=sided,
        notes={h: note for h, note in (matched.notes | sided_notes).items() if h in used},
        unmapped=[h for h in headers if h not in used and h not in left_out],
        generated=[h for h in reviewed.generated if h != reviewed.confirmed] if reviewed else [],
        personal=left_out,
        period=(f"{period[0]:%Y-%m-%d}", f"{period[1]:%Y-%m-%d}") if period else None,
        account_blocks=int(blocks["block"].sum()),
        line_rules={str(k): int(v) for k, v in rule.value_counts().items()},
    )
    return out, layout_report
