"""Label slots (ids stable across retrains) and the seeded, stratified train / valid / test split."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from contracts.label_map import LabelMap, LabelSlot
from ledger.frames import StageResult, read_frame, write_frame
from params.prepare import LabelParams, SplitParams
from schemas import selected_schema
from tasks.split import (
    OutOfSlotsError,
    assign_label_slots,
    assign_splits,
    code_names,
    split_dataset,
    upsert_labels,
)

NAMES = {"811": "복리후생비", "814": "통신비", "830": "소모품비", "999": "신규계정"}


def selected_stage(work_dir: str, codes: list[str], names: list[str] | None = None) -> StageResult:
    """A StageResult holding selected feature rows with the given account codes (the input of label/split)."""
    n = len(codes)
    df = pd.DataFrame(
        {
            "row_id": range(n),
            "source_file": "file:///ledger.csv",
            "source_row": range(2, n + 2),
            "date": pd.Timestamp("2024-01-05"),
            "vendor": "쿠팡",
            "description": "사무용품 구입",
            "amount": 11000.0,
            "account_code": codes,
            "account_name": names if names is not None else [NAMES.get(c, c) for c in codes],
        }
    )
    return StageResult(data=write_frame(df, selected_schema(list(df.columns)), work_dir, "select"))


def label_map(num_slots: int, slots: dict[str, int]) -> LabelMap:
    labels = [LabelSlot(id=i, code=c, name=NAMES.get(c, c)) for c, i in sorted(slots.items(), key=lambda x: x[1])]
    return LabelMap(num_slots=num_slots, dummy_prefix="__unused_", labels=labels)


def zipf_labels(rows: int, classes: int, seed: int = 0) -> pd.Series:
    """Skewed class sizes, like real ledgers (the smallest of 20 classes in 10k rows has > 50 rows)."""
    weights = 1.0 / np.arange(1, classes + 1) ** 0.5
    return pd.Series(np.random.default_rng(seed).choice(classes, rows, p=weights / weights.sum()))


# --- label slots ----------------------------------------------------------------------------------


def test_first_run_gives_codes_slots_in_code_order(work_dir):
    result = assign_label_slots.fn(selected_stage(work_dir, ["830", "811", "830", "814"]), LabelParams(), work_dir)
    saved = LabelMap.read(result.path)
    assert saved.code_to_id() == {"811": 0, "814": 1, "830": 2}
    assert (result.num_slots, result.used, result.new_codes) == (300, 3, ["811", "814", "830"])
    assert Path(result.path).name == f"label_map-{result.fingerprint}.json"


def test_retrain_keeps_old_ids_and_gives_new_codes_the_lowest_free_slots(tmp_path, work_dir):
    # given an earlier label map with a gap (slot 1 free) and more slots than the new run asks for
    previous = tmp_path / "label_map.json"
    previous.write_text(label_map(10, {"811": 0, "814": 2, "830": 5}).model_dump_json(), encoding="utf-8")
    # when the new data drops 814 and brings two new codes
    stage = selected_stage(work_dir, ["830", "811", "999", "777", "830"])
    result = assign_label_slots.fn(stage, LabelParams(num_slots=5, label_map=str(previous)), work_dir)
    # then old codes keep their ids, 814 keeps its slot, and the new codes fill slots 1 and 3 in code order
    assert LabelMap.read(result.path).code_to_id() == {"811": 0, "777": 1, "814": 2, "999": 3, "830": 5}
    assert (result.num_slots, result.used, result.new_codes) == (10, 5, ["777", "999"])


def test_upsert_with_no_new_codes_returns_the_same_map():
    previous = label_map(4, {"811": 3, "830": 0})
    updated, new = upsert_labels({"830": "소모품비"}, LabelParams(num_slots=4), previous)
    assert new == [] and updated.code_to_id() == {"830": 0, "811": 3}


def test_out_of_slots_says_how_many_slots_are_needed():
    with pytest.raises(OutOfSlotsError, match=r"3 account codes .* only 2; set labels.num_slots >= 3"):
        upsert_labels({c: c for c in ["811", "814", "830"]}, LabelParams(num_slots=2), None)


def test_out_of_slots_on_retrain_counts_known_and_new_codes():
    previous = label_map(2, {"811": 0, "830": 1})
    with pytest.raises(OutOfSlotsError, match=r"3 account codes need label slots \(2 known \+ 1 new\)"):
        upsert_labels({"999": "신규계정"}, LabelParams(num_slots=2), previous)


def test_id2label_has_dummy_names_for_free_slots():
    names = label_map(5, {"830": 0, "811": 3}).id2label()
    assert names == ["830", "__unused_1", "__unused_2", "811", "__unused_4"]


def test_code_names_picks_the_most_frequent_name():
    df = pd.DataFrame(
        {"account_code": ["830", "830", "830", "811"], "account_name": ["소모품", "소모품비", "소모품비", "복리"]}
    )
    assert code_names(df) == {"830": "소모품비", "811": "복리"}


def test_code_names_without_a_name_column_uses_the_code():
    assert code_names(pd.DataFrame({"account_code": ["830", "811"]})) == {"830": "830", "811": "811"}


def test_code_names_ignores_blank_names_when_a_real_name_exists():
    df = pd.DataFrame({"account_code": ["830"] * 4, "account_name": [None, None, None, "소모품비"]})
    assert code_names(df) == {"830": "소모품비"}


# --- assign_splits --------------------------------------------------------------------------------


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
    labels = zipf_labels(2000, 10)
    _, first = assign_splits(labels, SplitParams(seed=7))
    _, again = assign_splits(labels, SplitParams(seed=7))
    _, other = assign_splits(labels, SplitParams(seed=8))
    pd.testing.assert_series_equal(first, again)
    assert (first != other).mean() > 0.1


def test_split_proportions_and_stratification():
    # given 10k rows of 20 skewed classes
    labels = zipf_labels(10_000, 20)
    # when split 80 / 10 / 10
    kept, split = assign_splits(labels, SplitParams())
    # then every row is kept and each split's share is within 0.02 of its ratio
    assert kept.all()
    shares = split.value_counts(normalize=True)
    for name, ratio in {"train": 0.8, "valid": 0.1, "test": 0.1}.items():
        assert abs(shares[name] - ratio) <= 0.02, shares
    # and each class's share of test is within 0.05 of its share overall (classes of 50+ rows)
    overall = labels.value_counts(normalize=True)
    in_test = labels[split == "test"].value_counts(normalize=True).reindex(overall.index, fill_value=0)
    big = labels.value_counts() >= 50
    assert big.all()
    assert ((in_test - overall).abs()[big] <= 0.05).all()


def test_singleton_and_two_row_classes_stay_in_train():
    labels = pd.Series([0] + [1] * 2 + [2] * 3 + [3] * 100)
    _, split = assign_splits(labels, SplitParams())
    assert set(split[labels < 2]) == {"train"}
    # a 3-row class gives each split exactly one row
    assert sorted(split[labels == 2]) == ["test", "train", "valid"]


@pytest.mark.parametrize("labels", [[0], [0, 0], [0, 1], [0, 1, 1]])
def test_tiny_inputs_never_crash_and_go_to_train(labels):
    kept, split = assign_splits(pd.Series(labels), SplitParams())
    assert kept.all() and split.tolist() == ["train"] * len(labels)


def test_split_with_no_valid_share_leaves_valid_empty():
    _, split = assign_splits(zipf_labels(1000, 5), SplitParams(train=0.9, valid=0.0, test=0.1))
    assert set(split) == {"train", "test"}


def test_sample_fraction_keeps_a_tenth_of_every_class_and_at_least_one():
    labels = pd.Series([0] * 1000 + [1] * 95 + [2] * 3 + [3])
    kept, split = assign_splits(labels, SplitParams(sample_fraction=0.1))
    assert labels[kept].value_counts().sort_index().tolist() == [100, 10, 1, 1]
    # the sample is split too: a 100-row sample gives test and valid 10 rows each
    assert split[kept & (labels == 0)].value_counts().to_dict() == {"train": 80, "valid": 10, "test": 10}


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.2), (0.5, 0.1, 0.1), (0.7, 0.0, 0.0)])
def test_split_params_reject_ratios_not_summing_to_one(ratios):
    train, valid, test = ratios
    with pytest.raises(ValidationError, match="split ratios must sum to 1"):
        SplitParams(train=train, valid=valid, test=test)


# --- split_dataset --------------------------------------------------------------------------------


def split_run(work_dir: str, codes: list[str], **params) -> tuple[StageResult, pd.DataFrame]:
    stage = selected_stage(work_dir, codes)
    labels = assign_label_slots.fn(stage, LabelParams(num_slots=8), work_dir)
    result = split_dataset.fn(stage, labels, SplitParams(**params), work_dir)
    return result, read_frame(result.data, None)


def test_split_dataset_labels_rows_and_reports_rare_classes(work_dir):
    # given 40 rows of 830, 2 of 811 and 1 of 999
    codes = ["830"] * 40 + ["811"] * 2 + ["999"]
    # when split
    result, df = split_run(work_dir, codes)
    # then every row carries its slot id and split, and the rare classes are all in train and reported
    assert len(df) == 43 and df["label"].tolist() == [1] * 40 + [0] * 2 + [2]
    assert set(df.loc[df["account_code"] != "830", "split"]) == {"train"}
    assert result.report["rows"] == {"train": 35, "valid": 4, "test": 4}
    assert result.report["rare_classes_in_train_only"] == {"811": 2, "999": 1}
    assert (result.report["classes"], result.report["sampled_out"]) == (3, 0)


def test_split_dataset_is_the_same_for_the_same_seed(tmp_path):
    codes = [c for c in ["811", "814", "830"] for _ in range(30)]
    _, first = split_run(str(tmp_path / "a"), codes, seed=3)
    _, again = split_run(str(tmp_path / "b"), codes, seed=3)
    _, other = split_run(str(tmp_path / "c"), codes, seed=4)
    assert first["split"].tolist() == again["split"].tolist()
    assert first["split"].tolist() != other["split"].tolist()


def test_split_dataset_sample_reports_sampled_out_rows(work_dir):
    codes = ["830"] * 200 + ["811"] * 30 + ["999"]
    result, df = split_run(work_dir, codes, sample_fraction=0.1)
    assert df["account_code"].value_counts().to_dict() == {"830": 20, "811": 3, "999": 1}
    assert result.report["sampled_out"] == 231 - 24 and result.data.rows == 24
    assert result.report["rare_classes_in_train_only"] == {"999": 1}
