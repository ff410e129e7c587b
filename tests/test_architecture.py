"""read_layout: what a base model folder is (family, layer stack, LoRA targets, pooling), checked in a second.

Three real folders: a tiny random Qwen2 decoder (synth.tiny_model), the bundled all-MiniLM-L6-v2 (a BERT with
sentence-transformers mean pooling) and a tiny random BERT saved here without 1_Pooling. Every setting that
cannot work is a ModelConfigError whose message names the problem.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from training.architecture import (
    empty_classifier,
    read_layout,
    read_model_config,
    trained_pooling,
)
from training.config import HeadSettings, LoraSettings

LAST_SIX = [2, 3, 4, 5, 6, 7]  # the default layers_to_transform [-6 ... -1] of an 8-layer model


def tiny_bert_config(**extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, **extra
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The three model folders, built once for the module (the tokenizer training of the decoder takes seconds)."""
    from transformers import BertModel

    from synth.tiny_model import make_tiny_model
    from training.bundled_model import bundled_model

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    bert = root / "tiny-bert"
    BertModel(tiny_bert_config()).save_pretrained(bert)
    return {
        "decoder": make_tiny_model(root / "tiny", layers=8, hidden=32, vocab_size=600),
        "bundled": bundled_model(root / "bundled"),
        "bert": bert,
    }


@pytest.fixture
def copy_of(models, tmp_path):
    """A private copy of one of the module's folders, for tests that change files."""

    def copy(name: str) -> Path:
        return Path(shutil.copytree(models[name], tmp_path / name))

    return copy


def layout_of(path, lora: LoraSettings | None = None, head: HeadSettings | None = None):
    return read_layout(path, lora or LoraSettings(), head or HeadSettings())


def layer_of(name: str, stack: str) -> int:
    return int(name.removeprefix(stack + ".").split(".")[0])


# ---- the decoder ---------------------------------------------------------------------------------------------


def test_decoder_layout_names_its_family_stack_and_last_token_pooling(models):
    # given: the tiny 8-layer Qwen2 and the default settings
    # when
    layout = layout_of(models["decoder"])
    # then
    assert layout.model_type == "qwen2"
    assert layout.family == "decoder"
    assert layout.num_layers == 8
    assert layout.layers_path == "model.layers"
    assert layout.layers == LAST_SIX
    assert layout.pooling == "last"


def test_decoder_lora_targets_are_the_attention_projections_of_the_last_layers_only(models):
    # given / when: the default LoRA settings (attention of the last six layers)
    layout = layout_of(models["decoder"])
    # then: q/k/v/o of each of the six layers, nothing of the MLP, nothing of layers 0 and 1
    assert layout.target_suffixes == ["k_proj", "o_proj", "q_proj", "v_proj"]
    expected = {f"model.layers.{i}.self_attn.{p}" for i in LAST_SIX for p in ("q_proj", "k_proj", "v_proj", "o_proj")}
    assert set(layout.lora_targets) == expected
    assert len(layout.lora_targets) == len(expected)


def test_decoder_lora_targets_are_linear_layers_of_the_loaded_classifier(models):
    # given: the real classifier the training program loads from the folder
    from transformers import AutoModelForSequenceClassification

    layout = layout_of(models["decoder"])
    model = AutoModelForSequenceClassification.from_pretrained(models["decoder"], num_labels=3)
    modules = dict(model.named_modules())
    # when / then: every exact target name is a Linear there (peft matches the names as given)
    assert all(isinstance(modules.get(name), nn.Linear) for name in layout.lora_targets)


def test_explicit_target_modules_pick_those_linear_layers(models):
    # given: only q and v, in the last two layers
    lora = LoraSettings(target_modules=["q_proj", "v_proj"], layers_to_transform=[-2, -1])
    # when
    layout = layout_of(models["decoder"], lora)
    # then
    assert layout.layers == [6, 7]
    assert sorted(layout.lora_targets) == [
        "model.layers.6.self_attn.q_proj",
        "model.layers.6.self_attn.v_proj",
        "model.layers.7.self_attn.q_proj",
        "model.layers.7.self_attn.v_proj",
    ]
    assert layout.target_suffixes == ["q_proj", "v_proj"]


