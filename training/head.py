"""The head's learning rate, matched to the scale of what it reads.

One Adam step moves each head weight by about the learning rate, so it moves a logit in proportion to the
size of the features: a sentence encoder's mean-pooled states (all-MiniLM-L6-v2: RMS ~0.07) move its logits
~15x slower than a decoder's normalised states (RMS ~1) at the same rate. Measured (bench/LEARNING.md): with
a random head and LoRA at 2e-3 the encoder could not fit 64 rows in 40 steps, and fitted them with the head at
20x. The head's rate is therefore the trainer's divided by the features' RMS, within [1, MAX_MULTIPLIER].
"""

import json
from pathlib import Path

import numpy as np

MAX_MULTIPLIER = 100.0
NEGLIGIBLE = 1.1  # below this the head keeps the trainer's rate (and the optimizer its plain two groups)
SAMPLE_ROWS = 256  # rows read to measure the scale when no probe ran


def feature_rms(features: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(features, dtype="float64"))))


def lr_multiplier(rms: float, requested: float | None) -> float:
    """The requested multiplier, or 1/RMS of the head's input within [1, MAX_MULTIPLIER]."""
    if requested is not None:
        return float(requested)
    multiplier = float(np.clip(1.0 / max(rms, 1e-12), 1.0, MAX_MULTIPLIER))
    return 1.0 if multiplier < NEGLIGIBLE else multiplier


def settle_head_lr(path: Path, rms: float | None, requested: float | None, checkpoint: str | None = None) -> dict:
    """The multiplier of this run: decided once (with the measured RMS) and read back when the run resumes, from
    the checkpoint it resumes (its optimizer state has that many groups) or else the run folder."""
    saved = [p for p in ([Path(checkpoint) / path.name] if checkpoint else []) + [path] if p.exists()]
    if saved and rms is None:
        return json.loads(saved[0].read_text(encoding="utf-8"))
    decided = {"feature_rms": rms, "lr_multiplier": lr_multiplier(rms if rms is not None else 1.0, requested)}
    return decided
