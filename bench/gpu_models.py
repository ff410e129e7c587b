"""Real-size model folders with random weights for `make gpu-check`, and what one token costs in FLOPs. No prefect.

A shape is the architecture part of a real checkpoint's config.json (conf/gpu_shapes.yaml). The folder holds that
config, random bf16 weights (built on the GPU: seconds, not the minutes a 4B CPU init takes) and a byte-level BPE
tokenizer trained here on synthetic ledger text with the shape's vocabulary size as its target.
"""

import json
from pathlib import Path

from ledger.conf import load_yaml

SHAPES_FILE = "gpu_shapes.yaml"


def shape_config(name: str, rehearse: bool = False) -> dict:
    """config.json values of a shape; rehearsal: the same family shrunk (conf's `rehearsal` block)."""
    conf = load_yaml(SHAPES_FILE)
    if name not in conf["shapes"]:
        raise ValueError(f"unknown shape {name!r}; conf/{SHAPES_FILE} has {', '.join(conf['shapes'])}")
    values = dict(conf["shapes"][name])
    if rehearse:
        values.update({k: v for k, v in conf["rehearsal"].items() if k != "tokenizer_vocab"})
    return values


def tokenizer_vocab(rehearse: bool) -> int:
    conf = load_yaml(SHAPES_FILE)
    return int(conf["rehearsal"]["tokenizer_vocab"] if rehearse else conf["tokenizer_vocab"])


def build_shape(name: str, out: Path, rehearse: bool = False, seed: int = 0) -> Path:
    """<out>/<name>: config.json, random weights, tokenizer (pad = EOS, as Qwen's). Reused when complete."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from synth.tiny_model import corpus, train_tokenizer

    folder = out / name
    if (folder / "model.safetensors.index.json").exists() or (folder / "model.safetensors").exists():
        return folder
    tokenizer = train_tokenizer(corpus(seed=seed), tokenizer_vocab(rehearse))
    tokenizer.pad_token = tokenizer.eos_token
    values = shape_config(name, rehearse)
    if len(tokenizer) > values["vocab_size"]:
        raise ValueError(f"{name}: tokenizer has {len(tokenizer)} tokens, more than the shape's {values['vocab_size']}")
    eos = tokenizer.eos_token_id
    config = AutoConfig.for_model(**values, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    cuda = torch.cuda.is_available()
    torch.manual_seed(seed)
    with torch.device("cuda" if cuda else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16 if cuda else torch.float32)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    del model
    if cuda:
        torch.cuda.empty_cache()
    return folder


def check_round_trip(folder: Path, text: str = "급여 이체 GS25 | 11,000") -> None:
    """The saved tokenizer loads back and keeps Hangul (STACK-NOTES: a Qwen config can load one that drops it)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    back = tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)
    if back.strip() != text:
        raise RuntimeError(f"{folder}: tokenizer round trip lost text: {text!r} -> {back!r}")


def parameter_counts(model) -> dict[str, int]:
    """Matmul weights by where the backward pass goes: all of them, those at or above the first LoRA layer (the
    backward stops below it), and the trainable ones (LoRA A/B and the head). Embeddings are lookups, not matmuls."""
    from torch import nn

    linear = {
        n: m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and ".original_module" not in n  # peft keeps the head's copy it replaces
    }
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lora_layers = sorted({_layer_index(n) for n in linear if "lora_" in n} - {None})
    lowest = lora_layers[0] if lora_layers else 0
    weights = {n: v for n, v in linear.items() if "lora_" not in n}
    above = sum(v for n, v in weights.items() if _layer_index(n) is None or _layer_index(n) >= lowest)
    frozen_linear = sum(weights.values())
    return {"linear": frozen_linear, "linear_from_first_lora_layer": above, "trainable": trainable}


def _layer_index(name: str) -> int | None:
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def flops_per_token(counts: dict[str, int]) -> dict[str, float]:
    """Two conventions, both per processed (padded) token; attention's sequence-length terms are left out (a few
    percent at 256 tokens).
      six_n: 6 x every matmul weight, frozen and trainable: the usual MFU convention (a full fine-tune's work).
      lora:  what a LoRA run does: forward 2N over every weight; backward 2N for the input gradients of the layers
             from the first LoRA layer up, plus 2N for the weight gradients of the trainable weights only."""
    forward = 2 * counts["linear"]
    backward = 2 * counts["linear_from_first_lora_layer"] + 2 * counts["trainable"]
    return {"six_n": 6.0 * counts["linear"], "lora": float(forward + backward)}


def peak_tflops(device_name: str) -> float | None:
    """The GPU's dense bf16 peak from conf (None: not listed)."""
    for name, tflops in load_yaml(SHAPES_FILE)["peak_bf16_tflops"].items():
        if name in device_name:
            return float(tflops)
    return None


def describe(folder: Path) -> dict:
    config = json.loads((folder / "config.json").read_text())
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
    return {k: config[k] for k in (*keys, "vocab_size")}
