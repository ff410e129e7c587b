"""What a base model is, read from its folder: family, layer stack, LoRA targets, pooling. No prefect here.

Everything here works on the model's config and an empty (meta-device) instance, so the flows can check a
model folder and the LoRA settings in a second, before any data work or launch.
"""

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from training.config import HeadSettings, LoraSettings

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ATTENTION_PARTS = re.compile(r"(^|\.)(self_attn|attn|attention|self_attention)(\.|$)")
SENTENCE_POOLING_FILE = "1_Pooling/config.json"  # sentence-transformers: how the checkpoint was trained to pool


class ModelConfigError(ValueError):
    """A model folder, LoRA or head setting that cannot work: shown as one paragraph, never retried."""


class ModelLayout(BaseModel):
    """The parts of a model the training program needs to name."""

    model_type: str
    family: Literal["decoder", "encoder"]
    num_layers: int
    layers_path: str  # the module list of transformer blocks, e.g. "model.layers" or "bert.encoder.layer"
    layers: list[int]  # the blocks LoRA goes into
    lora_targets: list[str]  # exact module names (peft matches them as given)
    target_suffixes: list[str]  # the same, by their last name part: what a user reads
    pooling: Literal["last", "cls", "mean"]


def read_model_config(model_path: str | Path):
    """The folder's config.json, or a ModelConfigError saying what the folder lacks."""
    from transformers import AutoConfig

    folder = Path(model_path)
    if not (folder / "config.json").is_file():
        raise ModelConfigError(
            f"{folder} is not a model folder: it has no config.json. Point --model at a folder with config.json, "
            "the weights (model.safetensors) and the tokenizer files, e.g. a Hugging Face snapshot"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ModelConfigError(f"{folder} has a config.json but no weights ({', '.join(WEIGHT_FILES[::2])})")
    try:
        return AutoConfig.from_pretrained(folder)
    except (ValueError, KeyError, OSError) as err:
        raise ModelConfigError(f"{folder}/config.json cannot be read by transformers: {err}") from err


def model_family(config) -> Literal["decoder", "encoder"]:
    """Encoders are the types with a masked-LM head (BERT, RoBERTa, XLM-R, ELECTRA, DeBERTa); the rest decode."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return "encoder" if config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES else "decoder"


def empty_classifier(config, num_labels: int = 2):
    """The sequence-classification model of this config on the meta device: module names, no memory, no weights."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise ModelConfigError(
            f"model type {config.model_type!r} has no sequence-classification class in transformers: it cannot be "
            "a classifier base. Use a decoder (Qwen2/3, Llama, Gemma, Mistral) or an encoder (BERT, RoBERTa, "
            "XLM-R, ELECTRA, DeBERTa)"
        )
    config = config.__class__.from_dict({**config.to_dict(), "num_labels": num_labels})
    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(config)


def layer_stack(model) -> tuple[str, int]:
    """The ModuleList of transformer blocks: the one as long as config.num_hidden_layers."""
    from torch import nn

    wanted = getattr(model.config, "num_hidden_layers", None)
    stacks = [(name, len(m)) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    matching = [s for s in stacks if s[1] == wanted] or sorted(stacks, key=lambda s: -s[1])[:1]
    if not matching:
        raise ModelConfigError(f"{type(model).__name__} has no list of transformer layers: LoRA cannot be placed")
    return matching[0]


def resolve_layers(indices: list[int] | None, num_layers: int) -> list[int]:
    """[-6, ..., -1] on a 36-layer model -> [30, ..., 35]; None: all layers; out of range is an error."""
    if indices is None:
        return list(range(num_layers))
    resolved = [i if i >= 0 else num_layers + i for i in indices]
    bad = [i for i, r in zip(indices, resolved, strict=True) if not 0 <= r < num_layers]
    if bad:
        raise ModelConfigError(
            f"lora.layers_to_transform {bad} out of range for a model with {num_layers} layers "
            f"(use -1 ... -{num_layers} or 0 ... {num_layers - 1}, or null for all)"
        )
    return sorted(set(resolved))


def lora_targets(model, stack: str, layers: list[int], wanted: list[str] | None) -> list[str]:
    """Exact names of the Linear layers LoRA wraps in the chosen blocks.

    wanted None: every Linear of the attention block (q/k/v/o, query/key/value/output.dense). Else the Linear
    layers whose name ends with one of `wanted`.
    """
    from torch import nn

    prefixes = tuple(f"{stack}.{i}." for i in layers)
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith(prefixes)]
    if wanted is None:
        found = [n for n in linears if ATTENTION_PARTS.search(n.split(".", stack.count(".") + 2)[-1])]
    else:
        found = [n for n in linears if any(n == w or n.endswith("." + w) for w in wanted)]
    if not found:
        in_block = sorted({n.removeprefix(f"{stack}.{layers[0]}.") for n in linears if n.startswith(prefixes[0])})
        asked = "attention projections" if wanted is None else f"lora.target_modules {wanted}"
        raise ModelConfigError(
            f"no {asked} in the layers of this {model.config.model_type} model; its block has these Linear "
            f"layers: {', '.join(in_block) or 'none'}. Set lora.target_modules to some of their last names"
        )
    return found


def trained_pooling(model_path: str | Path) -> str | None:
    """'mean' or 'cls' when the folder says how the checkpoint was trained to pool (sentence-transformers)."""
    path = Path(model_path) / SENTENCE_POOLING_FILE
    if not path.is_file():
        return None
    pooling = json.loads(path.read_text(encoding="utf-8"))
    if pooling.get("pooling_mode_mean_tokens"):
        return "mean"
    return "cls" if pooling.get("pooling_mode_cls_token") else None


def choose_pooling(requested: str, family: str, model_path: str | Path) -> Literal["last", "cls", "mean"]:
    """auto: the last real token for decoders; for encoders how the checkpoint was trained, else [CLS]."""
    if requested == "auto":
        return "last" if family == "decoder" else (trained_pooling(model_path) or "cls")
    if family == "decoder" and requested != "last":
        raise ModelConfigError(f"head.pooling {requested!r} is for encoders; a decoder reads its last real token")
    if family == "encoder" and requested == "last":
        raise ModelConfigError("head.pooling 'last' is for decoders; an encoder reads [CLS] or the mean of its tokens")
    return requested


def check_modules_to_save(model, names: list[str] | None) -> None:
    """Every module the user asks to train fully must exist."""
    present = {n for n, _ in model.named_modules()}
    missing = [w for w in names or [] if not any(n == w or n.endswith("." + w) for n in present)]
    if missing:
        top = ", ".join(n for n, _ in model.named_children())
        raise ModelConfigError(f"lora.modules_to_save {missing} match no module of this model (its parts: {top})")


def read_layout(model_path: str | Path, lora: LoraSettings, head: HeadSettings) -> ModelLayout:
    """Check a model folder against the LoRA and head settings and name the parts training will touch."""
    config = read_model_config(model_path)
    model = empty_classifier(config)
    family = model_family(config)
    stack, count = layer_stack(model)
    layers = resolve_layers(lora.layers_to_transform, count)
    targets = lora_targets(model, stack, layers, lora.target_modules) if lora.enabled else []
    check_modules_to_save(model, lora.modules_to_save)
    return ModelLayout(
        model_type=config.model_type,
        family=family,
        num_layers=count,
        layers_path=stack,
        layers=layers,
        lora_targets=targets,
        target_suffixes=sorted({t.rsplit(".", 1)[-1] for t in targets}),
        pooling=choose_pooling(head.pooling, family, model_path),
    )
