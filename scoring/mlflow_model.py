"""The trained model as an MLflow pyfunc model: the run's final/ (adapter or baseline, head config, label map,
calibration, data-preparation parameters, train vendors) as its artifact, Predictor as its code.

    model = mlflow.pyfunc.load_model("models:/account-tax/3")
    model.predict(pd.DataFrame({"text": texts}))   # -> pred1_code ... predk_prob, decision, review_reason

The texts are the serialized ledger lines (tasks/text.py does it from a ledger); `account-tax predict --model
models:/NAME/VERSION` takes a ledger file and does the whole way. An LLM's base model is not copied into the
artifact (a 4B model is 8 GB): run.yaml names its folder, which must exist where the model is loaded.

Nothing in it is a pickle: the model is logged from code (`scoring/mlflow_entry.py`, MLflow's "models from code"),
the weights are safetensors, the baseline arrays (scoring/baseline_model.py). `check_no_pickles` refuses a
downloaded model folder that holds one, before anything in it is opened.
"""

import contextlib
import os
import warnings
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from contracts.calibration import TEST_LOGITS_FILE, VALID_LOGITS_FILE
from contracts.predictions import TEST_PREDICTIONS_FILE
from contracts.run_folder import FINAL_DIR
from ledger.work_store import SYNC_RECORDS
from scoring.predictor import Predictor
from scoring.safe_files import UnsafeModelError, check_no_pickles

FINAL_ARTIFACT = FINAL_DIR  # the MLflow artifact holding the run's final/ (or the baseline folder)
EVALUATION_ONLY = {VALID_LOGITS_FILE, TEST_LOGITS_FILE, TEST_PREDICTIONS_FILE}
NOT_SHIPPED = {*EVALUATION_ONLY, "training_args.bin"}  # the Trainer's pickled arguments, in older runs' final/
OPTIONAL_INPUTS = ("vendor", "account_code")
REQUIREMENTS = ["account-tax", "torch", "transformers", "peft", "scikit-learn", "pandas", "pandera"]


ENTRY_FILE = Path(__file__).with_name("mlflow_entry.py")


class AccountCodeModel(mlflow.pyfunc.PythonModel):
    """Ledger lines -> calibrated top-k account codes, auto / review and the reasons: Predictor.classify, the same
    decision `account-tax predict` makes (vendor and account_code, when given, add the new-vendor and code checks)."""

    def load_context(self, context) -> None:
        self.predictor = Predictor.open(context.artifacts[FINAL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        texts = model_input["text"].astype("str").tolist()
        top = int((params or {}).get("top_k", 3))
        return self.predictor.classify(texts, top, model_input.get("vendor"), model_input.get("account_code"))


def _link_or_copy(source: str, target: str) -> None:
    import os
    import shutil

    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def save_pyfunc(model_dir: str | Path, out: str | Path) -> Path:
    """An MLflow model folder (MLmodel, the code file mlflow_entry.py, artifacts/final/) for a trained model folder,
    without what only evaluation reads (the split logits and test predictions: on a large valid split, 100s of MB)
    nor this host's sync records."""
    import shutil

    out = Path(out)
    staging = out.with_name(f".{out.name}-staging") / FINAL_ARTIFACT  # MLflow names the artifact by the folder
    for folder in (out, staging.parent):
        if folder.exists():
            shutil.rmtree(folder)
    # hard links, not copies (a full fine-tuning run's weights are GB); MLflow refuses symlinks out of the folder
    left_out = shutil.ignore_patterns(*NOT_SHIPPED, *SYNC_RECORDS)
    shutil.copytree(model_dir, staging, copy_function=_link_or_copy, ignore=left_out)
    with _no_progress_bar(), warnings.catch_warnings():
        # an input example would make MLflow load the model (GBs for an LLM) and predict at save time
        warnings.filterwarnings("ignore", message=".*input example was not provided", category=UserWarning)
        mlflow.pyfunc.save_model(
            path=str(out),
            python_model=str(ENTRY_FILE),  # from code: MLflow runs our file to build it, no cloudpickle
            artifacts={FINAL_ARTIFACT: str(staging)},
            pip_requirements=REQUIREMENTS,  # given: inferring them would load the model and watch its imports
            signature=_signature(),
        )
    shutil.rmtree(staging.parent)
    return out


def _signature():
    """Input: a `text` column of serialized ledger lines, optionally the line's `vendor` and the `account_code` the
    ledger already carries (the output's columns depend on top_k)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = [ColSpec("string", "text"), *(ColSpec("string", name, required=False) for name in OPTIONAL_INPUTS)]
    return ModelSignature(inputs=Schema(inputs), params=ParamSchema([ParamSpec("top_k", "integer", 3)]))


@contextlib.contextmanager
def _no_progress_bar():
    """MLflow draws a tqdm bar for every local artifact copy; on the terminal of a CLI run it is noise."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def model_folder_of(pyfunc_dir: str | Path) -> Path:
    """The trained model folder inside a saved or downloaded MLflow model."""
    return Path(pyfunc_dir) / "artifacts" / FINAL_ARTIFACT


def check_logged_from_code(model_dir: str | Path) -> None:
    """Refuse a downloaded MLflow model that would unpickle anything when loaded: a python_model saved by
    cloudpickle in its MLmodel, or a pickle anywhere in its files."""
    import yaml

    root = Path(model_dir)
    mlmodel = root / "MLmodel"
    if mlmodel.exists():
        flavor = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get("flavors", {}).get("python_function")
        if flavor and ("python_model" in flavor or "model_code_path" not in flavor):
            raise UnsafeModelError(
                f"{root}: its MLmodel loads a pickled python_model (not a model from code), which runs whatever code "
                "it holds; it was not logged by this account-tax: register the run again (account-tax train ...)"
            )
    check_no_pickles(root)
