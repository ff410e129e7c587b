"""Test-split predictions the training program saves and the flow's evaluation reads; the softmax both use."""

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.base import StrictModel

TEST_PREDICTIONS_FILE = "test_predictions.parquet"


class TestPredictions(StrictModel):
    """One row per test example: its label slot, the predicted slot and that slot's probability."""

    __test__ = False  # not a pytest class, despite its name

    label: Series[int] = pa.Field(ge=0)
    pred: Series[int] = pa.Field(ge=0)
    prob: Series[float] = pa.Field(in_range={"min_value": 0.0, "max_value": 1.0})


def softmax(logits: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Row-wise probabilities, numerically stable; slots outside `allowed` get probability 0."""
    logits = np.asarray(logits, dtype="float64")
    if allowed is not None:
        logits = np.where(allowed, logits, -np.inf)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def save_test_predictions(logits: np.ndarray, labels: np.ndarray, path: str | Path) -> Path:
    """label, predicted slot and its probability per test row, validated, as Parquet."""
    probs = softmax(logits)
    pred = probs.argmax(axis=-1)
    frame = pd.DataFrame({"label": labels, "pred": pred, "prob": probs[np.arange(len(pred)), pred]})
    TestPredictions.validate(frame).to_parquet(path, index=False)
    return Path(path)


def read_test_predictions(path: str | Path) -> pd.DataFrame:
    return TestPredictions.validate(pd.read_parquet(path), lazy=True)
