"""The suspected mis-postings table: one row per suspected line (file, line, what it says, the code as written and
the suggested one with their probabilities, where it went), kept as Parquet and opened by an accountant as xlsx
with Korean headers (conf/misposting_output.yaml) and an empty 확정 계정코드 column to confirm or correct."""

from pathlib import Path

import pandas as pd

from ledger.spreadsheet import escape_formulas

SHOWN = ["date", "vendor", "description", "amount"]
# what happens to a suspected line, by split and the train_rows setting
HANDLING = {"exclude": "excluded", "keep": "kept", "relabel": "relabelled"}
HELD_OUT = {"valid": "set_aside", "test": "reported"}


def suspects_table(
    lines: pd.DataFrame, suspects: pd.DataFrame, names: dict[int, tuple[str, str]], train_rows: str
) -> pd.DataFrame:
    """`lines`: the labelled lines (row_id, source_file, source_row, row_digest, split, the SHOWN columns present);
    `suspects`: position (into `lines`), label, suggested, p_written, p_suggested, rank; `names`: slot ->
    (code, name)."""
    picked = lines.iloc[suspects["position"].to_numpy()].reset_index(drop=True)
    code = {slot: pair[0] for slot, pair in names.items()}
    name = {slot: pair[1] for slot, pair in names.items()}
    split = picked["split"].astype("str")
    table = pd.DataFrame(
        {
            "rank": suspects["rank"].to_numpy(),
            "row_id": picked["row_id"].to_numpy(),
            "source_file": picked["source_file"].to_numpy(),
            "source_row": picked["source_row"].to_numpy(),
            "row_digest": picked["row_digest"].astype("str").to_numpy(),  # text: Excel keeps only 15 digits
            "split": split.to_numpy(),
            **{c: picked[c].to_numpy() for c in SHOWN if c in picked.columns},
            "written_code": suspects["label"].map(code).to_numpy(),
            "written_name": suspects["label"].map(name).to_numpy(),
            "p_written": suspects["p_written"].round(4).to_numpy(),
            "suggested_code": suspects["suggested"].map(code).to_numpy(),
            "suggested_name": suspects["suggested"].map(name).to_numpy(),
            "p_suggested": suspects["p_suggested"].round(4).to_numpy(),
            "handling": split.map(HELD_OUT).fillna(HANDLING[train_rows]).to_numpy(),
            "confirmed_code": pd.Series([None] * len(picked), dtype="str").to_numpy(),
        }
    )
    return table.sort_values("rank", kind="stable").reset_index(drop=True)


def pair_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Suspected lines by (written -> suggested) account pair, most frequent first."""
    keys = ["written_code", "written_name", "suggested_code", "suggested_name"]
    pairs = table.groupby(keys, dropna=False).size().reset_index(name="lines")
    return pairs.sort_values(["lines", "written_code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def localize(table: pd.DataFrame, words: dict) -> pd.DataFrame:
    """Korean headers and words; the stored row_id stays out of the accountant's file."""
    out = table.drop(columns=["row_id"], errors="ignore").copy()
    for column, values in words["values"].items():
        if column in out:
            out[column] = out[column].map(values).fillna(out[column])
    return out.rename(columns=words["headers"])


def write_suspects_xlsx(table: pd.DataFrame, summary: list[tuple[str, str]], path: Path, words: dict) -> Path:
    """Sheets: the suspects, most suspicious first (the column to fill in amber), and a summary with the pairs."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    shown = localize(table, words)
    pairs = pair_counts(table).rename(columns=words["headers"]).rename(columns={"lines": "행 수"})
    sheets = words["sheets"]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        escape_formulas(shown).to_excel(writer, sheet_name=sheets["suspects"], index=False)
        about = pd.DataFrame([*summary, ("입력 방법", words["howto"])], columns=["항목", "값"])
        about.to_excel(writer, sheet_name=sheets["summary"], index=False)
        escape_formulas(pairs).to_excel(writer, sheet_name=sheets["summary"], index=False, startrow=len(about) + 2)
        sheet = writer.sheets[sheets["suspects"]]
        sheet.freeze_panes = "A2"
        last = get_column_letter(max(1, shown.shape[1]))
        sheet.auto_filter.ref = f"A1:{last}{max(2, len(shown) + 1)}"
        fill = PatternFill(start_color=words["review_fill"], end_color=words["review_fill"], fill_type="solid")
        for index, column in enumerate(shown.columns, start=1):
            sheet.cell(row=1, column=index).font = Font(bold=True)
            sheet.column_dimensions[get_column_letter(index)].width = min(max(len(str(column)) * 2, 8), 40)
            if column == words["headers"]["confirmed_code"]:
                for row in range(1, len(shown) + 2):
                    sheet.cell(row=row, column=index).fill = fill
        writer.sheets[sheets["summary"]].column_dimensions["A"].width = 30
        writer.sheets[sheets["summary"]].column_dimensions["B"].width = 80
    return path
