"""attach_pooling: mean pooling for encoders, as hooks that put the masked mean where the head reads.

Tiny random BERT / RoBERTa classifiers (hidden 32, 2 layers) in eval mode: the head must read the mean of the
real tokens' last hidden states, so padding a text in a batch does not change its logits.
"""

import copy

import pytest
import torch
from transformers import (
    AutoConfig,
    BertConfig,
    BertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from training.pooling import POOLING_KEY, FirstToken, attach_pooling, masked_mean, saved_pooling

PAD = {"bert": 0, "roberta": 1}
SHORT = [2, 17, 33, 48, 3]  # one text, 5 tokens
LONG = [2, 21, 9, 40, 41, 42, 55, 60, 3]  # another, 9 tokens


def tiny_classifier(arch: str = "bert"):
    torch.manual_seed(0)
    common = {
        "vocab_size": 80,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "num_labels": 3,
        "pad_token_id": PAD[arch],
    }
    if arch == "bert":
        return BertForSequenceClassification(BertConfig(**common)).eval()
    return RobertaForSequenceClassification(RobertaConfig(**common, max_position_embeddings=40)).eval()


def right_padded(texts: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(t) for t in texts)
    ids = torch.tensor([t + [pad] * (width - len(t)) for t in texts])
    mask = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t in texts])
    return ids, mask


@pytest.fixture
def mean_bert():
    """The tiny BERT with mean pooling attached, and an untouched copy of it (same weights, no hooks)."""
    model = tiny_classifier("bert")
    plain = copy.deepcopy(model)
    return attach_pooling(model, "mean"), plain


@torch.no_grad()
def logits_of(model, texts: list[list[int]], pad: int) -> torch.Tensor:
    ids, mask = right_padded(texts, pad)
    return model(input_ids=ids, attention_mask=mask).logits


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_mean_pooled_logits_do_not_depend_on_padding(arch):
    # given: a mean-pooled classifier; the short text alone, and in a batch where it is right-padded by 4
    model = attach_pooling(tiny_classifier(arch), "mean")
    # when
    alone = logits_of(model, [SHORT], PAD[arch])
    in_batch = logits_of(model, [LONG, SHORT], PAD[arch])
    # then: the padding positions are not part of the mean
    torch.testing.assert_close(in_batch[1:], alone, rtol=0, atol=1e-5)


def test_without_a_mask_the_mean_covers_every_position(mean_bert):
    # given: the short text padded, but no attention mask given (every position counts)
    model, _ = mean_bert
    ids, _ = right_padded([LONG, SHORT], PAD["bert"])
    # when
    with torch.no_grad():
        unmasked = model(input_ids=ids).logits
    # then: the padded text reads differently than alone (so the masked test above can fail)
    assert not torch.allclose(unmasked[1:], logits_of(model, [SHORT], PAD["bert"]), atol=1e-4)


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_the_head_reads_the_masked_mean_of_the_last_hidden_states(arch):
    # given: the model before and after mean pooling, and what the head module receives
    model = tiny_classifier(arch)
    plain = copy.deepcopy(model)
    attach_pooling(model, "mean")
    seen = []
    model.classifier.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    ids, mask = right_padded([LONG, SHORT], PAD[arch])
    # when
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        hidden = plain.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
    # then: the mean of the real tokens' states (computed by hand), at the position the head reads
    expected = torch.stack([hidden[i, : int(mask[i].sum())].mean(dim=0) for i in range(len(ids))])
    head_input = seen[0] if seen[0].dim() == 2 else seen[0][:, 0]  # BERT: pooled; RoBERTa: the sequence
    torch.testing.assert_close(head_input, expected, rtol=0, atol=1e-5)
    with torch.no_grad():
        by_hand = plain.classifier(expected if arch == "bert" else expected.unsqueeze(1))
    torch.testing.assert_close(logits, by_hand, rtol=0, atol=1e-5)


def test_mean_pooling_replaces_berts_pooler_by_a_pass_through(mean_bert):
    # given / when
    model, _ = mean_bert
    # then: no dense + tanh between the mean and the classifier
    assert isinstance(model.bert.pooler, FirstToken)


def test_the_pooling_is_recorded_in_the_config_and_survives_saving(mean_bert, tmp_path):
    # given: a model with mean pooling attached
    model, plain = mean_bert
    # when
    model.config.save_pretrained(tmp_path)
    reloaded = AutoConfig.from_pretrained(tmp_path)
    # then: the choice travels with the saved config (load_trained re-attaches it); an untouched config says auto
    assert getattr(model.config, POOLING_KEY) == "mean"
    assert saved_pooling(model.config) == "mean"
    assert saved_pooling(reloaded) == "mean"
    assert saved_pooling(plain.config) == "auto"


def test_cls_pooling_leaves_the_model_unchanged():
    # given: a tiny BERT and an untouched copy
    model = tiny_classifier("bert")
    plain = copy.deepcopy(model)
    pooler = model.bert.pooler
    # when
    attach_pooling(model, "cls")
    # then: same pooler, no hooks, same logits; only the config records the choice
    assert model.bert.pooler is pooler
    assert not model.bert._forward_pre_hooks and not model.bert.encoder._forward_hooks
    torch.testing.assert_close(logits_of(model, [LONG, SHORT], 0), logits_of(plain, [LONG, SHORT], 0), rtol=0, atol=0)
    assert saved_pooling(model.config) == "cls"


def test_masked_mean_ignores_masked_positions_and_survives_an_empty_mask():
    # given: two rows, the second with only its first position real, a third with no real position
    hidden = torch.arange(18, dtype=torch.float32).reshape(3, 3, 2)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    # when
    mean = masked_mean(hidden, mask)
    # then
    torch.testing.assert_close(mean[0], hidden[0].mean(dim=0))
    torch.testing.assert_close(mean[1], hidden[1, 0])
    assert torch.isfinite(mean).all() and (mean[2] == 0).all()
    torch.testing.assert_close(masked_mean(hidden, None), hidden.mean(dim=1))
