"""Tokenization: the model's own tokenizer, a pad token where it has none, unpadded sequences on disk."""

import contextlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from tqdm import tqdm

from contracts.dataset import SetAside, TokenizedDataset
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.train_profile import copy_train_profile
from ledger.caching import model_fingerprint
from ledger.frames import StageResult, read_frame
from ledger.work_store import WorkDir, on_store
from monitor.progress import ProgressArtifact
from params.prepare import PrepareParams, TokenizeParams, write_prepare_params
from schemas import SPLITS, TextFrame
from tasks.caching import StageCache
from tasks.split import LabelMapFile

PARALLELISM = "TOKENIZERS_PARALLELISM"


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


@contextlib.contextmanager
def tokenizer_threads(enabled: bool):
    """Let a fast tokenizer encode each batch on every core (TOKENIZERS_PARALLELISM), restored afterwards."""
    before = os.environ.get(PARALLELISM)
    os.environ[PARALLELISM] = "true" if enabled else "false"
    try:
        yield
    finally:
        os.environ.pop(PARALLELISM) if before is None else os.environ.__setitem__(PARALLELISM, before)


def encode_texts(tokenizer, texts: pa.ChunkedArray, max_length: int, batch_size: int, progress=None) -> pa.Table:
    """input_ids cut to max_length and the untruncated length, straight into Arrow batch by batch.

    No attention mask is stored: the collator builds it when it pads. Python lists live one batch at a time.
    """
    batches = []
    for start in tqdm(
        range(0, len(texts), batch_size), desc="tokenize", unit="batch", disable=len(texts) <= batch_size
    ):
        batch = texts.slice(start, batch_size).to_pylist()
        ids = tokenizer(batch, add_special_tokens=True, return_attention_mask=False)
        full = pa.array(ids["input_ids"], type=pa.list_(pa.int32()))
        cut = pc.list_slice(full, 0, max_length)
        batches.append(pa.record_batch([cut, pc.list_value_length(full)], names=["input_ids", "length"]))
        if progress is not None:
            progress(min(start + batch_size, len(texts)))
    schema = pa.schema([("input_ids", pa.list_(pa.int32())), ("length", pa.int32())])
    return pa.Table.from_batches(batches, schema=schema)


def build_split(part: pa.Table, tokens: pa.Table, names: list[str], fingerprint: str):
    """One split as a Dataset: text, ClassLabel label, input_ids, length (the text's Arrow buffers reused)."""
    from datasets import ClassLabel, Dataset, DatasetInfo, Features, List, Value

    text = part["text"]
    features = Features(
        {
            "text": Value("large_string" if pa.types.is_large_string(text.type) else "string"),
            "label": ClassLabel(names=names),
            "input_ids": List(Value("int32")),
            "length": Value("int32"),
        }
    )
    # built on the schema datasets expects (metadata included), or Dataset() would cast, copying every column
    columns = [text, part["label"].cast(pa.int64()), tokens["input_ids"], tokens["length"]]
    table = pa.Table.from_arrays(columns, schema=features.arrow_schema)
    # a given fingerprint: datasets would otherwise hash the whole in-memory table (a full copy, and slow)
    return Dataset(table, info=DatasetInfo(features=features), fingerprint=fingerprint)


def split_tables(frame: pd.DataFrame) -> dict[str, pa.Table]:
    """The text frame as one Arrow table per split present."""
    table = pa.Table.from_pandas(frame[["split", "text", "label"]], preserve_index=False)
    parts = {split: table.filter(pc.equal(table["split"], split)) for split in SPLITS}
    return {split: part for split, part in parts.items() if part.num_rows}


def suspected_lines(frame: pd.DataFrame, counts: dict | None) -> SetAside | None:
    """Where each split's suspected mis-postings are (positions within the split), with set_aside's counts."""
    if counts is None:
        return None
    positions = {}
    if "suspected" in frame.columns:
        for split, part in frame.groupby("split", sort=False):
            flags = part["suspected"].to_numpy()
            if flags.any():
                positions[str(split)] = np.flatnonzero(flags).tolist()
    return SetAside(**counts, positions=positions)


@task(cache_policy=StageCache(model_inputs=("model_path",)), persist_result=True)
@on_store
def tokenize_dataset(
    texts: StageResult, labels: LabelMapFile, model_path: str, params: TokenizeParams, work_dir: WorkDir
) -> TokenizedDataset:
    """Tokenize every split with the model's tokenizer; save the DatasetDict, label map and tokenizer."""
    from datasets import DatasetDict

    frame = read_frame(texts.data, TextFrame, "text output")
    set_aside = suspected_lines(frame, texts.report.get("mispostings"))
    parts = split_tables(frame)
    del frame
    tokenizer, pad_added = load_tokenizer(model_path)
    names = LabelMap.read(labels.path).id2label()
    total, done = sum(part.num_rows for part in parts.values()), 0
    progress = ProgressArtifact("tokenize-progress", total, "texts tokenized")

    def report(rows: int) -> None:
        progress.update(done + rows)

    dataset = DatasetDict()
    with tokenizer_threads(params.parallel):
        for split, part in parts.items():
            tokens = encode_texts(tokenizer, part["text"], params.max_length, params.batch_size, report)
            dataset[split] = build_split(part, tokens, names, f"{texts.data.fingerprint[:16]}-{split}")
            done += part.num_rows
    del parts
    key = (
        f"{texts.data.fingerprint[:8]}-{labels.fingerprint[:8]}-{model_fingerprint(model_path)[:8]}-{params.max_length}"
    )
    out = Path(work_dir) / "datasets" / f"tokenized-{key}"
    if out.exists():
        shutil.rmtree(out)
    dataset.save_to_disk(str(out / "data"))
    shutil.copy(labels.path, out / LABEL_MAP_FILE)
    tokenizer.save_pretrained(str(out / "tokenizer"))
    lengths = {s: dataset[s].data.column("length").to_numpy() for s in dataset}
    stats = {s: token_stats(lengths[s], params.max_length) for s in dataset}
    stats["all"] = token_stats(np.concatenate(list(lengths.values())), params.max_length)
    (out / "token_stats.json").write_text(json.dumps(stats, indent=2))
    result = TokenizedDataset(
        path=str(out / "data"),
        label_map=str(out / LABEL_MAP_FILE),
        tokenizer=str(out / "tokenizer"),
        num_labels=len(names),
        rows={s: len(dataset[s]) for s in dataset},
        pad_token=str(tokenizer.pad_token),
        pad_added=pad_added,
        stats=stats,
        mispostings=set_aside,
    )
    result.write_manifest()  # what train_model reads
    return result


@task
@on_store
def save_prepare_params(dataset: TokenizedDataset, params: PrepareParams, profile: str | None = None) -> str:
    """Keep the data-preparation parameters (and the train split's profile) with the dataset: prediction replays
    the same steps and compares new lines' vendors and columns."""
    if profile:
        copy_train_profile(profile, dataset.folder)
    return str(write_prepare_params(params, dataset.folder))
