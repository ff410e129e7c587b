"""The prediction file an accountant opens: the ledger's own columns, then the predicted codes and the decision,
with Korean headers and words (conf/prediction_output.yaml); in xlsx the review lines stand out and have their own
sheet, sorted by confidence, and a summary sheet says what the figures mean."""

import re
from pathlib import Path

import pandas as pd

from ledger.spreadsheet import escape_formulas

RANKED = re.compile(r"^pred(\d+)_(code|name|prob)$")


def localize(table: pd.DataFrame, words: dict) -> pd.DataFrame:
    """Generated columns renamed and their values put in words; the user's own columns untouched."""
    out = table.copy()
    values = words["values"]
    for column in ("decision", "label_check"):
        if column in out:
            out[column] = out[column].map(values[column]).fillna(out[column])
    if "review_reason" in out:
        reasons = out["review_reason"].fillna("")
        for code, text in values["review_reason"].items():
            reasons = reasons.str.replace(rf"\b{code}\b", text, regex=True)
        out["review_reason"] = reasons.str.replace(";", words["reason_separator"], regex=False)
    names = {}
    for column in out.columns:
        if match := RANKED.match(str(column)):
            names[column] = words["headers"][f"pred_{match.group(2)}"].format(rank=match.group(1))
        elif column in words["headers"]:
            names[column] = words["headers"][column]
    return out.rename(columns=names)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    escape_formulas(table).to_csv(path, index=False, encoding="utf-8-sig")  # BOM: Excel reads the Hangul right


def write_xlsx(
    table: pd.DataFrame, review: pd.DataFrame, summary: list[tuple[str, str]], path: Path, words: dict,
    localized: bool = True,
) -> None:  # fmt: skip
    """Sheets: every line (review lines filled), the review lines alone (least confident first), the summary.
    `localized`: the tables carry the Korean headers and words (else the stored column names and codes)."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheets = words["sheets"]
    decision_header = words["headers"]["decision"] if localized else "decision"
    review_word = words["values"]["decision"]["review"] if localized else "review"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        escape_formulas(table).to_excel(writer, sheet_name=sheets["all"], index=False)
        escape_formulas(review).to_excel(writer, sheet_name=sheets["review"], index=False)
        pd.DataFrame(summary, columns=["항목", "값"]).to_excel(writer, sheet_name=sheets["summary"], index=False)
        fill = PatternFill(start_color=words["review_fill"], end_color=words["review_fill"], fill_type="solid")
        for name, frame in ((sheets["all"], table), (sheets["review"], review)):
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            last = get_column_letter(max(1, frame.shape[1]))
            sheet.auto_filter.ref = f"A1:{last}{max(2, len(frame) + 1)}"
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for index, column in enumerate(frame.columns, start=1):
                width = max(len(str(column)) * 2, 8)  # Hangul is about two Latin characters wide
                sheet.column_dimensions[get_column_letter(index)].width = min(width, 40)
            if decision_header in frame.columns and len(frame):
                col = get_column_letter(list(frame.columns).index(decision_header) + 1)
                rule = FormulaRule(formula=[f'${col}2="{review_word}"'], fill=fill)
                sheet.conditional_formatting.add(f"A2:{last}{len(frame) + 1}", rule)
        writer.sheets[sheets["summary"]].column_dimensions["A"].width = 40
        writer.sheets[sheets["summary"]].column_dimensions["B"].width = 60
