"""No raw personal value leaves the ledger: prepare, the baseline, training through the DeepSpeed launcher and
predict on a ledger seeded with each kind, then every file, artifact, log line and MLflow entry searched."""

import os
from pathlib import Path

import pandas as pd
import pytest
from prefect import get_client

from tests._personal import leaks, seed_personal_data, text_leaks

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
SETTINGS = {"max_steps": 4, "save_steps": 4, "eval_steps": 4, "logging_steps": 2, "per_device_train_batch_size": 16}
PAGE = 200


def prefect_texts() -> list[str]:
    """Every log line and artifact the Prefect API holds (this test session's), page by page."""
    texts = []
    with get_client(sync_client=True) as client:
        for read, show in ((client.read_logs, lambda log: log.message),
                           (client.read_artifacts, lambda a: f"{a.key} {a.description} {a.data}")):  # fmt: skip
            offset = 0
            while page := read(limit=PAGE, offset=offset):
                texts += [show(item) for item in page]
                offset += PAGE
    return texts


def mlflow_texts(work_dir: Path) -> list[str]:
    """Every run's parameters, tags and metric names in the work dir's MLflow store."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{work_dir / 'mlflow.db'}")
    texts = []
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            texts += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
            texts += list(run.data.metrics)
    assert texts, "the pipeline logged nothing to MLflow"
    return texts


def test_no_raw_personal_value_leaves_the_ledger_through_prepare_train_and_predict(tmp_path, capfd):
    from flows.pipeline import pipeline
    from flows.predict import predict_ledger
    from params.pipeline import PipelineParams
    from params.predict import PredictParams
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    # given a labelled CP949 ledger seeded with each kind in its 적요 and in columns of their own, and the tiny model
    work = tmp_path / "work"
    model = str(make_tiny_model(tmp_path / "tiny-model"))
    ledger, values, lookalikes = seed_personal_data(make_ledger(480, 12, seed=11))
    path = write_ledger(ledger, str(tmp_path / "in" / "ledger.csv"), encoding="cp949")
    # when the pipeline prepares it, trains the baseline and the LLM (DeepSpeed launcher) and logs to MLflow
    # leave_out off: the lookalikes are looked for in every train text's 적요, which leave_out drops from some
    prepare = PrepareParams(input=path, work_dir=str(work), model=model, text={"leave_out": 0})
    train = {"run_name": "personal", "max_eval_samples": 40, "trainer": SETTINGS}
    result = pipeline(PipelineParams(prepare=prepare, train=train))
    # and next month's ledger, seeded too, is predicted with the trained run into a file outside the work dir
    month, month_values, _ = seed_personal_data(make_ledger(96, 12, seed=12), seed=1)
    month.loc[[4, 8], "금액"] = "금액없음"  # two rejects whose 적요 carry personal data
    month_path = write_ledger(month, str(tmp_path / "in" / "next.csv"), encoding="cp949")
    out = tmp_path / "out" / "predictions.xlsx"
    predicted = predict_ledger(
        PredictParams(model=result.training.run_dir, input=month_path, out=str(out), work_dir=str(work))
    )
    raw = [v for kind in [*values.values(), *month_values.values()] for v in kind]
    # then no file under the work dir or in Prefect's result store holds a raw value (UTF-8, CP949, bare digits)
    assert leaks([work, Path(os.environ["PREFECT_HOME"])], raw) == []
    # nor the rejects beside the predictions, any artifact or log line, any MLflow param or tag, the terminal
    assert leaks([out.parent], raw, skip={out}) == []
    assert text_leaks(prefect_texts(), raw) == []
    assert text_leaks(mlflow_texts(work), raw) == []
    terminal = capfd.readouterr()
    assert text_leaks([terminal.out, terminal.err], raw) == []
    # and the masked counts were reported per column and kind
    found = result.prepared.summary.personal_data
    assert found["masked"] and found["columns"]["적요"]["cells"]["card"] >= 1
    assert {"주민등록번호", "카드번호", "계좌번호", "연락처", "이메일", "이용자"} <= set(found["columns"])
    # and the lookalikes failing their checksum reached the training texts untouched
    texts = " ".join(pd.read_parquet(result.prepared.texts.data.path)["text"])
    assert sum(fake in texts for fake in lookalikes) >= len(lookalikes) - 1  # one row may be a reject
    # and the prediction file keeps the user's own columns as their file has them, its generated columns masked
    table = pd.read_excel(out, dtype=str, sheet_name="전체")
    assert predicted.rows_predicted == len(table) > 0 and predicted.rows_rejected >= 2
    assert set(table["카드번호"]) <= set(month_values["card"]) and set(table["이용자"]) <= set(month_values["name"])
    original = set(month["적요"])
    assert set(table["적요"]) <= original
    generated = [c for c in table.columns if c not in month.columns]
    assert generated and text_leaks(table[generated].fillna("").astype(str).agg(" ".join, axis=1).tolist(), raw) == []
