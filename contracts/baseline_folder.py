"""baselines/<name>/: a fitted TF-IDF + logistic regression baseline, as complete as a training run's final/ for
prediction: the model, its label map, the data-preparation parameters, the calibration, the train vendors."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from contracts.calibration import CALIBRATION_FILE
from contracts.dataset import PREPARE_PARAMS_FILE
from contracts.label_map import LABEL_MAP_FILE
from contracts.run_folder import (
    ADAPTER_CONFIG_FILE,
    FINAL_DIR,
    FULL_CONFIG_FILE,
    HEAD_CONFIG_DIR,
    RUN_CONFIG_FILE,
    Member,
)  # fmt: skip
from contracts.train_profile import TRAIN_VENDORS_FILE

# the fitted model as arrays + JSON (scoring/baseline_model.py): nothing in a baseline folder is unpickled
BASELINE_ARRAYS_FILE = "baseline.npz"
BASELINE_SETTINGS_FILE = "baseline.json"
PICKLED_BASELINE_FILE = "model.joblib"  # how baselines were kept before: recognised, refused, never loaded
BASELINE_FILES = (BASELINE_ARRAYS_FILE, BASELINE_SETTINGS_FILE, LABEL_MAP_FILE, PREPARE_PARAMS_FILE, CALIBRATION_FILE)


class BaselineFolder(BaseModel):
    """Paths of one baseline, all derived from its root."""

    model_config = ConfigDict(ignored_types=(Member,))

    root: str

    arrays = Member(BASELINE_ARRAYS_FILE)
    settings = Member(BASELINE_SETTINGS_FILE)
    label_map = Member(LABEL_MAP_FILE)
    prepare_params = Member(PREPARE_PARAMS_FILE)
    train_vendors = Member(TRAIN_VENDORS_FILE)
    reports = Member("reports")

    @staticmethod
    def holds_baseline(path: str | Path) -> bool:
        """A baseline (maybe incomplete): its model file, or a label map with nothing of a training run beside it."""
        path = Path(path)
        llm_marks = (RUN_CONFIG_FILE, FINAL_DIR, HEAD_CONFIG_DIR, ADAPTER_CONFIG_FILE, FULL_CONFIG_FILE)
        model_files = (BASELINE_SETTINGS_FILE, BASELINE_ARRAYS_FILE, PICKLED_BASELINE_FILE)
        return any((path / name).exists() for name in model_files) or (
            (path / LABEL_MAP_FILE).exists() and not any((path / mark).exists() for mark in llm_marks)
        )

    def missing_files(self) -> list[str]:
        return [name for name in BASELINE_FILES if not (Path(self.root) / name).exists()]
