"""The linear-probe head (LP-FT): a logistic regression on what the head reads, copied into the head.

Synthetic features for the regression itself; a tiny random Qwen2 classifier (2 layers, hidden 32) with a
right-padding collator for what the head reads and for init_head_from_probe end to end.
"""

import numpy as np
import pytest
import torch
from torch import nn

from training import probe
from training.config import HeadSettings
from training.probe import (
    copy_into_head,
    fit_probe,
    head_inputs,
    head_linear,
    init_head_from_probe,
    last_real_token,
    sample_rows,
)

SLOTS = 8
SEEN = np.array([1, 3, 4, 6])  # the label slots with train rows; 0, 2, 5 and 7 are never seen
DIM = 6
VOCAB = 300


def separable(classes=SEEN, per_class: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs far apart (and away from the origin, so a probe without intercept separates them too)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(classes), DIM)) * 6 + 3
    x = np.concatenate([c + rng.normal(scale=0.5, size=(per_class, DIM)) for c in centres])
    y = np.repeat(classes, per_class)
    return x.astype("float32"), y


def head(bias: bool, slots: int = SLOTS) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(DIM, slots, bias=bias)


@torch.no_grad()
def predict(linear: nn.Linear, x: np.ndarray) -> np.ndarray:
    return linear(torch.as_tensor(x)).argmax(-1).numpy()


# ---- fit_probe / copy_into_head --------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_the_head_copied_from_the_probe_separates_the_classes(bias):
    # given: separable features of 4 classes among 8 slots, a random head with or without bias
    x, y = separable()
    linear = head(bias)
    # when
    classes, w, b = fit_probe(x, y, None, c=1.0, bias=bias, seed=0)
    copy_into_head(linear, classes, w, b)
    # then: the head's argmax is the label of every row
    np.testing.assert_array_equal(classes, SEEN)
    np.testing.assert_array_equal(predict(linear, x), y)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_slots_the_probe_never_saw_never_win(bias):
    # given: the head from the probe, and inputs anywhere (far outside the train blobs too)
    x, y = separable()
    linear = head(bias)
    copy_into_head(linear, *fit_probe(x, y, None, c=1.0, bias=bias, seed=0))
    anywhere = np.random.default_rng(1).normal(scale=50, size=(2000, DIM)).astype("float32")
    # when
    winners = predict(linear, np.concatenate([x, anywhere, -anywhere]))
    # then
    assert set(winners.tolist()) <= set(SEEN.tolist())


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_the_probe_logits_are_the_regression_on_standardised_features(bias):
    # given: the same regression fitted by hand on the standardised features
    from sklearn.linear_model import LogisticRegression

    x, y = separable(seed=3)
    x = x + np.random.default_rng(3).normal(scale=4, size=x.shape).astype("float32")  # overlapping: finite weights
    mean = x.mean(axis=0) if bias else 0.0
    scale = x.std(axis=0) + 1e-6
    reference = LogisticRegression(C=0.5, max_iter=500, fit_intercept=bias, random_state=0).fit((x - mean) / scale, y)
    # when
    classes, w, b = fit_probe(x, y, None, c=0.5, bias=bias, seed=0)
    # then: folded back onto the raw features, the logits are the reference's decision function
    np.testing.assert_allclose(x @ w.T + b, reference.decision_function((x - mean) / scale), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_two_classes_get_two_symmetric_rows(bias):
    # given: two classes in slots 2 and 5 of 6
    x, y = separable(classes=np.array([2, 5]))
    linear = head(bias, slots=6)
    # when
    classes, w, b = fit_probe(x, y, None, c=1.0, bias=bias, seed=0)
    copy_into_head(linear, classes, w, b)
    # then: one row per class, opposite to each other, and the head separates them; the other slots never win
    assert w.shape == (2, DIM) and b.shape == (2,)
    np.testing.assert_allclose(w[0], -w[1], rtol=1e-6)
    np.testing.assert_array_equal(predict(linear, x), y)
    anywhere = np.random.default_rng(1).normal(scale=50, size=(2000, DIM)).astype("float32")
    assert set(predict(linear, anywhere).tolist()) <= {2, 5}


def test_class_weights_shift_the_probe_towards_the_weighted_class():
    # given: two overlapping classes, then the same with class 1 weighted 20 times
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (200, DIM)), rng.normal(0.5, 1, (200, DIM))]).astype("float32")
    y = np.repeat([0, 1], 200)
    # when
    plain = fit_probe(x, y, None, c=1.0, bias=True, seed=0)
    weighted = fit_probe(x, y, {0: 1.0, 1: 20.0}, c=1.0, bias=True, seed=0)
    # then: more rows go to the heavy class
    share = [float(((x @ w.T + b).argmax(-1) == 1).mean()) for _, w, b in (plain, weighted)]
    assert share[1] > share[0] + 0.2


