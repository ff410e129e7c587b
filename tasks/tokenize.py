"""Tokenization: the model's own tokenizer, a pad token where it has none, unpadded sequences on disk."""

import json
import shutil
from pathlib import Path

import numpy as np
from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from pydantic import BaseModel

from schemas import SPLITS, TextFrame
from tasks.caching import StageCache, model_fingerprint
from tasks.params import TokenizeParams
from tasks.split import LabelMapFile, read_label_map
from tasks.store import StageResult, read_frame


class TokenizedDataset(BaseModel):
    """A tokenized DatasetDict on disk with its label map and the tokenizer it was made with."""

    path: str
    label_map: str
    tokenizer: str
    num_labels: int
    rows: dict[str, int]
    pad_token: str
    pad_added: bool
    stats: dict


def load_tokenizer(model_path: str):
    """The model's tokenizer with a pad token: its own, else EOS (decoders), else a new one (recorded)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    added = False
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
            added = True  # the model's embeddings must be resized to the tokenizer length
    return tokenizer, added


def token_stats(lengths: np.ndarray, max_length: int) -> dict:
    if lengths.size == 0:
        return {"p50": 0, "p95": 0, "max": 0, "truncated_share": 0.0, "max_length": max_length}
    return {
        "p50": float(np.percentile(lengths, 50)),
        "p95": float(np.percentile(lengths, 95)),
        "max": int(lengths.max()),
        "truncated_share": float((lengths > max_length).mean()),
        "max_length": max_length,
    }


def build_text_dataset(texts, names: list[str]):
    """DatasetDict of text + ClassLabel label, one Dataset per split present."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    return DatasetDict(
        {
            split: Dataset.from_pandas(
                texts.loc[texts["split"] == split, ["text", "label"]], features=features, preserve_index=False
            )
            for split in SPLITS
            if (texts["split"] == split).any()
        }
    )


def make_encoder(tokenizer, max_length: int):
    """A batched map function: token ids cut to max_length, the untruncated length kept for the stats."""

    def encode(batch: dict) -> dict:
        ids = tokenizer(batch["text"], add_special_tokens=True)["input_ids"]
        return {
            "input_ids": [x[:max_length] for x in ids],
            "attention_mask": [[1] * min(len(x), max_length) for x in ids],
            "length": [len(x) for x in ids],
        }

    return encode


@task(cache_policy=StageCache(model_inputs=("model_path",)), persist_result=True, tags=["tokenize"])
def tokenize_dataset(
    texts: StageResult, labels: LabelMapFile, model_path: str, params: TokenizeParams, work_dir: str
) -> TokenizedDataset:
    """Tokenize every split with the model's tokenizer; save the DatasetDict, label map and tokenizer."""
    frame = read_frame(texts.data, TextFrame, "text output")
    tokenizer, pad_added = load_tokenizer(model_path)
    names = read_label_map(labels.path).id2label()
    dataset = build_text_dataset(frame, names)
    encode = make_encoder(tokenizer, params.max_length)
    progress = create_progress_artifact(0.0, key="tokenize-progress", description="tokenized splits")
    for i, split in enumerate(list(dataset)):
        dataset[split] = dataset[split].map(
            encode,
            batched=True,
            batch_size=params.batch_size,
            num_proc=params.num_proc if len(dataset[split]) > params.batch_size else None,
            desc=f"tokenize {split}",
        )
        update_progress_artifact(progress, 100.0 * (i + 1) / len(dataset))
    key = (
        f"{texts.data.fingerprint[:8]}-{labels.fingerprint[:8]}-{model_fingerprint(model_path)[:8]}-{params.max_length}"
    )
    out = Path(work_dir) / "datasets" / f"tokenized-{key}"
    if out.exists():
        shutil.rmtree(out)
    dataset.save_to_disk(str(out / "data"))
    shutil.copy(labels.path, out / "label_map.json")
    tokenizer.save_pretrained(str(out / "tokenizer"))
    stats = {s: token_stats(np.asarray(dataset[s]["length"]), params.max_length) for s in dataset}
    stats["all"] = token_stats(np.concatenate([np.asarray(dataset[s]["length"]) for s in dataset]), params.max_length)
    (out / "token_stats.json").write_text(json.dumps(stats, indent=2))
    result = TokenizedDataset(
        path=str(out / "data"),
        label_map=str(out / "label_map.json"),
        tokenizer=str(out / "tokenizer"),
        num_labels=len(names),
        rows={s: len(dataset[s]) for s in dataset},
        pad_token=str(tokenizer.pad_token),
        pad_added=pad_added,
        stats=stats,
    )
    (out / "dataset.json").write_text(result.model_dump_json(indent=2))  # what train_model reads
    return result


def read_tokenized_dataset(folder: str | Path) -> TokenizedDataset:
    """The dataset.json prepare_data wrote in a tokenized dataset folder (or its data/ subfolder)."""
    folder = Path(folder)
    manifest = folder / "dataset.json" if (folder / "dataset.json").exists() else folder.parent / "dataset.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{folder}: not a tokenized dataset folder (no dataset.json); run prepare_data first")
    return TokenizedDataset.model_validate_json(manifest.read_text(encoding="utf-8"))


PREPARE_PARAMS_FILE = "prepare_params.json"


@task(tags=["tokenize"])
def save_prepare_params(dataset: TokenizedDataset, params: BaseModel) -> str:
    """Keep the data-preparation parameters with the dataset: prediction replays the same steps."""
    path = Path(dataset.path).parent / PREPARE_PARAMS_FILE
    path.write_text(params.model_dump_json(indent=2, by_alias=True), encoding="utf-8")
    return str(path)
