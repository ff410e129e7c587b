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
    for column, values in unmapped_values.items():
        examples = ", ".join(f"{v} ({n:,})" for v, n in list(values.items())[:shown])
        more = f" and {len(values) - shown} more" if len(values) > shown else ""
        lines.append(f"unknown      {column}: {examples}{more} (kept; add spellings to conf/value_maps.yaml)")
    return lines
