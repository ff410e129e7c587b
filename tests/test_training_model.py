"""Model helpers: layers, LoRA placement, new modules, reloading a trained run (metrics and the loss:
test_trainer_loss.py)."""

import pytest
import torch

from training.architecture import ModelConfigError, read_layout, resolve_layers
from training.config import HeadSettings, LoraSettings, RunConfig
from training.model import apply_lora, load_trained, new_module_names, plain_model, wrap_for_training

# ---- resolve_layers -------------------------------------------------------------------------------------------


def test_resolve_layers_negative_indices_count_from_the_last_layer():
    # given / when / then: the default "last six" on a 36-layer model
    assert resolve_layers([-6, -5, -4, -3, -2, -1], 36) == [30, 31, 32, 33, 34, 35]


@pytest.mark.parametrize(
    ("indices", "expected"),
    [([0, 1, 2], [0, 1, 2]), ([-1, 0], [0, 35]), ([35, -1, 3], [3, 35]), ([10, -26], [10])],
)
def test_resolve_layers_mixed_and_positive_indices(indices, expected):
    # given / when / then: sorted, duplicates (35 and -1) merged
    assert resolve_layers(indices, 36) == expected


def test_resolve_layers_none_is_every_layer():
    # given / when / then
    assert resolve_layers(None, 36) == list(range(36))


@pytest.mark.parametrize("indices", [[36], [-37], [0, 40], [-1, -100]])
def test_resolve_layers_out_of_range_names_the_layer_count(indices):
    # given / when / then
    with pytest.raises(ModelConfigError, match="36 layers"):
        resolve_layers(indices, 36)


