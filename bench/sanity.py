"""Small datasets for the checks an ML engineer runs first: a tiny batch a model must overfit."""

import shutil
from pathlib import Path

import numpy as np

from contracts.dataset import MANIFEST_FILE, read_tokenized_dataset


def tiny_batch_dataset(source: str | Path, dest: str | Path, rows: int = 64, classes: int = 8, seed: int = 0) -> str:
    """`rows` train rows of the `classes` most frequent accounts, as train, valid and test alike.

    A model that cannot reach ~100% train accuracy on it is broken (labels, head, loss or optimiser), whatever
    it does on the real splits.
    """
    from datasets import DatasetDict

    manifest = read_tokenized_dataset(source)
    data = DatasetDict.load_from_disk(manifest.path)
    train = data["train"]
    labels = np.asarray(train["label"])
    values, counts = np.unique(labels, return_counts=True)
    keep = values[np.argsort(-counts, kind="stable")[:classes]]
    per_class = max(1, rows // len(keep))
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in keep])
    batch = train.select(np.sort(chosen)[:rows])
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("label_map.json", "prepare_params.json", "tokenizer"):
        src = manifest.folder / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    DatasetDict({"train": batch, "valid": batch, "test": batch}).save_to_disk(str(dest / "data"))
    copy = manifest.model_copy(
        update={
            "path": str(dest / "data"),
            "label_map": str(dest / "label_map.json"),
            "tokenizer": str(dest / "tokenizer"),
            "rows": {"train": len(batch), "valid": len(batch), "test": len(batch)},
        }
    )
    (dest / MANIFEST_FILE).write_text(copy.model_dump_json(indent=2), encoding="utf-8")
    return str(dest)
