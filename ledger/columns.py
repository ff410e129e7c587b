"""The canonical ledger columns: one source, conf/columns.yaml, for header matching and required values.

A column marked `required: true` must be a header of every file and non-blank in every row; `required: label`
only for training data (rows to classify carry no code).
"""

from ledger.conf import load_yaml
from ledger.readers import FileReport, normalize_header
from params.prepare import IngestParams

# The stages compute with these (calendar and amount features): a conf may not make them optional.
ALWAYS_REQUIRED = ("date", "amount")


def column_spec(params: IngestParams) -> dict[str, dict]:
    """The canonical columns of conf/columns.yaml (or the file `ingest.columns_conf` names)."""
    return load_yaml(params.columns_conf)["columns"]


def known_headers(spec: dict[str, dict]) -> set[str]:
    return {normalize_header(a) for col in spec.values() for a in col["aliases"]} | {normalize_header(c) for c in spec}


def match_columns(headers: list[str], spec: dict[str, dict]) -> dict[str, str]:
    """Raw header -> canonical name; the first alias listed wins when a file has two spellings."""
    by_spelling = {normalize_header(h): h for h in reversed(headers)}
    mapping: dict[str, str] = {}
    for canonical, col in spec.items():
        for alias in [canonical, *col["aliases"]]:
            header = by_spelling.get(normalize_header(alias))
            if header is not None and header not in mapping:
                mapping[header] = canonical
                break
    return mapping


def missing_required(report: FileReport, spec: dict[str, dict], labels_required: bool) -> list[str]:
    """Errors for required columns no header of this file matches, naming the aliases tried."""
    found = set(match_columns(report.headers, spec).values())
    problems = []
    for canonical, col in spec.items():
        if canonical in required_columns(spec, labels_required) and canonical not in found:
            problems.append(f"required column '{canonical}' not found (aliases tried: {col['aliases']})")
    return problems


def required_columns(spec: dict[str, dict], labels_required: bool) -> list[str]:
    """Columns every row must fill, in conf order; an error when the conf makes date or amount optional."""
    required = [
        c for c, col in spec.items() if col["required"] is True or (col["required"] == "label" and labels_required)
    ]
    if missing := [c for c in ALWAYS_REQUIRED if c not in required]:
        raise ValueError(f"columns conf: {missing} must be `required: true` (every ledger line has a date and amount)")
    return required
