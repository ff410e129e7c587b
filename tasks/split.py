"""Label slots (stable ids across retrains) and the stratified train / valid / test split."""

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from pydantic import BaseModel

from contracts.label_map import LabelMap, LabelSlot
from contracts.train_profile import write_train_columns, write_train_vendors
from ledger.account_names import code_names
from ledger.errors import ExpectedError, ParameterError
from ledger.frames import OutputPath, StageResult, parquet_columns, read_frame, sha256_file, write_frame
from ledger.work_store import WorkDir, on_store
from params.prepare import LabelParams, SplitParams
from schemas import selected_schema, split_schema
from tasks.caching import STAGE


class LabelMapFile(BaseModel):
    path: OutputPath
    fingerprint: str
    num_slots: int
    used: int
    new_codes: list[str]


class OutOfSlotsError(ExpectedError, ValueError):
    """More account codes than label slots."""

    hint = "raise labels.num_slots (a new label map), or train on fewer accounts"


def upsert_labels(codes: dict[str, str], params: LabelParams, previous: LabelMap | None) -> tuple[LabelMap, list[str]]:
    """Known codes keep their ids; new codes take the lowest free slots, in code order."""
    slots = {s.code: s for s in previous.labels} if previous else {}
    num_slots = max(params.num_slots, previous.num_slots if previous else 0)
    new = sorted(c for c in codes if c not in slots)
    needed = len(slots) + len(new)
    if needed > num_slots:
        raise OutOfSlotsError(
            f"{needed} account codes need label slots ({len(slots)} known + {len(new)} new) but there are only "
            f"{num_slots}; set labels.num_slots >= {needed} (the head is rebuilt, so retrain from the base model)"
        )
    used = {s.id for s in slots.values()}
    free = (i for i in range(num_slots) if i not in used)
    for code in new:
        slots[code] = LabelSlot(id=next(free), code=code, name=codes[code])
    ordered = sorted(slots.values(), key=lambda s: s.id)
    return LabelMap(num_slots=num_slots, dummy_prefix=params.dummy_prefix, labels=ordered), new


@task(**STAGE)
@on_store
def assign_label_slots(selected: StageResult, params: LabelParams, work_dir: WorkDir) -> LabelMapFile:
    """Give every account code a stable head slot, keeping the ids of an earlier label map."""
    df = read_frame(selected.data, selected_schema(parquet_columns(selected.data.path)), "selected features")
    previous = LabelMap.read(params.label_map) if params.label_map else None
    label_map, new = upsert_labels(code_names(df), params, previous)
    folder = Path(work_dir) / "labels"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = label_map.write(folder / "label_map.json.tmp")
    fingerprint = sha256_file(tmp)[:20]
    path = folder / f"label_map-{fingerprint}.json"
    tmp.replace(path)
    return LabelMapFile(
        path=str(path),
        fingerprint=fingerprint,
        num_slots=label_map.num_slots,
        used=len(label_map.labels),
        new_codes=new,
    )


def assign_splits(labels: pd.Series, params: SplitParams) -> tuple[pd.Series, pd.Series]:
    """Per-class shuffled ranks -> (kept by sampling, split name); classes too small stay in train."""
    rng = np.random.default_rng(params.seed)
    order = pd.DataFrame({"label": labels.to_numpy(), "r": rng.random(len(labels))}, index=labels.index)
    order = order.sort_values(["label", "r"])
    rank = order.groupby("label").cumcount()
    size = order.groupby("label")["label"].transform("size")
    kept = rank < np.ceil(size * params.sample_fraction)
    size = np.ceil(size * params.sample_fraction).astype("int64")
    n_test = np.where(params.test > 0, np.maximum(1, np.round(size * params.test)), 0)
    n_valid = np.where(params.valid > 0, np.maximum(1, np.round(size * params.valid)), 0)
    # a class must be able to give every split a row and keep one for training
    rare = size < max(params.min_class_rows, 1 + (params.test > 0) + (params.valid > 0))
    split = np.where(rank < n_test, "test", np.where(rank < n_test + n_valid, "valid", "train"))
    split = pd.Series(np.where(rare, "train", split), index=order.index)
    return kept.reindex(labels.index), split.reindex(labels.index)


