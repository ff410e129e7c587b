"""A baseline on the same split and texts: TF-IDF over character n-grams + logistic regression, calibrated and
kept as a folder `predict` can use like a training run."""

import shutil
import time
import warnings
from pathlib import Path

import numpy as np
from prefect import task

from contracts.baseline_folder import BaselineFolder
from contracts.label_map import LabelMap
from contracts.train_profile import copy_train_profile
from ledger.errors import ParameterError
from ledger.frames import StageResult, read_frame
from ledger.work_store import WorkDir, on_store
from params.baseline import BaselineParams
from params.prepare import PrepareParams, write_prepare_params
from schemas import TextFrame
from scoring.baseline_model import save_fitted
from scoring.predictor import baseline_logits
from scoring.report import calibrate_model
from tasks.caching import STAGE
from tasks.evaluate import EvalReport, build_report
from tasks.split import LabelMapFile


def fit_baseline(train_texts, train_labels, params: BaselineParams):
    """The TF-IDF + logistic regression pipeline, fitted (lbfgs stopped at max_iter, on purpose)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(params.ngram_min, params.ngram_max),
            sublinear_tf=True,
            max_features=params.max_features,
            min_df=2 if len(train_texts) > 1000 else 1,
            max_df=params.max_df,
            dtype=np.float32,
        ),
        LogisticRegression(C=params.C, max_iter=params.max_iter),  # lbfgs: multinomial, fast on sparse inputs
    )
    with warnings.catch_warnings():  # stopping lbfgs early is the speed/accuracy trade-off max_iter sets
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_texts, train_labels)
    return model


@task(**STAGE)
@on_store
def train_baseline(
    texts: StageResult,
    labels: LabelMapFile,
    params: BaselineParams,
    work_dir: WorkDir,
    prepare: PrepareParams,
    profile: str | None = None,
    target_accuracy: float = 0.98,
) -> EvalReport:
    """Fit on train, calibrate on valid, report on test like the LLM; keep it in baselines/<name>/."""
    frame = read_frame(texts.data, TextFrame, "text output")
    parts = {name: frame[frame["split"] == name] for name in ("train", "valid", "test")}
    if parts["test"].empty:
        raise ParameterError("baseline: the split has no test rows (split.test is 0?)")
    label_map = LabelMap.read(labels.path)
    start = time.perf_counter()
    model = fit_baseline(parts["train"]["text"], parts["train"]["label"], params)
    fit_seconds = time.perf_counter() - start
    folder = BaselineFolder(root=str(Path(work_dir) / "baselines" / f"baseline-{texts.data.fingerprint[:12]}"))
    scored = {}
    for name in ("valid", "test"):
        logits, allowed = baseline_logits(model, parts[name]["text"], label_map.num_slots)
        scored[name] = (logits, parts[name]["label"].to_numpy())
    suspected = {name: part["suspected"].to_numpy(dtype=bool) for name, part in parts.items() if "suspected" in part}
    calibration = calibrate_model(
        "baseline", scored["valid"], scored["test"], allowed, target_accuracy, folder.reports / "calibration",
        suspected,
    )  # fmt: skip
    report = build_report(scored["test"][1], scored["test"][0].argmax(axis=1), label_map, folder.reports, "baseline")
    save_fitted(model, folder.root)
    shutil.copy(labels.path, folder.label_map)
    write_prepare_params(prepare.model_copy(update={"model": None}), folder.root)
    if profile:
        copy_train_profile(profile, folder.root)
    calibration.write(folder.root)
    report.metrics["fit_seconds"] = round(fit_seconds, 2)
    return report.model_copy(update={"calibration": calibration, "model_dir": folder.root})
