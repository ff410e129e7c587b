"""The model: a decoder with a sequence-classification head over the label slots, LoRA on its last layers."""

import logging

import torch

from contracts.label_map import LabelMap
from training.config import LoraSettings, RunConfig

LOGGER = logging.getLogger(__name__)


def resolve_layers(indices: list[int] | None, num_layers: int) -> list[int] | None:
    """[-6, ..., -1] on a 36-layer model -> [30, ..., 35]; an index out of range is an error."""
    if indices is None:
        return None
    resolved = sorted({i if i >= 0 else num_layers + i for i in indices})
    bad = [
        i
        for i, r in zip(indices, [i if i >= 0 else num_layers + i for i in indices], strict=True)
        if not 0 <= r < num_layers
    ]
    if bad:
        raise ValueError(f"lora.layers_to_transform {bad} out of range for a model with {num_layers} layers")
    return resolved


def training_dtype() -> torch.dtype:
    """bf16 on a GPU that supports it, fp32 otherwise (CPU)."""
    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def apply_lora(model, settings: LoraSettings):
    from peft import LoraConfig, TaskType, get_peft_model

    layers = resolve_layers(settings.layers_to_transform, model.config.num_hidden_layers)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        layers_to_transform=layers,
        modules_to_save=settings.modules_to_save,
    )
    return get_peft_model(model, config)


def build_model(config: RunConfig, tokenizer):
    """Base model from a local path, head over all slots, pad id matched to the tokenizer, LoRA applied."""
    from transformers import AutoModelForSequenceClassification

    names = LabelMap.read(config.label_map).id2label()
    model = AutoModelForSequenceClassification.from_pretrained(
        config.model_path,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        dtype=training_dtype(),
    )
    if config.pad_added:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model = apply_lora(model, config.lora)
    trainable, total = model.get_nb_trainable_parameters()
    LOGGER.info("trainable parameters: %s of %s (%.2f%%)", f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    return model
