"""A tiny random decoder and a byte-level BPE tokenizer trained on synthetic ledger text.

Tests and the demo use it because no weights can be downloaded; it is saved with save_pretrained and loaded
back through the Auto classes, the same code path a real (e.g. 4B) checkpoint on disk takes.

    account-tax make-tiny-model --out models/tiny [--arch qwen2|llama]
"""

from pathlib import Path

import pandas as pd

EOS = "<|endoftext|>"
ARCHS = ("qwen2", "llama")


def corpus(rows: int = 4000, seed: int = 0) -> list[str]:
    """Ledger-like lines (Hangul, digits, the text template's field names) to train the tokenizer on."""
    from ledger.conf import load_yaml
    from synth.ledger import make_ledger

    ledger = make_ledger(rows, accounts=150, seed=seed, dirty=0.05)
    labels = [f["label"] for f in load_yaml("text_template.yaml")["fields"]]
    lines = ledger.astype("str").agg(" | ".join, axis=1).tolist()
    amounts = pd.to_numeric(ledger["금액"], errors="coerce").dropna().astype("int64")
    lines += [f"{a:,}원" for a in amounts.head(2000)]
    return lines + [": ".join(labels), "예 아니오 월 화 수 목 금 토 일"]


def train_tokenizer(lines: list[str], vocab_size: int):
    """Byte-level BPE: every Hangul syllable stays representable (no unknown tokens, no dropped text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # a 3-line bar for a 1-second job: noise on the demo terminal
    )
    tok.train_from_iterator(lines, trainer)
    # no pad token on purpose: like most decoders, the pipeline must give it one
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)


def model_config(arch: str, vocab_size: int, eos_id: int, layers: int, hidden: int):
    from transformers import LlamaConfig, Qwen2Config

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    config_class = Qwen2Config if arch == "qwen2" else LlamaConfig
    return config_class(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        tie_word_embeddings=True,
    )


def make_tiny_model(
    out: str | Path, arch: str = "qwen2", vocab_size: int = 3000, layers: int = 8, hidden: int = 64, seed: int = 0
) -> Path:
    """Write a tiny random causal LM + tokenizer to `out`; AutoModelForSequenceClassification adds the head."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(out)
    tokenizer = train_tokenizer(corpus(seed=seed), vocab_size)
    config = model_config(arch, len(tokenizer), tokenizer.eos_token_id, layers, hidden)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
