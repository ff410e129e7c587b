"""read_layout's refusals: every folder or setting that cannot work is a ModelConfigError whose message names
the problem (the folders: test_architecture.py)."""
# ruff: noqa: F811  (pytest injects the imported `models` fixture by its argument name)

import json
import shutil

import pytest

from tests.test_architecture import layout_of, models  # noqa: F401  (a helper and the module's model folders)
from training.architecture import (
    ModelConfigError,
)
from training.config import HeadSettings, LoraSettings

# ---- errors ------------------------------------------------------------------------------------------------------


def test_a_folder_without_config_json_is_refused(tmp_path):
    # given: a folder with weights only
    (tmp_path / "model.safetensors").write_bytes(b"")
    # when / then
    with pytest.raises(ModelConfigError, match="no config.json"):
        layout_of(tmp_path)


def test_a_missing_folder_is_refused(tmp_path):
    # given / when / then
    with pytest.raises(ModelConfigError, match="not a model folder"):
        layout_of(tmp_path / "nowhere")


def test_a_config_without_weights_is_refused(models, tmp_path):
    # given: the decoder's config.json and tokenizer, no weights
    shutil.copy(models["decoder"] / "config.json", tmp_path / "config.json")
    shutil.copy(models["decoder"] / "tokenizer.json", tmp_path / "tokenizer.json")
    # when / then
    with pytest.raises(ModelConfigError, match="no weights") as err:
        layout_of(tmp_path)
    assert "model.safetensors" in str(err.value)


def test_a_model_type_without_a_sequence_classification_class_is_refused(tmp_path):
    # given: a ViT folder (image classification only); the weights file is never read
    from transformers import ViTConfig

    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64).save_pretrained(
        tmp_path
    )
    (tmp_path / "model.safetensors").write_bytes(b"")
    # when / then
    with pytest.raises(ModelConfigError, match="'vit' has no sequence-classification class"):
        layout_of(tmp_path, LoraSettings(layers_to_transform=None))


def test_an_unreadable_config_is_refused(tmp_path):
    # given: a config.json transformers does not know
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    # when / then
    with pytest.raises(ModelConfigError, match="cannot be read by transformers"):
        layout_of(tmp_path)


def test_target_modules_matching_nothing_list_the_blocks_linear_layers(models):
    # given: GPT-2's name for the fused attention projection, on a Qwen2 model
    lora = LoraSettings(target_modules=["c_attn"])
    # when
    with pytest.raises(ModelConfigError) as err:
        layout_of(models["decoder"], lora)
    # then: the message says what was asked and what the block has
    message = str(err.value)
    assert "c_attn" in message
    for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.down_proj"):
        assert name in message


@pytest.mark.parametrize("layers", [[8], [-9], [0, 100]])
def test_layers_out_of_range_are_refused(models, layers):
    # given / when / then: an 8-layer model
    with pytest.raises(ModelConfigError, match="out of range for a model with 8 layers"):
        layout_of(models["decoder"], LoraSettings(layers_to_transform=layers))


def test_the_default_last_six_layers_do_not_fit_a_two_layer_model(models):
    # given / when / then: the tiny BERT has 2 layers
    with pytest.raises(ModelConfigError, match="2 layers"):
        layout_of(models["bert"])


def test_modules_to_save_naming_a_missing_module_is_refused(models):
    # given: "pooler" (an encoder's part) on a decoder
    lora = LoraSettings(modules_to_save=["pooler"])
    # when / then
    with pytest.raises(ModelConfigError, match=r"modules_to_save \['pooler'\]") as err:
        layout_of(models["decoder"], lora)
    assert "score" in str(err.value)  # the model's parts are listed


def test_modules_to_save_naming_present_modules_is_accepted(models):
    # given / when: a decoder's final norm and head exist
    layout = layout_of(models["decoder"], LoraSettings(modules_to_save=["norm", "score"]))
    # then
    assert layout.family == "decoder"


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_encoder_pooling_on_a_decoder_is_refused(models, pooling):
    # given / when / then
    with pytest.raises(ModelConfigError, match=f"head.pooling '{pooling}' is for encoders"):
        layout_of(models["decoder"], head=HeadSettings(pooling=pooling))


@pytest.mark.parametrize("model", ["bundled", "bert"])
def test_last_token_pooling_on_an_encoder_is_refused(models, model):
    # given / when / then
    with pytest.raises(ModelConfigError, match="head.pooling 'last' is for decoders"):
        layout_of(models[model], LoraSettings(layers_to_transform=None), HeadSettings(pooling="last"))


def test_mean_pooling_that_read_layout_accepts_can_be_attached(tmp_path):
    # given: a DistilBERT sentence-transformers folder trained with mean pooling (like msmarco-distilbert-*)
    from transformers import AutoModelForSequenceClassification, DistilBertConfig, DistilBertModel

    from training.pooling import attach_pooling

    folder = tmp_path / "distilbert"
    DistilBertModel(DistilBertConfig(vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64)).save_pretrained(
        folder
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    # when: the up-front check passes or refuses the folder
    try:
        layout = layout_of(folder, LoraSettings(layers_to_transform=None))
    except ModelConfigError as err:  # refusing it here, before any data work, is fine too
        assert "pooling" in str(err)
        return
    # then: what it accepted must work when the model is loaded (load_base attaches the layout's pooling)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    attach_pooling(model, layout.pooling)
