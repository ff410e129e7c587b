"""The trained model as an MLflow pyfunc model: the run's final/ (adapter or baseline, head config, label map,
calibration, data-preparation parameters, train vendors) as its artifact, Predictor as its code.

    model = mlflow.pyfunc.load_model("models:/account-tax/3")
    model.predict(pd.DataFrame({"text": texts}))   # -> pred1_code ... predk_prob, decision, review_reason

The texts are the serialized ledger lines (tasks/text.py does it from a ledger); `account-tax predict --model
models:/NAME/VERSION` takes a ledger file and does the whole way. An LLM's base model is not copied into the
artifact (a 4B model is 8 GB): run.yaml names its folder, which must exist where the model is loaded.
"""

import contextlib
import os
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from contracts.calibration import TEST_LOGITS_FILE, VALID_LOGITS_FILE
from contracts.predictions import TEST_PREDICTIONS_FILE
from scoring.predictor import Predictor
from scoring.review import review_reasons

FINAL_ARTIFACT = "final"
EVALUATION_ONLY = {VALID_LOGITS_FILE, TEST_LOGITS_FILE, TEST_PREDICTIONS_FILE}
REQUIREMENTS = ["account-tax", "torch", "transformers", "peft", "scikit-learn", "pandas", "pandera"]


class AccountCodeModel(mlflow.pyfunc.PythonModel):
    """texts -> calibrated top-k account codes and an auto / review decision by confidence."""

    def load_context(self, context) -> None:
        self.predictor = Predictor.open(context.artifacts[FINAL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        texts = model_input["text"].astype("str").tolist()
        top = int((params or {}).get("top_k", 3))
        predictor = self.predictor
        ids, probs = predictor.predict(texts, top, max_length=predictor.max_length)
        frame = predictor.frame(ids, probs)
        return pd.concat([frame, review_reasons(frame["pred1_prob"].to_numpy(), predictor.threshold)], axis=1)


def _link_or_copy(source: str, target: str) -> None:
    import os
    import shutil

    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def save_pyfunc(model_dir: str | Path, out: str | Path) -> Path:
    """An MLflow model folder (MLmodel, python_model.pkl, artifacts/final/) for a trained model folder, without
    what only evaluation reads (the split logits and test predictions: on a large valid split, hundreds of MB)."""
    import shutil

    out = Path(out)
    staging = out.with_name(f".{out.name}-staging") / FINAL_ARTIFACT  # MLflow names the artifact by the folder
    for folder in (out, staging.parent):
        if folder.exists():
            shutil.rmtree(folder)
    # hard links, not copies (a full fine-tuning run's weights are GB); MLflow refuses symlinks out of the folder
    shutil.copytree(model_dir, staging, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(*EVALUATION_ONLY))
    with _no_progress_bar():
        mlflow.pyfunc.save_model(
            path=str(out),
            python_model=AccountCodeModel(),
            artifacts={FINAL_ARTIFACT: str(staging)},
            pip_requirements=REQUIREMENTS,  # given: inferring them would load the model and watch its imports
            signature=_signature(),
        )
    shutil.rmtree(staging.parent)
    return out


def _signature():
    """Input: a `text` column of serialized ledger lines (the output's columns depend on top_k)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "text")]), params=ParamSchema([ParamSpec("top_k", "integer", 3)])
    )


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