# ---- sample_rows -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 50, 500])
def test_sample_rows_has_every_class_and_at_most_the_asked_size(size):
    # given: 1000 rows, one class with a single row, one with two
    labels = np.concatenate([np.repeat([0, 1, 2, 3], [600, 300, 97, 0]), [7], [9, 9]])
    labels = np.random.default_rng(5).permutation(labels)
    # when
    rows = sample_rows(labels, size, seed=0)
    # then
    assert len(rows) <= size
    assert len(rows) == min(size, len(labels))
    assert set(labels[rows].tolist()) == set(labels.tolist())
    assert len(np.unique(rows)) == len(rows) and rows.min() >= 0 and rows.max() < len(labels)


def test_sample_rows_takes_everything_when_asked_for_more():
    # given / when
    labels = np.array([3, 3, 1, 0, 1])
    # then
    np.testing.assert_array_equal(sample_rows(labels, 100, seed=0), np.arange(5))


def test_sample_rows_depends_on_the_seed_only():
    # given
    labels = np.random.default_rng(0).integers(0, 20, size=3000)
    # when / then: same seed, same rows; another seed, other rows
    np.testing.assert_array_equal(sample_rows(labels, 200, seed=1), sample_rows(labels, 200, seed=1))
    assert not np.array_equal(sample_rows(labels, 200, seed=1), sample_rows(labels, 200, seed=2))


# ---- the tiny decoder --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def padder():
    """A right-padding collator like the training program's (DataCollatorWithPadding; pad = eos = id 0)."""
    from transformers import DataCollatorWithPadding

    from synth.tiny_model import train_tokenizer

    tokenizer = train_tokenizer(["사무용품 구입 11,000원 카드", "KT 인터넷 요금 33,000원 세금계산서"], VOCAB)
    tokenizer.pad_token = tokenizer.eos_token
    assert tokenizer.padding_side == "right" and tokenizer.pad_token_id == 0
    return DataCollatorWithPadding(tokenizer)


def tiny_decoder(num_labels: int = SLOTS):
    from transformers import Qwen2Config, Qwen2ForSequenceClassification

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        num_labels=num_labels,
        pad_token_id=0,
    )
    return Qwen2ForSequenceClassification(config).eval()


