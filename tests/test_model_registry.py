"""The trained model as an MLflow model: logged, registered, loaded back, and `predict --model models:/NAME/V`;
and prediction from a baseline folder, with the same outputs and decisions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.predict import predict_ledger
from params.predict import PredictParams

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
SHORT = {"max_steps": 8, "save_steps": 8, "eval_steps": 8, "logging_steps": 4, "per_device_train_batch_size": 16}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, prefect_harness):
    """A short run of the tiny model (one process: the registry is what is tested) and the baseline beside it."""
    from flows.baseline import baseline
    from flows.prepare import prepare_data
    from flows.train import train_model
    from params.baseline import BaselineFlowParams
    from params.prepare import PrepareParams
    from params.train import TrainParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    work = tmp_path_factory.mktemp("registry-work")
    model = str(make_tiny_model(work / "tiny-model"))
    ledger = write_ledger(make_ledger(1200, 20, seed=5), str(work / "ledger.csv"))
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(work), model=model))
    params = TrainParams(
        dataset=str(Path(prepared.dataset.path).parent), model=model, work_dir=str(work), launcher="python",
        trainer=SHORT, run_name="registry",
    )  # fmt: skip
    outcome = train_model(params)
    base = baseline(BaselineFlowParams(prepare=PrepareParams(input=ledger, work_dir=str(work))))
    next_month = write_ledger(make_ledger(200, 20, seed=6), str(work / "next.csv"))
    return {"work": str(work), "outcome": outcome, "baseline": base, "next": next_month}


def test_the_run_is_registered_and_loads_back_predicting_as_the_run_folder(trained):
    import mlflow.pyfunc
    from mlflow.artifacts import download_artifacts

    from monitor.registry import registered_source
    from scoring.predictor import Predictor

    # given the run, registered under the experiment's name in the run's sqlite store
    outcome, store = trained["outcome"], f"sqlite:///{Path(trained['work']).resolve() / 'mlflow.db'}"
    assert outcome.registered is not None and outcome.registered.uri == "models:/account-tax/1"
    # when the registered version is downloaded and loaded as an MLflow pyfunc model
    source = registered_source(outcome.registered.uri, store)
    local = download_artifacts(artifact_uri=source, dst_path=str(Path(trained["work"]) / "dl"), tracking_uri=store)
    loaded = mlflow.pyfunc.load_model(local)
    texts = pd.read_parquet(next(Path(trained["work"], "stages", "text").glob("*.parquet")))["text"].head(40)
    got = loaded.predict(pd.DataFrame({"text": texts}))
    # then it predicts what the run folder predicts, with the same calibration
    predictor = Predictor.open(outcome.final_dir)
    expected = predictor.classify(texts.tolist(), 3)  # the cut it was trained at, read from the run
    assert predictor.max_length == 256  # the fixture prepared at the default cut (from its prepare_params.json)
    assert got["pred1_code"].tolist() == expected["pred1_code"].tolist()
    np.testing.assert_allclose(got["pred1_prob"], expected["pred1_prob"], atol=1e-5)
    assert set(got["decision"]) <= {"auto", "review"}
    assert Predictor.open(Path(local) / "artifacts" / "final").temperature == predictor.temperature != 1.0


def test_the_model_is_the_runs_logged_model_and_the_version_links_to_it(trained):
    from mlflow import MlflowClient

    # given the run's sqlite store
    store = f"sqlite:///{Path(trained['work']).resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    run_id = (Path(trained["outcome"].run_dir) / "mlflow_run_id").read_text().strip()
    # when the run and its registered version are read back
    run = client.get_run(run_id)
    version = client.get_model_version("account-tax", trained["outcome"].registered.version)
    # then the run lists one logged model, READY, made by this run, and the version's source is that model
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.source_run_id == run_id and logged.status.to_int() == 2 and logged.name == "account-tax-model"
    assert version.source == f"models:/{logged.model_id}" and version.run_id == run_id
    assert not client.list_artifacts(run_id, "model")  # the model's files are its own, not a copy among the run's


def test_predict_takes_a_models_uri_with_the_same_output_as_the_run_folder(trained, tmp_path):
    # given next month's ledger
    common = {"input": trained["next"], "work_dir": trained["work"], "language": "en"}
    # when predicted once from the run folder and once from models:/account-tax/1
    by_folder = predict_ledger(PredictParams(model=trained["outcome"].run_dir, out=str(tmp_path / "a.csv"), **common))
    by_uri = predict_ledger(PredictParams(model="models:/account-tax/1", out=str(tmp_path / "b.csv"), **common))
    # then both files hold the same codes, probabilities and decisions
    a, b = (pd.read_csv(tmp_path / name, encoding="utf-8-sig") for name in ("a.csv", "b.csv"))
    columns = ["row_id", "pred1_code", "pred1_prob", "decision", "review_reason"]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    assert by_uri.rows_predicted == by_folder.rows_predicted > 0 and by_uri.model == "llm"


def test_an_unknown_registered_model_is_a_clear_error(trained, tmp_path):
    # when a version that does not exist is asked for
    with pytest.raises(ValueError, match="models:/account-tax/99: not found in the MLflow registry"):
        predict_ledger(
            PredictParams(model="models:/account-tax/99", input=trained["next"], out=str(tmp_path / "x.csv"),
                          work_dir=trained["work"])
        )  # fmt: skip


def test_predict_from_a_baseline_folder_decides_auto_and_review(trained, tmp_path):
    # given the calibrated baseline of the same ledger
    folder = trained["baseline"].model_dir
    assert folder and Path(folder, "calibration.json").exists()
    # when next month is predicted with it, into xlsx
    out = tmp_path / "baseline.xlsx"
    summary = predict_ledger(PredictParams(model=folder, input=trained["next"], out=str(out), work_dir=trained["work"]))
    # then the output has the same shape as an LLM's: codes, calibrated probabilities, auto / review
    assert summary.model == "baseline" and summary.rows_auto + summary.rows_review == summary.rows_predicted > 0
    table = pd.read_excel(out, sheet_name="전체")
    assert {"예측1 계정코드", "예측1 확률", "처리", "검토 사유"} <= set(table.columns)
    assert table["예측1 확률"].between(0, 1).all() and set(table["처리"]) <= {"자동", "검토"}
    # and this labelled ledger says how validation's promise held on it
    assert summary.expectation is not None and summary.expectation.labelled_lines == summary.rows_predicted
    assert summary.rows_auto > 0 and summary.expectation.accuracy is not None
