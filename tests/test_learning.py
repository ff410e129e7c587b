"""The real pretrained model learns through the product's own path (train_model -> deepspeed launcher ->
training program): it overfits a tiny batch, and on a learnable synthetic ledger it lands far above the
majority class, with the class weights on.

Floors (defended in bench/LEARNING.md): on the tiny batch train accuracy >= 0.95 (a model that cannot fit 64
rows is broken); on the ledger macro-F1 >= 0.35 and >= 10x the majority-class predictor's macro-F1, accuracy
at least 0.25 above the majority share.
"""

from pathlib import Path

import numpy as np
import pytest

from flows.prepare import prepare_data
from flows.train import train_model
from monitor.learning import majority_floor
from params.prepare import PrepareParams
from params.train import TrainParams

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory, prefect_harness) -> dict:
    """A 3,000-row synthetic ledger of 20 accounts tokenized for the bundled all-MiniLM-L6-v2 (96 tokens)."""
    from synth.ledger import make_ledger, write_ledger
    from training.bundled_model import bundled_model

    work = tmp_path_factory.mktemp("learning")
    model = str(bundled_model(work / "models"))
    ledger = write_ledger(make_ledger(3000, 20, seed=5), str(work / "ledger.csv"))
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(work), model=model, tokenize={"max_length": 96}))
    return {"dataset": str(Path(prepared.dataset.path).parent), "model": model, "work_dir": str(work)}


def test_the_real_model_overfits_a_tiny_batch(real_dataset, tmp_path):
    from bench.sanity import tiny_batch_dataset

    # given 64 train rows of 8 accounts, used as train, valid and test alike, and a random head
    tiny = tiny_batch_dataset(real_dataset["dataset"], tmp_path / "tiny", rows=64, classes=8)
    params = TrainParams(
        dataset=tiny, model=real_dataset["model"], work_dir=real_dataset["work_dir"], run_name="overfit",
        head={"init": "random"},
        trainer={"max_steps": 96, "per_device_train_batch_size": 16, "learning_rate": 3e-3, "eval_steps": 96,
                 "save_steps": 96, "logging_steps": 12},
    )  # fmt: skip
    # when trained through the launcher for 24 epochs of it
    outcome = train_model(params)
    # then it fits them: a model that cannot is broken (labels, head, loss or optimiser)
    assert outcome.metrics["test_accuracy"] >= 0.95, outcome.metrics


def test_the_real_model_learns_a_learnable_ledger_with_class_weights(real_dataset):
    from contracts.predictions import read_test_predictions

    # given the ledger's dataset and the product's defaults: LoRA, class-weighted loss, head from a linear probe
    params = TrainParams(
        **real_dataset, run_name="learns", max_eval_samples=200,
        trainer={"max_steps": 60, "per_device_train_batch_size": 16, "learning_rate": 5e-4, "eval_steps": 30,
                 "save_steps": 60, "logging_steps": 10},
    )  # fmt: skip
    assert params.loss.class_weights and params.head.init == "probe"
    # when trained through the launcher
    outcome = train_model(params)
    # then it lands far above always answering the most frequent account, and says it learned
    truth = read_test_predictions(Path(outcome.final_dir) / "test_predictions.parquet")["label"].to_numpy()
    accuracy, macro = majority_floor(truth)
    metrics = outcome.metrics
    assert metrics["test_f1_macro"] >= max(0.35, 10 * macro), (metrics, macro)
    assert metrics["test_accuracy"] >= accuracy + 0.25, (metrics, accuracy)
    assert outcome.report.learned and "learned" in outcome.report.verdict
    # and the probe it started from is reported as a model of its own, below the fine-tuned one's loss
    assert outcome.probe_report is not None and outcome.probe_report.metrics["f1_macro"] > 10 * macro
    assert len(np.unique(read_test_predictions(Path(outcome.final_dir) / "test_predictions.parquet")["pred"])) > 5
