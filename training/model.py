"""The model: the base checkpoint with a sequence-classification head over the label slots, the pooling its
family needs, the head started from a linear probe, LoRA on the attention of the last layers."""

import logging
from pathlib import Path

import torch

from contracts.label_map import LabelMap
from contracts.run_folder import ADAPTER_CONFIG_FILE, HEAD_CONFIG_DIR
from training.architecture import ModelConfigError, ModelLayout, read_layout
from training.config import LoraSettings, RunConfig
from training.pooling import attach_pooling, saved_pooling

LOGGER = logging.getLogger(__name__)
HEAD_NAMES = ("classifier", "score")  # what transformers calls the head of its *ForSequenceClassification classes


def training_dtype() -> torch.dtype:
    """bf16 on a GPU that supports it, fp32 otherwise (CPU)."""
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def new_module_names(missing_keys) -> list[str]:
    """The modules the checkpoint had no weights for (the head, DeBERTa's pooler, ...): they train fully."""
    modules = sorted({key.rsplit(".", 1)[0] for key in missing_keys if "." in key})
    return [m for m in modules if not any(m.startswith(other + ".") for other in modules)]


def apply_lora(model, settings: LoraSettings, layout: ModelLayout, new_modules: list[str]):
    """LoRA on the layout's exact target modules; head and new modules trained fully (modules_to_save)."""
    from peft import LoraConfig, TaskType, get_peft_model

    extra = [m for m in new_modules if m.rsplit(".", 1)[-1] not in HEAD_NAMES]
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=layout.lora_targets,
        modules_to_save=[*(settings.modules_to_save or []), *extra] or None,
    )
    return get_peft_model(model, config)


def load_base(config: RunConfig, tokenizer):
    """The checkpoint as a classifier over every label slot, pad id matched, pooling attached; and its layout."""
    from transformers import AutoModelForSequenceClassification

    layout = read_layout(config.model_path, config.lora, config.head)
    names = LabelMap.read(config.label_map).id2label()
    model, info = AutoModelForSequenceClassification.from_pretrained(
        config.model_path,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        dtype=training_dtype(),
        ignore_mismatched_sizes=True,  # a folder that is already a classifier: its head is replaced, and said
        output_loading_info=True,
    )
    if info.get("mismatched_keys"):
        LOGGER.warning("head re-initialised for %d label slots: %s", len(names), sorted(info["mismatched_keys"]))
    if config.pad_added:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    attach_pooling(model, layout.pooling)
    new_modules = new_module_names([*info.get("missing_keys", []), *info.get("mismatched_keys", [])])
    LOGGER.info(
        "%s (%s, %d layers): pooling %s; newly initialised: %s",
        layout.model_type, layout.family, layout.num_layers, layout.pooling, ", ".join(new_modules) or "nothing",
    )  # fmt: skip
    return model, layout, new_modules


def base_dropout_off(config: RunConfig) -> bool:
    """Whether the base model fine-tunes without its own dropout (head.base_dropout; auto: when the head starts
    from a linear probe, which was fitted on the features dropout would perturb)."""
    return config.head.base_dropout == "off" or (config.head.base_dropout == "auto" and config.head.init == "probe")


def turn_off_dropout(model) -> int:
    """Every dropout of the base model at 0 (LoRA's own, added later, keeps lora.dropout); how many were on.

    Dropout layers (encoders; attention reads their p) and the float `attention_dropout` decoders' attention
    modules pass to the attention function."""
    switched = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and module.p > 0:
            module.p, switched = 0.0, switched + 1
        elif isinstance(getattr(module, "attention_dropout", None), float) and module.attention_dropout > 0:
            module.attention_dropout, switched = 0.0, switched + 1
    return switched


def wrap_for_training(model, config: RunConfig, layout: ModelLayout, new_modules: list[str]):
    """The base's dropout off where asked, then LoRA (or every weight trainable when lora.enabled is false); logs
    what trains."""
    if base_dropout_off(config):
        LOGGER.info("base model dropout off while fine-tuning (head.base_dropout): %d layers", turn_off_dropout(model))
    if config.lora.enabled:
        model = apply_lora(model, config.lora, layout, new_modules)
        trainable, total = model.get_nb_trainable_parameters()
        LOGGER.info(
            "LoRA r=%d on %s of layers %s; trainable parameters: %s of %s (%.2f%%)",
            config.lora.r, "/".join(layout.target_suffixes), layout.layers, f"{trainable:,}", f"{total:,}",
            100 * trainable / total,
        )  # fmt: skip
    else:
        LOGGER.info("full fine-tuning: all %s parameters train", f"{sum(p.numel() for p in model.parameters()):,}")
    return model


def plain_model(model):
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.base_model.model if hasattr(model, "peft_config") else model


def load_trained(model_path: str, final_dir: str | Path, pad_added: bool, device: str | None = None):
    """A finished run's classifier for inference: base rebuilt from the saved head config, adapter merged,
    pooling re-attached; a full fine-tuning run loads from its folder as it is."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    final = Path(final_dir)
    tokenizer = AutoTokenizer.from_pretrained(final)
    head = AutoConfig.from_pretrained(final / HEAD_CONFIG_DIR)
    if (final / ADAPTER_CONFIG_FILE).exists():
        from peft import PeftModel

        base = AutoModelForSequenceClassification.from_pretrained(model_path, config=head, dtype=training_dtype())
        if pad_added:
            base.resize_token_embeddings(len(tokenizer))
        model = PeftModel.from_pretrained(base, final).merge_and_unload()
    elif (final / "config.json").exists():
        model = AutoModelForSequenceClassification.from_pretrained(final, dtype=training_dtype())
    else:
        raise ModelConfigError(f"{final} holds neither a LoRA adapter nor a model")
    attach_pooling(model, saved_pooling(head))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.eval().to(device), tokenizer