# ---- new_module_names / apply_lora / wrap_for_training / plain_model ----------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["score.weight"], ["score"]),
        (["classifier.weight", "classifier.bias", "pre_classifier.weight"], ["classifier", "pre_classifier"]),
        (["classifier.dense.weight", "classifier.out_proj.bias", "classifier.weight"], ["classifier"]),
        (["deberta.pooler.dense.weight", "classifier.weight"], ["classifier", "deberta.pooler.dense"]),
        (["logit_scale", "score.weight"], ["score"]),
        ([], []),
    ],
    ids=["decoder-head", "distilbert", "nested-in-a-new-module", "deberta-pooler", "top-level-parameter", "none"],
)
def test_new_module_names_are_the_outermost_modules_without_weights(keys, expected):
    # given: missing keys of a checkpoint load / when / then: one name per new module, nested ones folded in
    assert new_module_names(keys) == expected


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """A random 4-layer qwen2 causal LM saved without tokenizer (LoRA needs the folder's layout, not text)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    folder = tmp_path_factory.mktemp("qwen2")
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


def classifier_with_layout(folder, settings: LoraSettings):
    from transformers import AutoModelForSequenceClassification

    layout = read_layout(folder, settings, HeadSettings())
    torch.manual_seed(0)
    model, info = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=5, output_loading_info=True)
    return model, layout, new_module_names(info["missing_keys"])


def lora_wrapped(model) -> set[str]:
    prefix = "base_model.model."
    return {name.removeprefix(prefix) for name, module in model.named_modules() if hasattr(module, "lora_A")}


def test_apply_lora_wraps_exactly_the_layout_targets(base_folder):
    # given: LoRA on the attention of the last two of four layers
    settings = LoraSettings(r=4, alpha=8, layers_to_transform=[-2, -1])
    model, layout, new_modules = classifier_with_layout(base_folder, settings)
    # when
    wrapped = apply_lora(model, settings, layout, new_modules)
    # then: the LoRA layers are the layout's names, no more (nothing in layers 0 and 1, nothing in the MLP)
    assert lora_wrapped(wrapped) == set(layout.lora_targets)
    assert len(layout.lora_targets) == 2 * 4


def test_apply_lora_trains_lora_and_the_head_only(base_folder):
    # given
    settings = LoraSettings(r=4, alpha=8, layers_to_transform=[-1])
    model, layout, new_modules = classifier_with_layout(base_folder, settings)
    assert new_modules == ["score"]
    # when
    wrapped = apply_lora(model, settings, layout, new_modules)
    # then: LoRA A/B and the (new, randomly initialised) head train; the base checkpoint stays frozen
    trainable = [name for name, p in wrapped.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("lora_B" in n for n in trainable)
    assert any(".score." in n for n in trainable)
    assert all("lora_" in n or ".score." in n for n in trainable)


def test_apply_lora_trains_new_modules_and_the_asked_ones_fully(base_folder):
    # given: a new module besides the head (as DeBERTa's pooler would be), and one the user asks for
    settings = LoraSettings(r=4, alpha=8, layers_to_transform=[-1], modules_to_save=["embed_tokens"])
    model, layout, _ = classifier_with_layout(base_folder, settings)
    # when
    wrapped = apply_lora(model, settings, layout, ["model.norm", "score"])
    # then: both are in modules_to_save (the head goes there through peft's task type) and train
    saved = wrapped.peft_config["default"].modules_to_save
    assert "model.norm" in saved and "embed_tokens" in saved
    trainable = [name for name, p in wrapped.named_parameters() if p.requires_grad]
    assert any(".norm.modules_to_save." in n and "layers" not in n for n in trainable)
    assert any("embed_tokens.modules_to_save." in n for n in trainable)
    assert any(".score." in n for n in trainable)


def run_config(folder, lora: LoraSettings) -> RunConfig:
    return RunConfig(
        model_path=str(folder),
        dataset_path="unused",
        label_map="unused",
        tokenizer_path="unused",
        output_dir="unused",
        progress_file="unused",
        lora=lora,
    )


def test_full_fine_tuning_leaves_the_model_unwrapped_and_trainable(base_folder):
    # given: LoRA disabled
    lora = LoraSettings(enabled=False, layers_to_transform=None)
    model, layout, new_modules = classifier_with_layout(base_folder, lora)
    # when
    result = wrap_for_training(model, run_config(base_folder, lora), layout, new_modules)
    # then
    assert result is model and plain_model(result) is model
    assert all(p.requires_grad for p in result.parameters())


def test_plain_model_is_the_transformers_model_under_peft(base_folder):
    # given
    lora = LoraSettings(r=4, alpha=8, layers_to_transform=[-1])
    model, layout, new_modules = classifier_with_layout(base_folder, lora)
    # when
    wrapped = wrap_for_training(model, run_config(base_folder, lora), layout, new_modules)
    # then
    assert wrapped is not model and plain_model(wrapped) is model


# ---- load_trained ------------------------------------------------------------------------------------------------


def test_load_trained_rebuilds_a_mean_pooled_lora_run(tmp_path):
    # given: a LoRA run on the bundled BERT (mean pooling), saved as the training program saves it, with
    # non-zero LoRA B and a trained head so that both must come back
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.bundled_model import bundled_model
    from training.pooling import attach_pooling

    folder = bundled_model(tmp_path / "models")
    settings = LoraSettings(r=4, alpha=8, layers_to_transform=[-1])
    layout = read_layout(folder, settings, HeadSettings())
    torch.manual_seed(0)
    model, info = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3, output_loading_info=True)
    attach_pooling(model, layout.pooling)
    peft = apply_lora(model, settings, layout, new_module_names(info["missing_keys"]))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name or "classifier" in name:
                p.add_(torch.randn_like(p) * 0.1)
    final = tmp_path / "final"
    peft.save_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.save_pretrained(final)
    plain_model(peft).config.save_pretrained(final / "head_config")
    texts = ["사무용품 구입 11,000원", "KT 인터넷 요금 33,000원 세금계산서 전자"]  # two lengths: padding
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = peft.eval()(**batch).logits
    # when
    loaded, loaded_tokenizer = load_trained(str(folder), final, pad_added=False, device="cpu")
    # then: the same logits (adapter merged, head restored, mean pooling re-attached), in eval mode
    with torch.no_grad():
        logits = loaded(**batch).logits
    assert not loaded.training and layout.pooling == "mean"
    assert loaded_tokenizer.pad_token_id == tokenizer.pad_token_id
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-4)


def test_load_trained_refuses_a_folder_without_adapter_or_model(tmp_path, base_folder):
    # given: a final folder with a tokenizer and a head config only
    from transformers import AutoConfig

    from synth.tiny_model import train_tokenizer

    train_tokenizer(["사무용품 구입"], 280).save_pretrained(tmp_path)
    AutoConfig.from_pretrained(base_folder).save_pretrained(tmp_path / "head_config")
    # when / then
    with pytest.raises(ModelConfigError, match="neither a LoRA adapter nor a model"):
        load_trained(str(base_folder), tmp_path, pad_added=False, device="cpu")


def tiny_bert(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=5)  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    return BertForSequenceClassification.from_pretrained(tmp_path)


@pytest.mark.parametrize(("init", "setting", "off"), [("probe", "auto", True), ("random", "auto", False),
                                                      ("random", "off", True), ("probe", "keep", False)])  # fmt: skip
def test_the_base_fine_tunes_without_dropout_when_the_head_starts_from_a_probe(tmp_path, init, setting, off):
    from training.config import HeadSettings
    from training.model import base_dropout_off, turn_off_dropout

    # given a BERT classifier with its dropout at 0.1, and the head's start and base_dropout setting
    model = tiny_bert(tmp_path)
    config = run_config(tmp_path, LoraSettings()).model_copy(
        update={"head": HeadSettings(init=init, base_dropout=setting)}
    )
    # when the run decides, then dropout is off exactly when asked, or (auto) when the head starts from a probe
    assert base_dropout_off(config) is off
    # and turned off, no dropout of the base is left, and the model then trains as it evaluates
    assert turn_off_dropout(model) > 0
    assert all(m.p == 0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    ids = torch.randint(1, 100, (4, 12))
    model.train()
    trained = model(input_ids=ids).logits
    model.eval()
    assert torch.allclose(trained, model(input_ids=ids).logits, atol=1e-5)