def test_all_layers_when_layers_to_transform_is_null(models):
    # given / when
    layout = layout_of(models["decoder"], LoraSettings(layers_to_transform=None))
    # then: every block has its four projections adapted
    assert layout.layers == list(range(8))
    assert sorted({layer_of(t, layout.layers_path) for t in layout.lora_targets}) == list(range(8))
    assert len(layout.lora_targets) == 8 * 4


def test_full_fine_tuning_has_no_lora_targets(models):
    # given / when: LoRA disabled
    layout = layout_of(models["decoder"], LoraSettings(enabled=False))
    # then: nothing to wrap; the rest of the layout is still read
    assert layout.lora_targets == [] and layout.target_suffixes == []
    assert layout.family == "decoder" and layout.pooling == "last"


# ---- the encoders ----------------------------------------------------------------------------------------------


def test_bundled_bert_is_an_encoder_with_attention_targets_and_its_trained_mean_pooling(models):
    # given: all-MiniLM-L6-v2 (6 layers; 1_Pooling/config.json says mean tokens)
    # when
    layout = layout_of(models["bundled"])
    # then
    assert layout.model_type == "bert"
    assert layout.family == "encoder"
    assert layout.num_layers == 6
    assert layout.layers_path == "bert.encoder.layer"
    assert layout.layers == list(range(6))
    assert layout.target_suffixes == ["dense", "key", "query", "value"]
    assert layout.pooling == "mean"


def test_bundled_bert_targets_only_the_attention_dense_not_the_feed_forward(models):
    # given / when
    layout = layout_of(models["bundled"])
    # then: per layer query/key/value and attention.output.dense; intermediate.dense and output.dense stay out
    expected = {
        f"bert.encoder.layer.{i}.attention.{part}"
        for i in range(6)
        for part in ("self.query", "self.key", "self.value", "output.dense")
    }
    assert set(layout.lora_targets) == expected
    assert not [t for t in layout.lora_targets if re.search(r"\.layer\.\d+\.(intermediate|output)\.dense$", t)]


def test_encoder_without_sentence_pooling_reads_cls(models):
    # given: a tiny BERT saved without 1_Pooling
    # when
    layout = layout_of(models["bert"], LoraSettings(layers_to_transform=None))
    # then
    assert layout.family == "encoder"
    assert layout.num_layers == 2
    assert layout.pooling == "cls"


@pytest.mark.parametrize(
    ("pooling_config", "expected"),
    [
        ({"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}, "mean"),
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
        ({"pooling_mode_max_tokens": True}, None),
    ],
    ids=["mean", "cls", "max"],
)
def test_trained_pooling_reads_the_sentence_transformers_pooling(tmp_path, pooling_config, expected):
    # given
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config))
    # when / then: only mean and cls are poolings the classifier can reproduce
    assert trained_pooling(tmp_path) == expected


def test_encoder_with_a_cls_trained_checkpoint_reads_cls(copy_of):
    # given: the tiny BERT with a sentence-transformers file saying [CLS]
    folder = copy_of("bert")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    # when / then
    assert layout_of(folder, LoraSettings(layers_to_transform=None)).pooling == "cls"


@pytest.mark.parametrize(("model", "requested"), [("bundled", "cls"), ("bert", "mean")])
def test_an_explicit_encoder_pooling_overrides_the_checkpoint(models, model, requested):
    # given / when: head.pooling set explicitly
    layout = layout_of(models[model], LoraSettings(layers_to_transform=None), HeadSettings(pooling=requested))
    # then
    assert layout.pooling == requested


def test_a_folder_that_is_already_a_classifier_reads_like_its_base(tmp_path):
    # given: a BERT classifier saved with 5 labels (a run's output, or a hub classifier)
    from transformers import BertForSequenceClassification

    BertForSequenceClassification(tiny_bert_config(num_labels=5)).save_pretrained(tmp_path / "classifier")
    # when
    layout = layout_of(tmp_path / "classifier", LoraSettings(layers_to_transform=None))
    # then
    assert layout.family == "encoder" and layout.num_layers == 2 and layout.pooling == "cls"
    assert len(layout.lora_targets) == 2 * 4


def test_the_layout_is_read_from_an_empty_model(models):
    # given
    config = read_model_config(models["bundled"])
    # when
    model = empty_classifier(config, num_labels=7)
    # then: no memory and no weights, the right head size
    assert all(p.is_meta for p in model.parameters())
    assert model.config.num_labels == 7
