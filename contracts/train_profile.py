"""What the training lines looked like, kept beside every model (an LLM run's final/, a baseline folder): the train
split's vendors and how often each column held a value. Prediction compares a new ledger against both: a vendor
never seen goes to review, a column the model learned from and the new file lacks is named in the summary."""

import json
import shutil
from pathlib import Path

import pandas as pd

TRAIN_VENDORS_FILE = "train_vendors.json"
TRAIN_COLUMNS_FILE = "train_columns.json"
TRAIN_PROFILE_FILES = (TRAIN_VENDORS_FILE, TRAIN_COLUMNS_FILE)
NOT_FEATURES = ("split", "label", "account_code", "account_name", "sub_code", "row_id", "row_digest")


def normalize_vendors(values: pd.Series) -> pd.Series:
    """The same vendor however it was typed: case, surrounding and repeated spaces, (주) / ㈜ / 주식회사."""
    text = values.astype("str").str.strip().str.casefold()
    text = text.str.replace(r"\(주\)|㈜|주식회사", "", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    return text.where(values.notna() & text.ne(""))


def write_train_vendors(vendors: pd.Series, folder: str | Path) -> Path:
    path = Path(folder) / TRAIN_VENDORS_FILE
    known = sorted(set(normalize_vendors(vendors).dropna()))
    path.write_text(json.dumps(known, ensure_ascii=False), encoding="utf-8")
    return path


def read_train_vendors(folder: str | Path) -> set[str] | None:
    """The train split's vendors (normalised), or None when the model was trained without a vendor column."""
    path = Path(folder) / TRAIN_VENDORS_FILE
    return set(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def fill_shares(frame: pd.DataFrame) -> dict[str, float]:
    """Per column, the share of lines with a value (a blank text counts as none), rounded to 4 places."""
    columns = [c for c in frame.columns if c not in NOT_FEATURES]
    filled = frame[columns].notna()
    texts = [
        c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    for column in texts:
        filled[column] &= frame[column].astype("string").str.strip().ne("").fillna(False)
    return {c: round(float(filled[c].mean()), 4) if len(frame) else 0.0 for c in columns}


def write_train_columns(frame: pd.DataFrame, folder: str | Path) -> Path:
    path = Path(folder) / TRAIN_COLUMNS_FILE
    path.write_text(json.dumps(fill_shares(frame), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_train_columns(folder: str | Path) -> dict[str, float] | None:
    """Each column's share of training lines with a value, or None for a model saved before this file existed."""
    path = Path(folder) / TRAIN_COLUMNS_FILE
    return (
        {str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()} if path.exists() else None
    )


def copy_train_profile(source: str | Path, destination: str | Path) -> None:
    """The profile's files that exist in `source` (no vendors file without a vendor column), into `destination`."""
    for name in TRAIN_PROFILE_FILES:
        if (Path(source) / name).exists() and not (Path(destination) / name).exists():
            shutil.copy(Path(source) / name, Path(destination) / name)


def columns_lost(
    trained: dict[str, float], found: dict[str, float], shown: list[str]
) -> list[tuple[str, float, float]]:
    """The `shown` columns (the text template's, in its order) that most training lines held and that the new
    lines hold less than half as often: (column, training share, new share)."""
    return [
        (c, trained[c], found.get(c, 0.0))
        for c in shown
        if trained.get(c, 0.0) >= 0.5 and found.get(c, 0.0) < trained[c] / 2
    ]
