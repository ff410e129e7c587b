"""calibration.json beside a trained model (an LLM run's final/ or a baseline folder): the temperature, the
auto / review threshold and the figures behind them. Written after training, read by evaluation, prediction and
the MLflow model."""

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from ledger.work_store import CALIBRATION_FILE  # a completion marker, named with the others

VALID_LOGITS_FILE = "valid_logits.npz"
TEST_LOGITS_FILE = "test_logits.npz"


class SplitFigures(BaseModel):
    """One split seen through the calibrated model."""

    rows: int
    accuracy: float
    f1_macro: float
    ece_before: float  # expected calibration error of the raw softmax
    ece_after: float  # ... after temperature scaling
    coverage: float  # share of lines at or above the threshold (coded automatically)
    auto_accuracy: float | None  # accuracy of those lines (None: no line above the threshold)
    auto_lines: int


class Calibration(BaseModel):
    """How a model's probabilities are read: softmax(logits / temperature); auto at or above `threshold`."""

    model: str  # llm | baseline
    temperature: float = Field(gt=0)
    target_accuracy: float
    threshold: float  # > 1: no line is coded automatically (the target was not reached on valid)
    valid: SplitFigures | None = None  # where the temperature and threshold were fitted (lines not suspected)
    test: SplitFigures | None = None  # how they held on lines they never saw (lines not suspected)
    # the same splits scored against every code as written, suspected mis-postings included (when there were any)
    valid_as_written: SplitFigures | None = None
    test_as_written: SplitFigures | None = None
    suspected: dict[str, int] = {}  # split -> suspected mis-postings left out of the figures above
    reachable: dict | None = None  # when the target was not reached: the highest that was, and its coverage
    # the temperature fitted on valid when it made valid ECE worse, and so was not applied (temperature stays 1)
    rejected_temperature: float | None = None
    # the trained model's own suspects on valid and test (lines it never trained on), a second opinion beside the
    # prepare-time K-fold: lines judged, flagged, flagged by both; not used to choose the lines figures are made on
    second_opinion: dict[str, int] = {}
    second_opinion_table: str | None = None  # parquet: split, position, codes, probabilities, earlier
    risk_coverage: list[dict] = []  # test split: coverage, threshold, accuracy
    reliability: dict[str, list[dict]] = {}  # test split: 'before' / 'after' -> bins
    plots: dict[str, str] = {}  # name -> PNG path

    @property
    def automates(self) -> bool:
        return self.threshold <= 1.0

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / CALIBRATION_FILE
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | Path) -> "Calibration | None":
        path = Path(folder) / CALIBRATION_FILE
        return cls.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None


def save_logits(logits: np.ndarray, labels: np.ndarray, path: str | Path) -> Path:
    """A split's raw head outputs and labels (what calibration is fitted on), float32, compressed."""
    np.savez_compressed(path, logits=np.asarray(logits, dtype="float32"), labels=np.asarray(labels, dtype="int64"))
    return Path(path)


def read_logits(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["logits"].astype("float64"), data["labels"]
