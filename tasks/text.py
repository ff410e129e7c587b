"""Text serialization: each row becomes one text from the template in conf/; only text and label leave."""

import functools
import operator

import numpy as np
import pandas as pd
from prefect import task

from ledger.conf import load_yaml
from ledger.errors import ConfFileError
from ledger.frames import StageResult, parquet_columns, read_frame, write_frame
from ledger.work_store import WorkDir, on_store
from params.prepare import TextParams
from schemas import TextFrame, split_schema
from tasks.caching import STAGE


def with_thousands(values: pd.Series) -> pd.Series:
    """1234567.0 -> '1,234,567' without a per-row Python call (rounded to whole units)."""
    n = values.round().astype("Int64")
    rest = n.abs()
    text = (rest % 1000).astype("str").str.zfill(3)
    rest = rest // 1000
    while bool((rest > 0).fillna(False).any()):
        more = (rest > 0).fillna(False)
        text = text.where(~more, (rest % 1000).astype("str").str.zfill(3) + "," + text)
        rest = rest // 1000
    text = text.str.replace(r"^0+(?=\d)", "", regex=True)  # every group was padded: unpad the first
    return ("-" + text).where(n < 0, text).where(n.notna())


def format_column(col: pd.Series, kind: str, template: dict, words: dict | None = None) -> pd.Series:
    """Display text of one column by kind; missing stays missing. A flag's words may be the field's own."""
    if kind == "amount":
        return with_thousands(col) + template.get("amount_unit", "")
    if kind == "date":
        return col.dt.strftime("%Y-%m-%d").where(col.notna())
    if kind == "flag":
        words = template["flag_words"] if words is None else words
        return col.map({True: words.get(True, ""), False: words.get(False, "")}).astype("str")
    if kind == "weekday":
        return col.map(dict(enumerate(template["weekday_names"]))).astype("str")
    if kind == "number":
        return col.astype("str").where(col.notna())
    return col.astype("str")


def serialize(df: pd.DataFrame, template: dict) -> pd.Series:
    """'일자: 2024-01-05 | 거래처: 쿠팡 | 적요: 사무용품 구입 | 금액: 11,000원 | ...' per row.

    A field without a label shows its value alone; a blank value (or a flag word left empty) leaves the field out.
    """
    sep, kv = template["separator"], template["key_value"]
    parts = []
    for field in template["fields"]:
        if field["column"] not in df.columns:
            continue
        shown = format_column(df[field["column"]], field["kind"], template, field.get("words"))
        shown = shown.where(shown != "")
        prefix = field["label"] + kv if field.get("label") else ""
        parts.append((prefix + shown + sep).fillna(""))
    text = functools.reduce(operator.add, parts) if parts else pd.Series("", index=df.index, dtype="str")
    return text.astype("str").str.slice(0, -len(sep) if sep else None)


@task(**STAGE)
@on_store
def serialize_text(split: StageResult, params: TextParams, work_dir: WorkDir) -> StageResult:
    """Turn every row into one text by the template; only split, text and label are kept."""
    df = read_frame(split.data, split_schema(parquet_columns(split.data.path)), "split output")
    template = load_yaml(params.template)
    label_columns = {"account_code", "account_name", "label"}
    leaked = [f["column"] for f in template["fields"] if f["column"] in label_columns]
    if leaked:
        raise ConfFileError(
            f"text template {params.template} shows label columns {leaked}: the model would see the answer"
        )
    out = pd.DataFrame({"split": df["split"], "text": serialize(df, template), "label": df["label"]})
    empty = out["text"].str.len().fillna(0) == 0
    if empty.any():
        raise ConfFileError(f"text template {params.template} produced empty texts for {int(empty.sum())} rows")
    lengths = out["text"].str.len()
    report = {
        "chars_p50": float(np.percentile(lengths, 50)),
        "chars_max": int(lengths.max()),
        "example": out["text"].iloc[0],
    }
    return StageResult(data=write_frame(out, TextFrame, work_dir, "text"), report=report)


@task(**STAGE)
@on_store
def leave_out_fields(texts: StageResult, split: StageResult, params: TextParams, work_dir: WorkDir) -> StageResult:
    """`text.leave_out` of the train lines written again without one of the template's leave_out_groups; the texts
    keep their order (the mis-posting table's positions still hold), valid and test keep every field."""
    if not params.leave_out:
        return texts
    df = read_frame(split.data, split_schema(parquet_columns(split.data.path)), "split output")
    out = read_frame(texts.data, TextFrame, "text output")
    template = load_yaml(params.template)
    groups = [[c for c in group if c in df.columns] for group in template.get("leave_out_groups", [])]
    groups = [group for group in groups if group]
    if not groups:
        return StageResult(data=texts.data, report={**texts.report, "left_out": {}})
    rng = np.random.default_rng(params.seed)
    train = np.flatnonzero(df["split"].eq("train").to_numpy())
    chosen = rng.choice(train, size=round(params.leave_out * len(train)), replace=False)
    which = rng.integers(len(groups), size=len(chosen))
    left_out = {}
    for g, group in enumerate(groups):
        rows = np.sort(chosen[which == g])
        poorer = df.iloc[rows].copy()
        poorer[group] = None  # missing: serialize leaves the field out
        written = serialize(poorer, template).to_numpy()
        # a line whose other fields are all blank keeps its text: an empty text trains nothing
        rows, written = rows[written != ""], written[written != ""]
        changed = written != out["text"].to_numpy()[rows]
        out.loc[out.index[rows], "text"] = written
        left_out[" + ".join(group)] = int(changed.sum())
    data = write_frame(out, TextFrame, work_dir, "text")
    return StageResult(data=data, report={**texts.report, "left_out": left_out})


def left_out_line(report: dict) -> str | None:
    """The terminal's and the dataset report's line on the train texts leave_out_fields wrote poorer."""
    if not (left := report.get("left_out")):
        return None
    groups = ", ".join(f"without {group} {n:,}" for group, n in left.items())
    return f"train lines written without one field group (text.leave_out): {groups}"
