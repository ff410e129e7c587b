"""The tiny-batch dataset (bench/sanity.py): a few rows of the most frequent accounts as train, valid and test."""

from pathlib import Path

import numpy as np
import pytest

from contracts.dataset import MANIFEST_FILE, read_tokenized_dataset

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROWS, CLASSES = 32, 4


@pytest.fixture(scope="module")
def source(tmp_path_factory, prefect_harness) -> str:
    """A tokenized dataset folder from a 400-row synthetic ledger of 12 accounts and a one-layer tiny model."""
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    work = tmp_path_factory.mktemp("sanity-work")
    model = str(make_tiny_model(work / "tiny", vocab_size=600, layers=1))
    ledger = write_ledger(make_ledger(400, 12, seed=1), str(work / "ledger.csv"))
    result = prepare_data(PrepareParams(input=ledger, work_dir=str(work), model=model))
    return str(Path(result.dataset.path).parent)


def load(folder: str):
    from datasets import DatasetDict

    return DatasetDict.load_from_disk(read_tokenized_dataset(folder).path)


@pytest.fixture(scope="module")
def tiny(source, tmp_path_factory) -> str:
    from bench.sanity import tiny_batch_dataset

    return tiny_batch_dataset(source, tmp_path_factory.mktemp("sanity") / "tiny", rows=ROWS, classes=CLASSES)


def test_train_valid_and_test_are_the_same_rows(tiny):
    # given the tiny batch
    data = load(tiny)
    # when its splits are read, then all three are the same rows, in the same order
    assert set(data) == {"train", "valid", "test"}
    train = data["train"].to_dict()
    assert data["valid"].to_dict() == train and data["test"].to_dict() == train


def test_rows_of_the_most_frequent_accounts_only(source, tiny):
    # given the source's train labels, and the tiny batch made from them
    source_labels = np.asarray(load(source)["train"]["label"])
    values, counts = np.unique(source_labels, return_counts=True)
    count = dict(zip(values.tolist(), counts.tolist(), strict=True))
    assert len(values) > CLASSES
    labels = np.asarray(load(tiny)["train"]["label"])
    kept = set(np.unique(labels).tolist())
    # then it holds exactly CLASSES accounts, none of them rarer than an account left out
    assert len(kept) == CLASSES
    assert min(count[k] for k in kept) >= max(c for v, c in count.items() if v not in kept)
    # and ROWS // CLASSES rows of each (all of an account's rows where it has fewer): ROWS rows when they suffice
    per_class = ROWS // CLASSES
    for k in kept:
        assert (labels == k).sum() == min(count[k], per_class), k
    assert len(labels) == sum(min(count[k], per_class) for k in kept) <= ROWS
    assert len(labels) == ROWS  # this ledger's four largest accounts have 8+ train rows each


def test_rows_are_rows_of_the_source_train_split(source, tiny):
    # given the source's train split
    train = load(source)["train"]
    # when the tiny batch's rows are looked up in it, then every one is there, unchanged and without repeats
    source_rows = {tuple(ids): label for ids, label in zip(train["input_ids"], train["label"], strict=True)}
    batch = load(tiny)["train"]
    keys = [tuple(ids) for ids in batch["input_ids"]]
    assert len(set(keys)) == len(keys)
    assert all(source_rows.get(key) == label for key, label in zip(keys, batch["label"], strict=True))


def test_manifest_points_inside_the_new_folder(source, tiny):
    # given the tiny batch folder
    manifest = read_tokenized_dataset(tiny)
    original = read_tokenized_dataset(source)
    dest = Path(tiny).resolve()
    # when its manifest is read, then data, label map and tokenizer are inside it and exist
    assert (dest / MANIFEST_FILE).is_file()
    for path in (manifest.path, manifest.label_map, manifest.tokenizer):
        assert Path(path).resolve().is_relative_to(dest) and Path(path).exists(), path
    assert manifest.folder.resolve() == dest
    # and the row counts are the batch's, the head keeps the source's slots, the prepare parameters came along
    n = len(load(tiny)["train"])
    assert manifest.rows == {"train": n, "valid": n, "test": n}
    assert manifest.num_labels == original.num_labels
    assert (dest / "prepare_params.json").read_text() == (Path(source) / "prepare_params.json").read_text()
    assert (dest / "label_map.json").read_text() == Path(original.label_map).read_text()
    # and the tokenizer loads from its new place
    from transformers import AutoTokenizer

    assert len(AutoTokenizer.from_pretrained(manifest.tokenizer)) > 0


def test_made_again_it_replaces_the_folder_with_the_same_rows(source, tiny, tmp_path):
    from bench.sanity import tiny_batch_dataset

    # given a folder already holding another tiny batch (different seed) and a stray file
    dest = tmp_path / "again"
    tiny_batch_dataset(source, dest, rows=ROWS, classes=CLASSES, seed=7)
    (dest / "stray.txt").write_text("old")
    # when made again with the default seed
    tiny_batch_dataset(source, dest, rows=ROWS, classes=CLASSES)
    # then the old content is gone and the rows are those of the first batch with that seed (deterministic)
    assert not (dest / "stray.txt").exists()
    assert load(str(dest))["train"].to_dict() == load(tiny)["train"].to_dict()
