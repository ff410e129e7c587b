"""Tokenization with the model's own tokenizer: Korean round trip, pad tokens, the DatasetDict, caching."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.label_map import LabelMap, LabelSlot
from ledger.frames import StageResult, sha256_file, write_frame
from params.prepare import TokenizeParams
from schemas import TextFrame
from tasks.split import LabelMapFile
from tasks.tokenize import load_tokenizer, token_stats, tokenize_dataset

KOREAN = "급여 이체 GS25 사무용품 구입 11,000원"
NUM_SLOTS = 7
TEXTS = [
    ("train", "일자: 2024-01-05 | 거래처: 쿠팡 | 적요: 사무용품 구입 | 금액: 11,000원 | 증빙: 세금계산서", 2),
    ("train", "거래처: GS25 | 적요: 야근 식대 | 금액: 5,500원", 0),
    ("train", "급여 이체", 1),
    ("train", "일자: 2024-02-09 | 거래처: KT | 적요: 인터넷 요금 | 금액: 33,000원 | 공급가액: 30,000원", 1),
    ("valid", "거래처: 한국전력공사 | 적요: 전기요금 | 금액: 110,000원", 2),
    ("test", "적요: 복사용지 | 금액: 9,900원", 0),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """One tiny model + byte-level BPE tokenizer for the module (~10 s).

    llama: its tokenizer loads with no pad token, so the EOS fallback of load_tokenizer is exercised (the qwen2
    one loads as Qwen2Tokenizer, which brings its own default pad token).
    """
    from synth.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny"), arch="llama")


def text_stage(work_dir: str, texts=TEXTS) -> StageResult:
    df = pd.DataFrame(texts, columns=["split", "text", "label"])
    return StageResult(data=write_frame(df, TextFrame, work_dir, "text"))


def label_file(work_dir: str) -> LabelMapFile:
    """A label map of 3 used codes in 7 slots, written as assign_label_slots writes it."""
    labels = [LabelSlot(id=i, code=c, name=c) for i, c in enumerate(["811", "814", "830"])]
    path = Path(work_dir) / "labels" / "label_map.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LabelMap(num_slots=NUM_SLOTS, dummy_prefix="__unused_", labels=labels).model_dump_json())
    fingerprint = sha256_file(path)[:20]
    return LabelMapFile(path=str(path), fingerprint=fingerprint, num_slots=NUM_SLOTS, used=3, new_codes=[])


# --- tokenizer ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_tiny_model_round_trips_korean_and_loads_as_a_classifier(tiny_model, tmp_path, arch):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from synth.tiny_model import make_tiny_model

    # given a tiny model of each architecture, saved and loaded back through the Auto classes
    path = tiny_model if arch == "llama" else make_tiny_model(tmp_path / arch, arch=arch)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # then Korean text decodes back identically (byte-level BPE drops no Hangul, no unknown tokens)
    ids = tokenizer(KOREAN)["input_ids"]
    assert tokenizer.decode(ids) == KOREAN and tokenizer.unk_token_id not in ids
    # and the pipeline's tokenizer pads with EOS, adding nothing
    padded, added = load_tokenizer(str(path))
    assert (padded.pad_token, added) == (padded.eos_token, False)
    # and the checkpoint loads with a 7-way head giving (batch, 7) logits
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=NUM_SLOTS)
    model.config.pad_token_id = padded.pad_token_id
    batch = padded([KOREAN, "쿠팡"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (2, NUM_SLOTS)


@pytest.mark.slow
def test_load_tokenizer_pads_a_decoder_with_eos(tiny_model):
    from transformers import AutoTokenizer

    # given a decoder tokenizer with an EOS but no pad token
    assert AutoTokenizer.from_pretrained(tiny_model).pad_token is None
    # when loaded for the pipeline, then EOS is the pad token and nothing is added
    tokenizer, added = load_tokenizer(str(tiny_model))
    assert (tokenizer.pad_token, added) == (tokenizer.eos_token, False)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id


def test_load_tokenizer_adds_a_pad_token_when_there_is_no_eos(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # given a tokenizer folder with neither pad nor eos (and no config.json)
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "급여": 1, "이체": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    assert not (tmp_path / "tok" / "config.json").exists()
    # when loaded
    tokenizer, added = load_tokenizer(str(tmp_path / "tok"))
    # then a new pad token is added and reported (the model's embeddings must grow to len(tokenizer))
    assert added is True and tokenizer.eos_token is None
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.pad_token_id == len(tokenizer) - 1 == 3
    assert tokenizer("급여 이체")["input_ids"] == [1, 2]


def test_token_stats_of_known_lengths():
    stats = token_stats(np.arange(1, 101), max_length=50)
    assert stats == {"p50": 50.5, "p95": pytest.approx(95.05), "max": 100, "truncated_share": 0.5, "max_length": 50}
    assert token_stats(np.array([3, 3, 3]), max_length=8)["truncated_share"] == 0.0


def test_token_stats_of_no_rows():
    assert token_stats(np.array([], dtype="int64"), 16) == {
        "p50": 0,
        "p95": 0,
        "max": 0,
        "truncated_share": 0.0,
        "max_length": 16,
    }


# --- tokenize_dataset -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_tokenize_dataset_writes_an_unpadded_dataset_dict(tiny_model, work_dir):
    from datasets import ClassLabel, load_from_disk
    from transformers import AutoTokenizer

    # given six texts over three splits and a label map of 7 slots
    labels = label_file(work_dir)
    # when tokenized
    result = tokenize_dataset.fn(text_stage(work_dir), labels, str(tiny_model), TokenizeParams(), work_dir)
    # then the DatasetDict has every split, a ClassLabel of all slots and unpadded ids with their lengths
    data = load_from_disk(result.path)
    assert sorted(data) == ["test", "train", "valid"] and result.rows == {"train": 4, "valid": 1, "test": 1}
    feature = data["train"].features["label"]
    assert isinstance(feature, ClassLabel) and feature.num_classes == NUM_SLOTS == result.num_labels
    assert feature.names == ["811", "814", "830", "__unused_3", "__unused_4", "__unused_5", "__unused_6"]
    assert data["train"]["label"] == [2, 0, 1, 1]
    ids = data["train"]["input_ids"]
    assert len({len(x) for x in ids}) > 1  # no padding: every text keeps its own length
    assert all(len(x) <= 256 for x in ids) and data["train"]["length"] == [len(x) for x in ids]
    assert "attention_mask" not in data["train"].column_names  # the collator builds it when it pads
    # and the label map and a loadable tokenizer (with its pad token) are written next to the data
    out = Path(result.path).parent
    assert json.loads((out / "label_map.json").read_text()) == json.loads(Path(labels.path).read_text())
    tokenizer = AutoTokenizer.from_pretrained(result.tokenizer)
    assert tokenizer.decode(ids[0]) == TEXTS[0][1] and tokenizer.pad_token == result.pad_token
    assert result.pad_added is False and result.stats["all"]["truncated_share"] == 0.0
    assert json.loads((out / "token_stats.json").read_text()) == result.stats


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_tokenize_dataset_truncates_to_a_small_max_length(tiny_model, work_dir):
    from datasets import load_from_disk

    # given texts longer than 8 tokens, when tokenized with max_length=8
    params = TokenizeParams(max_length=8)
    result = tokenize_dataset.fn(text_stage(work_dir), label_file(work_dir), str(tiny_model), params, work_dir)
    # then ids are cut to 8, the untruncated length is kept and the stats show the truncated share
    train = load_from_disk(result.path)["train"]
    assert all(len(x) <= 8 for x in train["input_ids"]) and max(train["length"]) > 8
    assert 0 < result.stats["train"]["truncated_share"] <= 1 and result.stats["all"]["max_length"] == 8


# --- caching --------------------------------------------------------------------------------------


def tokenize_states(calls: list) -> list[str]:
    """Final state names of tokenize_dataset task runs, one per (texts, labels, model, params, work_dir) call.

    `calls` may hold a callable between calls: it runs (e.g. edits a file) before the next task run.
    """
    from prefect import flow

    @flow
    def run_all() -> list[str]:
        names = []
        for call in calls:
            if callable(call):
                call()
            else:
                names.append(tokenize_dataset(*call, return_state=True).name)
        return names

    return run_all()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_tokenize_is_cached_for_the_same_inputs_and_reruns_for_a_new_max_length(tiny_model, work_dir):
    # given the same texts, labels, model and parameters twice, then a different max_length
    texts, labels, model = text_stage(work_dir), label_file(work_dir), str(tiny_model)
    same = (texts, labels, model, TokenizeParams(max_length=64), work_dir)
    other = (texts, labels, model, TokenizeParams(max_length=32), work_dir)
    # when tokenized in one flow, then the second run is Cached and the changed parameter is not
    assert tokenize_states([same, same, other]) == ["Completed", "Cached", "Completed"]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_tokenize_reruns_when_the_tokenizer_files_change(tiny_model, tmp_path, work_dir):
    # given a copy of the model, tokenized twice (the second run Cached)
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    call = (text_stage(work_dir), label_file(work_dir), str(model), TokenizeParams(), work_dir)

    def edit_tokenizer_config():
        config_file = model / "tokenizer_config.json"
        config = json.loads(config_file.read_text())
        config_file.write_text(json.dumps({**config, "model_max_length": 4096}))

    # when its tokenizer_config.json changes in place (same path, harmless key)
    states = tokenize_states([call, call, edit_tokenizer_config, call, call])
    # then the run after the edit is not Cached (and the one after that is again)
    assert states == ["Completed", "Cached", "Completed", "Cached"]
