"""baselines/<name>/: a fitted TF-IDF + logistic regression baseline, as complete as a training run's final/ for
prediction: the model, its label map, the data-preparation parameters, the calibration, the train vendors."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from contracts.calibration import CALIBRATION_FILE, TRAIN_VENDORS_FILE
from contracts.dataset import PREPARE_PARAMS_FILE
from contracts.label_map import LABEL_MAP_FILE
from contracts.run_folder import Member

BASELINE_MODEL_FILE = "model.joblib"
BASELINE_FILES = (BASELINE_MODEL_FILE, LABEL_MAP_FILE, PREPARE_PARAMS_FILE, CALIBRATION_FILE)


class BaselineFolder(BaseModel):
    """Paths of one baseline, all derived from its root."""

    model_config = ConfigDict(ignored_types=(Member,))

    root: str

    model = Member(BASELINE_MODEL_FILE)
    label_map = Member(LABEL_MAP_FILE)
    prepare_params = Member(PREPARE_PARAMS_FILE)
    train_vendors = Member(TRAIN_VENDORS_FILE)
    reports = Member("reports")

    @staticmethod
    def holds_baseline(path: str | Path) -> bool:
        """A baseline (maybe incomplete): its model file, or a label map with nothing of a training run beside it."""
        path = Path(path)
        llm_marks = ("run.yaml", "final", "head_config", "adapter_config.json", "config.json")
        return (path / BASELINE_MODEL_FILE).exists() or (
            (path / LABEL_MAP_FILE).exists() and not any((path / mark).exists() for mark in llm_marks)
        )

    def missing_files(self) -> list[str]:
        return [name for name in BASELINE_FILES if not (Path(self.root) / name).exists()]
