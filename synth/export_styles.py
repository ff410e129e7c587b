"""The export styles of synth.exports by name, with their usual file extension and default number of lines.

No heavy imports here: the CLI reads the names to build its parser."""

# style -> (file extension, default number of ledger lines)
STYLE_FILES: dict[str, tuple[str, int]] = {
    "journal-two-amounts": (".csv", 60),
    "journal-paged": (".csv", 120),
    "ledger-by-account": (".xlsx", 60),
    "bank-statement": (".csv", 60),
    "card-approvals": (".xlsx", 60),
    "html-xls": (".xls", 60),
    "cover-sheet": (".xlsx", 60),
    "simple-book": (".xlsx", 60),
    "xls-biff": (".xls", 60),
    "web-erp": (".csv", 60),
    "semusarang-ledger": (".xlsx", 60),
    "signed-tsv": (".txt", 60),
    "numbered-headers": (".csv", 60),
    "suffixed-headers": (".xlsx", 60),
    "income-expense-book": (".xlsx", 60),
}
STYLES: tuple[str, ...] = tuple(STYLE_FILES)
EXTENSIONS: dict[str, str] = {style: ext for style, (ext, _) in STYLE_FILES.items()}
DEFAULT_LINES: dict[str, int] = {style: n for style, (_, n) in STYLE_FILES.items()}