def texts(count: int, seed: int = 0) -> list[list[int]]:
    """Token id lists of different lengths (3 to 14), no pad id inside."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, VOCAB, size=rng.integers(3, 15)).tolist() for _ in range(count)]


def test_last_real_token_is_the_last_position_that_is_not_padding():
    # given: right-padded ids (pad 0), and no pad id at all
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9], [4, 0, 0, 0, 0]])
    # when / then
    assert last_real_token(ids, 0).tolist() == [2, 4, 0]
    assert last_real_token(ids, None).tolist() == [4, 4, 4]


def test_head_linear_is_the_score_of_a_decoder():
    # given / when / then
    model = tiny_decoder()
    assert head_linear(model) is model.score


def test_head_linear_under_peft_is_the_copy_that_trains_and_reads_the_same_inputs(padder):
    # given: the decoder under a LoRA wrapper, which trains a copy of `score` and keeps the original beside it
    from peft import LoraConfig, TaskType, get_peft_model

    model = tiny_decoder()
    plain = head_inputs(model, texts(5), padder, torch.device("cpu"))
    wrapped = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=2, target_modules=["q_proj", "v_proj"]))
    # when / then: the head is the trained copy, and what it reads is what the plain model's score read (LoRA B = 0)
    assert head_linear(wrapped) is wrapped.base_model.model.score.modules_to_save["default"]
    np.testing.assert_allclose(head_inputs(wrapped, texts(5), padder, torch.device("cpu")), plain, atol=1e-5)


def test_head_inputs_are_what_the_score_reads_at_the_last_real_token(padder, monkeypatch):
    # given: 11 texts of different lengths, batches of 3 (so several padded batches, in length order)
    monkeypatch.setattr(probe, "BATCH_SIZE", 3)
    model = tiny_decoder()
    rows = texts(11)
    # when
    features = head_inputs(model, rows, padder, torch.device("cpu"))
    # then: the score applied to them gives the model's own pooled logits, on one right-padded batch of all texts
    batch = padder([{"input_ids": r} for r in rows])
    assert (batch["attention_mask"] == 0).any()  # the batch really pads
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        scored = model.score(torch.as_tensor(features))
    assert features.shape == (11, 32)
    torch.testing.assert_close(scored, logits, rtol=0, atol=1e-5)


def test_head_inputs_restore_training_mode(padder):
    # given: a model in training mode
    model = tiny_decoder().train()
    # when
    head_inputs(model, texts(4), padder, torch.device("cpu"))
    # then: it read in eval mode and hands the model back as it was, without a leftover hook
    assert model.training
    assert not model.score._forward_pre_hooks


def learnable_split(count: int, seed: int):
    """Texts whose label is set by their last token (what a decoder's head reads): slots 0, 2 and 5 of 8."""
    from datasets import Dataset

    rng = np.random.default_rng(seed)
    ends = {0: [11, 12, 13], 2: [101, 102, 103], 5: [201, 202, 203]}
    labels = rng.choice([0, 2, 5], size=count)
    rows = [r + [int(rng.choice(ends[int(label)]))] for r, label in zip(texts(count, seed), labels, strict=True)]
    return Dataset.from_dict({"input_ids": rows, "label": labels.tolist()})


def test_init_head_from_probe_fits_the_head_and_reports_valid_and_test(padder):
    # given: a tiny decoder with a random head, learnable train / valid / test splits
    model = tiny_decoder()
    before = model.score.weight.detach().clone()
    splits = {"train": learnable_split(90, 0), "valid": learnable_split(30, 1), "test": learnable_split(20, 2)}
    settings = HeadSettings(probe_samples=60)
    # when
    report, test_logits = init_head_from_probe(model, splits, padder, settings, None, seed=0)
    # then: the sample size and classes are reported, the probe's own metrics are valid and high
    assert report["train_rows"] == 60 and report["classes"] == 3
    assert set(report["valid"]) == {"accuracy", "f1_weighted", "f1_macro"}
    assert all(0.0 <= v <= 1.0 for v in report["valid"].values())
    assert report["valid"]["accuracy"] >= 0.8
    assert report["seconds"] >= 0
    # the head changed, and test logits cover every slot with the unseen ones never chosen
    assert not torch.allclose(model.score.weight, before)
    assert test_logits.shape == (20, SLOTS)
    assert set(test_logits.argmax(-1).tolist()) <= {0, 2, 5}


def test_init_head_from_probe_leaves_a_head_that_predicts_like_the_probe(padder):
    # given
    model = tiny_decoder()
    splits = {"train": learnable_split(90, 0), "valid": learnable_split(30, 1)}
    # when
    report, test_logits = init_head_from_probe(model, splits, padder, HeadSettings(probe_samples=60), None, seed=0)
    # then: the model itself, with its new head, is as accurate on valid as the probe said
    valid = splits["valid"]
    batch = padder([{"input_ids": r} for r in valid["input_ids"]])
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).numpy()
    accuracy = float((predicted == np.asarray(valid["label"])).mean())
    assert accuracy == pytest.approx(report["valid"]["accuracy"], abs=1e-9)
    assert test_logits is None and "test" not in report


def test_init_head_from_probe_uses_the_class_weights(padder):
    # given: the same data, without and with weights that make slot 5 heavy
    splits = {"train": learnable_split(90, 0)}
    weights = np.ones(SLOTS)
    weights[5] = 50.0
    heads = []
    for class_weights in (None, weights):
        model = tiny_decoder()
        # when
        init_head_from_probe(model, splits, padder, HeadSettings(probe_samples=60), class_weights, seed=0)
        heads.append(model.score.weight.detach().clone())
    # then: the weights reached the regression
    assert not torch.allclose(heads[0], heads[1])
