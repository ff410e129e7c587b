"""The trained model as an MLflow pyfunc model: the run's final/ (adapter or baseline, head config, label map,
calibration, data-preparation parameters, train vendors) as its artifact, Predictor as its code.

    model = mlflow.pyfunc.load_model("models:/account-tax/3")
    model.predict(pd.DataFrame({"text": texts}))   # -> pred1_code ... predk_prob, decision, review_reason

The texts are the serialized ledger lines (tasks/text.py does it from a ledger); `account-tax predict --model
models:/NAME/VERSION` takes a ledger file and does the whole way. An LLM's base model is not copied into the
artifact (a 4B model is 8 GB): run.yaml names its folder, which must exist where the model is loaded.
"""

from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from scoring.predictor import Predictor
from scoring.review import review_reasons

FINAL_ARTIFACT = "final"
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


def save_pyfunc(model_dir: str | Path, out: str | Path) -> Path:
    """An MLflow model folder (MLmodel, python_model.pkl, artifacts/final/) for a trained model folder."""
    import shutil

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    mlflow.pyfunc.save_model(
        path=str(out),
        python_model=AccountCodeModel(),
        artifacts={FINAL_ARTIFACT: str(model_dir)},
        pip_requirements=REQUIREMENTS,  # given: inferring them would load the model and watch its imports
    )
    return out


def model_folder_of(pyfunc_dir: str | Path) -> Path:
    """The trained model folder inside a saved or downloaded MLflow model."""
    return Path(pyfunc_dir) / "artifacts" / FINAL_ARTIFACT
