"""The data-quality report's tables a user reads: each file's column mapping, values no map knows, files left
out, card cancellations (pure: markdown lines from plain data)."""


def file_layouts(metadata: dict) -> list[dict]:
    """Per file: what was read (format, sheet, header rows) and how its headers were mapped."""
    layouts = {layout["url"]: layout for layout in metadata.get("layouts", [])}
    out = []
    for f in metadata["files"]:
        layout = layouts.get(f["url"], {})
        sided = {h["amount"]: f"amount ({side})" for side, h in layout.get("sided", {}).items()}
        sided |= {h["vat"]: f"vat ({side})" for side, h in layout.get("sided", {}).items() if "vat" in h}
        out.append(
            {
                "url": f["url"],
                "format": f["format"],
                "sheet": f.get("sheet"),
                "header_rows": f.get("header_rows", [f["header_row"]]),
                "mapping": {**layout.get("mapping", {}), **sided},
                "unmapped": layout.get("unmapped", []),
                "personal": layout.get("personal", {}),
                "generated": layout.get("generated", []),
                "period": layout.get("period"),
            }
        )
    return out


def mapping_markdown(files: list[dict]) -> list[str]:
    """The column-mapping table of each file, and the headers left unmapped."""
    lines = [
        "",
        "## Column mapping",
        "| file | sheet | header rows | original header | column |",
        "|---|---|---|---|---|",
    ]
    for f in files:
        name = f["url"].rsplit("/", 1)[-1]
        rows = ", ".join(map(str, f["header_rows"]))
        for i, (header, column) in enumerate(f["mapping"].items()):
            lines.append(f"| {name if i == 0 else ''} | {(f['sheet'] or '') if i == 0 else ''} | "
                         f"{rows if i == 0 else ''} | {header} | {column} |")  # fmt: skip
        for header in f["unmapped"]:
            lines.append(f"|  |  |  | {header} | (not mapped) |")
        for header, kind in f.get("personal", {}).items():
            lines.append(f"|  |  |  | {header} | (left out: holds only personal data, {kind}) |")
        for header in f.get("generated", []):
            lines.append(f"|  |  |  | {header} | (written by predict: not a feature) |")
    return lines


def personal_notes(found: dict, files: list[dict]) -> dict[str, str]:
    """Per column holding only personal data: what became of it (left out, kept masked, not a feature)."""
    left_out = {h for f in files for h in f.get("personal", {})}
    mapped = {h: c for f in files for h, c in f["mapping"].items()}
    notes = {}
    for header, findings in found.get("columns", {}).items():
        if kind := findings.get("holds_only"):
            what = "left out of features and texts" if header in left_out else (
                f"kept as {mapped[header]} (privacy.keep_columns)" if header in mapped else "not a feature"
            )  # fmt: skip
            notes[header] = f"holds only {kind}: {what}"
    return notes


def masking_warning(found: dict) -> str | None:
    """The summary's warning when masking was turned off."""
    if not found or found.get("masked", True):
        return None
    kinds = ", ".join(f"{k} {n:,}" for k, n in found.get("kinds", {}).items()) or "none found"
    return (
        f"privacy.mask is off: personal data stays in clear in every stage file, text, model, report and log "
        f"({kinds} cells)"
    )


def personal_markdown(found: dict, files: list[dict]) -> list[str]:
    """Cells of personal data per column and kind (counts, never values), and what became of dedicated columns."""
    if not found.get("columns") and found.get("masked", True):
        return []
    lines = ["", "## Personal data " + ("(masked before anything was written)" if found.get("masked", True) else
             "(NOT masked: privacy.mask is off)")]  # fmt: skip
    if warning := masking_warning(found):
        lines += ["", f"**Warning**: {warning}"]
    notes = personal_notes(found, files)
    lines += ["| column | kind | cells | column holds |", "|---|---|---|---|"]
    for header, findings in found.get("columns", {}).items():
        for kind, n in findings["cells"].items():
            lines.append(
                f"| {header} | {kind} | {n:,} | {notes.get(header, 'other data too: values masked in place')} |"
            )
    return lines


def personal_terminal_lines(found: dict, files: list[dict]) -> list[str]:
    """The same in a line per column for the terminal, and the warning when masking is off."""
    verb = "masked" if found.get("masked", True) else "NOT masked"
    notes = personal_notes(found, files)
    lines = []
    for header, findings in found.get("columns", {}).items():
        kinds = ", ".join(f"{k} {n:,}" for k, n in findings["cells"].items())
        note = f" ({notes[header]})" if header in notes else ""
        lines.append(f"{verb:<12} {header}: {kinds}{note}")
    if warning := masking_warning(found):
        lines.append(f"WARNING      {warning}")
    return lines


def quality_markdown(unmapped_values: dict, files_left_out: list[dict], cancellations: dict) -> list[str]:
    """Values no map knows, files left out, card cancellations: what the user should look at."""
    lines = []
    if unmapped_values:
        lines += ["", "## Values no map knows (kept, mapped to the column's catch-all)", "| column | value | rows |"]
        lines += ["|---|---|---|"]
        for column, values in unmapped_values.items():
            lines += [f"| {column} | {value} | {rows:,} |" for value, rows in values.items()]
    if files_left_out:
        lines += ["", "## Files left out", "| file | reason |", "|---|---|"]
        lines += [f"| {f['url']} | {f['reason']} |" for f in files_left_out]
    if cancellations.get("lines"):
        c = cancellations
        lines += ["", f"Card cancellations kept as negative lines: {c['lines']:,} ({c['tied_to_approval']:,} tied to "
                  f"their approval by 승인번호; rows without one: {c['untied_rows']})"]  # fmt: skip
    return lines


def terminal_lines(files: list[dict], unmapped_values: dict[str, dict[str, int]], shown: int = 5) -> list[str]:
    """The same for the terminal, a line or two per file: what was read and mapped, and the values no map knows."""
    lines = []
    for f in files:
        where = f" sheet {f['sheet']}," if f.get("sheet") else ""
        rows = "-".join(map(str, f["header_rows"]))
        lines.append(f"file         {f['url'].rsplit('/', 1)[-1]} ({f['format']},{where} header row {rows})")
        lines.append("  columns    " + ", ".join(f"{h} -> {c}" for h, c in f["mapping"].items()))
        if f["unmapped"]:
            lines.append("  not mapped " + ", ".join(f["unmapped"]))
        if f.get("generated"):
            ours = ", ".join(f["generated"])
            lines.append(f"  reviewed   a prediction file given back: its own columns are no features ({ours})")
    for column, values in unmapped_values.items():
        examples = ", ".join(f"{v} ({n:,})" for v, n in list(values.items())[:shown])
        more = f" and {len(values) - shown} more" if len(values) > shown else ""
        lines.append(f"unknown      {column}: {examples}{more} (kept; add spellings to conf/value_maps.yaml)")
    return lines


def with_spelling_notes(files: list[dict], metadata: dict) -> list[dict]:
    """Each file's mapping with why a header matched once loosened (conf header_rules), beside its column as the
    side of a per-side amount is: 적요란 -> description (by suffix 란), 수입(원)금액 -> amount (입금, by dropping
    (원))."""
    notes = {layout["url"]: layout.get("notes", {}) for layout in metadata.get("layouts", [])}
    out = []
    for f in files:
        mapping = dict(f["mapping"])
        for header, note in notes.get(f["url"], {}).items():
            if header in mapping:
                column = mapping[header]
                mapping[header] = f"{column[:-1]}, {note})" if column.endswith(")") else f"{column} ({note})"
        out.append({**f, "mapping": mapping})
    return out
