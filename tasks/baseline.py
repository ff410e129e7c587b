"""A baseline on the same split and texts: TF-IDF over character n-grams + logistic regression."""

import time
import warnings
from pathlib import Path

import numpy as np
from prefect import task

from contracts.label_map import LabelMap
from ledger.caching import STAGE
from ledger.frames import StageResult, read_frame
from params.baseline import BaselineParams
from schemas import TextFrame
from tasks.evaluate import EvalReport, build_report
from tasks.split import LabelMapFile


@task(**STAGE)
def train_baseline(texts: StageResult, labels: LabelMapFile, params: BaselineParams, work_dir: str) -> EvalReport:
    """Fit TF-IDF + logistic regression on train, report on test like the LLM."""
    import joblib
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame = read_frame(texts.data, TextFrame, "text output")
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    if test.empty:
        raise ValueError("baseline: the split has no test rows (split.test is 0?)")
    model = make_pipeline(
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(params.ngram_min, params.ngram_max),
            sublinear_tf=True,
            max_features=params.max_features,
            min_df=2 if len(train) > 1000 else 1,
            max_df=params.max_df,
            dtype=np.float32,
        ),
        LogisticRegression(C=params.C, max_iter=params.max_iter),  # lbfgs: multinomial, fast on sparse inputs
    )
    start = time.perf_counter()
    with warnings.catch_warnings():  # stopping lbfgs early is the speed/accuracy trade-off max_iter sets
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train["text"], train["label"])
    fit_seconds = time.perf_counter() - start
    out = Path(work_dir) / "reports" / f"baseline-{texts.data.fingerprint[:12]}"
    report = build_report(test["label"], model.predict(test["text"]), LabelMap.read(labels.path), out, "baseline")
    joblib.dump(model, out / "model.joblib")
    report.metrics["fit_seconds"] = round(fit_seconds, 2)
    return report