@task(**STAGE)
@on_store
def split_dataset(selected: StageResult, labels: LabelMapFile, params: SplitParams, work_dir: WorkDir) -> StageResult:
    """Stratified, seeded train / valid / test split (and optional sample) with rare classes kept in train."""
    df = read_frame(selected.data, selected_schema(parquet_columns(selected.data.path)), "selected features")
    code_to_id = LabelMap.read(labels.path).code_to_id()
    df["label"] = df["account_code"].map(code_to_id).astype("int64")
    kept, split = assign_splits(df["label"], params)
    holdout, how = time_holdout(df["date"] if "date" in df.columns else None, params)
    if holdout is not None:
        split = time_splits(df["label"], holdout, params)
    df["split"] = split
    sizes = df[kept]["account_code"].value_counts()
    rare = sizes[sizes < max(params.min_class_rows, 1 + (params.test > 0) + (params.valid > 0))]
    df = df[kept]
    data = write_frame(df, split_schema(list(df.columns)), work_dir, "split")
    report = {
        "rows": {s: int(n) for s, n in df["split"].value_counts().items()},
        "sampled_out": int((~kept).sum()),
        "classes": int(sizes.size),
        "rare_classes_in_train_only": {str(k): int(v) for k, v in rare.items()} if holdout is None else {},
        "by": how,
    }
    return StageResult(data=data, report=report)


def time_holdout(dates: pd.Series | None, params: SplitParams) -> tuple[pd.Series | None, dict]:
    """The lines of the newest months, held out for valid and test (None: split at random), and how it was decided:
    the newest months are taken until they hold `holdout_min_rows` lines, never more than half of the ledger."""
    how: dict = {"by": "random"}
    if params.by == "random":
        return None, how | {"reason": "split.by=random"}
    months = pd.to_datetime(dates, errors="coerce").dt.to_period("M") if dates is not None else None
    spanned = 0 if months is None else months.nunique()
    if months is None or spanned < (2 if params.by == "time" else params.min_months):
        reason = "no date column" if months is None else f"{spanned} month(s) of lines, fewer than split.min_months"
        if params.by == "time":
            raise ParameterError(f"split.by=time needs lines from at least 2 months ({reason}); set split.by=random")
        return None, how | {"reason": reason + f" ({params.min_months})"}
    per_month = months.value_counts().sort_index(ascending=False)
    taken = int(np.searchsorted(per_month.cumsum().to_numpy(), params.holdout_min_rows) + 1)
    held = per_month.iloc[: min(taken, len(per_month) - 1)]
    if held.sum() * 2 > len(months.dropna()):
        reason = f"the newest months holding {params.holdout_min_rows:,} lines are over half of the ledger"
        if params.by == "time":
            raise ParameterError(f"split.by=time: {reason}; lower split.holdout_min_rows or set split.by=random")
        return None, how | {"reason": reason}
    holdout = months.isin(held.index)
    train_months = per_month.index.difference(held.index)
    return holdout, {
        "by": "time",
        "holdout_months": [str(m) for m in sorted(held.index)],
        "train_months": [str(train_months.min()), str(train_months.max())],
        "undated": int(months.isna().sum()),
    }


def split_basis(how: dict) -> str:
    """In words: how the lines were split, for the terminal and the UI."""
    if how.get("by") == "time":
        first, last = how["train_months"]
        held = how["holdout_months"]
        months = held[0] if len(held) == 1 else f"{held[0]}..{held[-1]}"
        return f"by time: train {first}..{last}, valid and test {months} (months the model does not see)"
    return f"at random, stratified by code ({how.get('reason', '')})"


def time_splits(labels: pd.Series, holdout: pd.Series, params: SplitParams) -> pd.Series:
    """Earlier months (and undated lines) train; the held-out lines valid and test in the valid : test ratio,
    stratified by code and seeded."""
    rng = np.random.default_rng(params.seed)
    test_share = params.test / (params.valid + params.test) if params.valid + params.test else 0.0
    held = pd.DataFrame({"label": labels[holdout].to_numpy(), "r": rng.random(int(holdout.sum()))},
                        index=labels.index[holdout]).sort_values(["label", "r"])  # fmt: skip
    rank = held.groupby("label").cumcount()
    size = held.groupby("label")["label"].transform("size")
    split = pd.Series("train", index=labels.index, dtype="str")
    split[held.index] = np.where(rank < np.round(size * test_share), "test", "valid")
    return split


@task(**STAGE)
@on_store
def save_train_profile(split: StageResult, work_dir: WorkDir) -> OutputPath:
    """What the train split looked like (contracts.train_profile): its vendors (normalised; prediction sends a line
    with a vendor never seen to review) and each column's share of lines with a value (prediction names the columns
    a new ledger lacks)."""
    df = read_frame(split.data, split_schema(parquet_columns(split.data.path)), "split output")
    train = df[df["split"].eq("train")]
    folder = Path(work_dir) / "stages" / "train-profile" / split.data.fingerprint[:16]
    folder.mkdir(parents=True, exist_ok=True)
    if "vendor" in train:
        write_train_vendors(train["vendor"], folder)
    write_train_columns(train, folder)
    return str(folder)
