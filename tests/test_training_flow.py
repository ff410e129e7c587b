"""train_model end to end: the real DeepSpeed launcher, checkpoints, MLflow, SIGKILL + retry, cancellation."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.prepare import prepare_data
from flows.train import train_model
from params.prepare import PrepareParams
from params.train import TrainParams
from training.checkpoints import CheckpointError, checkpoint_problem
from training.launcher import processes_naming

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
ROOT = Path(__file__).resolve().parents[1]
STEPS = 16
SETTINGS = {
    "max_steps": STEPS,
    "save_steps": 4,
    "eval_steps": 8,
    "logging_steps": 2,
    "per_device_train_batch_size": 16,
    "learning_rate": 1e-3,
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, prefect_harness):
    """A tiny model and a tokenized dataset from a synthetic ledger (module-wide: training is the slow part)."""
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    work = tmp_path_factory.mktemp("train-work")
    model = str(make_tiny_model(work / "tiny-model"))
    ledger = write_ledger(make_ledger(1500, 30, seed=3), str(work / "ledger.csv"))
    result = prepare_data(PrepareParams(input=ledger, work_dir=str(work), model=model))
    return {"dataset": str(Path(result.dataset.path).parent), "model": model, "work_dir": str(work)}


def params(prepared: dict, **overrides) -> TrainParams:
    return TrainParams(**{**prepared, "max_eval_samples": 50, "trainer": SETTINGS, **overrides})


def shm_buffers() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob(f"deepspeed_allreduce_buffer_{os.getuid()}_*")}


@pytest.fixture(scope="module")
def reference(prepared):
    """An uninterrupted run through the DeepSpeed launcher (and the shared-memory buffers it left, if any)."""
    p = params(prepared, run_name="reference")
    before = shm_buffers()
    outcome = train_model(p)
    REFERENCE_SHM_LEFT.update(shm_buffers() - before)
    return p, outcome


REFERENCE_SHM_LEFT: set[str] = set()


def test_a_finished_run_leaves_no_deepspeed_buffer_in_shared_memory(reference):
    # given the reference run (DeepSpeed's CPU backend makes a 69 MB /dev/shm buffer per rank and never unlinks it)
    # then none of its buffers outlives it: every CPU launch used to keep 69 MB of RAM until reboot
    assert not REFERENCE_SHM_LEFT


def lr_at(run_dir: str, step: int) -> float:
    state = json.loads((Path(run_dir) / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").read_text())
    return next(e["learning_rate"] for e in state["log_history"] if e.get("step") == step and "learning_rate" in e)


def events(run_dir: str) -> list[dict]:
    path = Path(run_dir) / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def start_driver(p: TrainParams, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """train_model in its own process (as a worker runs it), on this session's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    (tmp_path / "params.json").write_text(p.model_dump_json())
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "drivers" / "run_train.py"),
        str(tmp_path / "params.json"),
        str(tmp_path / "out.json"),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True), tmp_path / "out.json"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def test_deepspeed_run_leaves_checkpoints_adapter_and_mlflow_run(reference):
    import torch
    from mlflow import MlflowClient
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForSequenceClassification

    # given an uninterrupted training run through the deepspeed launcher
    p, outcome = reference
    final = Path(outcome.final_dir)
    # then it reached max_steps, kept its checkpoints and wrote a complete final folder
    assert outcome.global_step == STEPS and outcome.checkpoints[0] == f"checkpoint-{STEPS}"
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "label_map.json",
        "run.yaml",
        "class_weights.json",
        "test_metrics.json",
        "tokenizer.json",
    } <= {f.name for f in final.iterdir()}
    assert 0 <= outcome.metrics["test_accuracy"] <= 1
    # and the adapter loads with plain peft on the base model rebuilt with the saved head config
    head = AutoConfig.from_pretrained(final / "head_config")
    base = AutoModelForSequenceClassification.from_pretrained(p.model, config=head)
    model = PeftModel.from_pretrained(base, final).eval()
    assert head.num_labels == 300 and head.id2label[0] != "__unused_0"
    assert model(input_ids=torch.tensor([[5, 6, 7]])).logits.shape == (1, 300)
    # and the MLflow run holds the step metrics, which the flow logged from the program's progress file (the
    # program has no MLflow client: each point carries the time of its progress event), and the final metrics
    client = MlflowClient(f"sqlite:///{Path(p.work_dir).resolve() / 'mlflow.db'}")
    run_id = (Path(outcome.run_dir) / "mlflow_run_id").read_text()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run_id, "curves/loss")
    assert [m.step for m in history] == list(range(2, STEPS + 1, 2))
    logged = [e for e in events(outcome.run_dir) if e["event"] == "log" and "loss" in e["metrics"]]
    assert [m.timestamp for m in history] == [int(e["time"] * 1000) for e in logged]
    # the step curves lead (MLflow sorts its sections by name), each one-off value says its split
    sections = sorted({key.split("/")[0] for key in run.data.metrics})
    assert sections[0] == "curves" and "curves/eval_f1_macro" in run.data.metrics, sections
    assert {"test/accuracy", "valid/calibration_temperature", "test/calibration_ece_after"} <= set(run.data.metrics)
    assert all("/" in key for key in run.data.metrics)  # nothing left in the unnamed section MLflow shows last
    # and the model is the run's logged model, with the trained folder in it
    (output,) = run.outputs.model_outputs
    model_files = {a.path for a in client.list_logged_model_artifacts(output.model_id, "artifacts/final")}
    assert {"artifacts/final/adapter_model.safetensors", "artifacts/final/calibration.json"} <= model_files
    # and the experiment opens as model training, with the dataset as the run's input
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"
    (dataset_input,) = run.inputs.dataset_inputs
    assert json.loads(dataset_input.dataset.profile)["num_rows"] > 0
    assert dataset_input.dataset.digest == Path(p.dataset).name.removeprefix("tokenized-")
    assert "reports/per_class.csv" in {a.path for a in client.list_artifacts(run_id, "reports")}
    assert outcome.report is not None and Path(outcome.report.confusion_png).exists()


def test_sigkill_mid_run_then_retry_resumes_to_the_same_step_and_lr(prepared, reference, tmp_path):
    # given a run with one retry, whose trainer processes are SIGKILLed once its first checkpoint exists
    p = params(prepared, run_name="killed", retries=1)
    driver, out = start_driver(p, tmp_path)
    run_dir = Path(p.work_dir).resolve() / "runs" / "killed"
    first = run_dir / "checkpoints" / "checkpoint-4"
    wait_for(lambda: first.exists() and checkpoint_problem(first) is None, 300, "checkpoint-4")
    config = str(run_dir / "run.yaml")
    for pid in processes_naming(config):
        os.kill(pid, signal.SIGKILL)
    # when the flow's retry relaunches it
    assert driver.wait(timeout=400) == 0
    outcome = json.loads(out.read_text())
    # then it resumed from a checkpoint before the end and finished at the same step with the same LR
    resumed = [e["checkpoint"] for e in events(str(run_dir)) if e["event"] == "resume" and e["checkpoint"]]
    assert resumed and not resumed[0].endswith(f"checkpoint-{STEPS}"), resumed
    assert outcome["global_step"] == STEPS == reference[1].global_step
    assert lr_at(str(run_dir), STEPS) == pytest.approx(lr_at(reference[1].run_dir, STEPS), rel=1e-9)


def test_corrupt_newest_checkpoint_is_skipped(prepared, reference):
    # given a copy of the finished run whose newest checkpoint's weights were cut off mid-write
    source = Path(reference[1].run_dir)
    copy = source.parent / "corrupt"
    shutil.copytree(source / "checkpoints", copy / "checkpoints")
    weights = copy / "checkpoints" / f"checkpoint-{STEPS}" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    # when it resumes from "latest"
    outcome = train_model(params(prepared, run_name="corrupt", resume_from="latest"))
    # then it took the previous checkpoint and still ended at max_steps
    resumed = [e["checkpoint"] for e in events(outcome.run_dir) if e["event"] == "resume"]
    assert resumed == [str(copy / "checkpoints" / f"checkpoint-{STEPS - 4}")]
    assert outcome.global_step == STEPS


def test_bad_resume_path_fails_before_launch_and_lists_checkpoints(prepared, reference):
    # given a resume path that does not exist
    bad = str(Path(reference[1].run_dir) / "checkpoints" / "checkpoint-999")
    # when the flow runs, then it fails at planning with the checkpoints that do exist
    with pytest.raises(CheckpointError, match=f"checkpoint-999.*checkpoint-{STEPS}"):
        train_model(params(prepared, run_name="reference", resume_from=bad))


def test_unreachable_mlflow_server_fails_before_launch(prepared):
    from training.launcher import free_port

    # given a tracking server that is down
    p = params(prepared, run_name="dead-mlflow", mlflow={"tracking_uri": f"http://127.0.0.1:{free_port()}"})
    # when training starts / then it fails on the store, naming it, and nothing was launched
    with pytest.raises(ConnectionError, match="unreachable, not starting training"):
        train_model(p)
    assert not events(str(Path(prepared["work_dir"]) / "runs" / "dead-mlflow"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["cancelled", "flow-killed"])
def test_stopping_the_flow_leaves_no_training_process(prepared, tmp_path, sig):
    # given a long training run started by a flow process
    p = params(prepared, run_name=f"stopped-{sig.name}", trainer={**SETTINGS, "max_steps": 5000})
    driver, _ = start_driver(p, tmp_path)
    run_dir = Path(p.work_dir).resolve() / "runs" / p.run_name
    wait_for(lambda: any(e["event"] == "train_begin" for e in events(str(run_dir))), 300, "training to start")
    config = str(run_dir / "run.yaml")
    assert processes_naming(config)
    # when the flow process is cancelled (SIGTERM, as a worker does) or killed outright
    driver.send_signal(sig)
    driver.wait(timeout=60)
    # then the launcher and every rank are gone shortly after
    wait_for(lambda: not processes_naming(config), 30, "the training processes to exit")


def test_predict_new_ledger_with_unseen_vendors_and_invalid_rows(prepared, reference, tmp_path):
    from flows.predict import predict_ledger
    from params.predict import PredictParams
    from synth.ledger import make_ledger, write_ledger

    # given next month's ledger without labels, with vendors never seen, dirt, and a formula in a cell
    ledger = make_ledger(300, 30, seed=99, dirty=0.2)
    ledger.loc[:49, "거래처"] = [f"신규거래처{i}" for i in range(50)]
    # and codes kept on a few rows only: one the model never trained on, the rest blank
    ledger["계정코드"] = None
    ledger.loc[100:104, "계정코드"] = "999"
    ledger.loc[50, "적요"] = '=HYPERLINK("http://x","click")'
    path = write_ledger(ledger, str(tmp_path / "next.csv"))
    # when predicted with the trained run
    out = tmp_path / "predictions.xlsx"
    summary = predict_ledger(
        PredictParams(model=reference[1].run_dir, input=path, out=str(out), work_dir=prepared["work_dir"], top_k=3)
    )
    # then every row is predicted or rejected with a reason
    assert summary.rows_in == 300 and summary.rows_predicted + summary.rows_rejected == 300
    assert summary.rows_rejected > 0
    rejects = pd.read_csv(summary.rejects, encoding="utf-8-sig")
    assert len(rejects) == summary.rows_rejected and rejects["rule"].notna().all()
    # and the output has the input columns plus sorted top-3 codes from the label map, escaped formulas
    table = pd.read_excel(out, dtype=str, sheet_name="전체")
    expected = {"거래처", "적요", "예측1 계정코드", "예측1 계정과목", "예측3 확률", "처리", "검토 사유"}
    assert expected <= set(table.columns)
    probs = table[["예측1 확률", "예측2 확률", "예측3 확률"]].astype(float).to_numpy()
    assert (np.diff(probs, axis=1) <= 1e-12).all() and (probs.sum(axis=1) <= 1 + 1e-6).all()
    codes = {s["code"] for s in json.loads((Path(reference[1].final_dir) / "label_map.json").read_text())["labels"]}
    assert set(table["예측1 계정코드"]) <= codes
    assert table["적요"].str.startswith("'=HYPERLINK").any()
    # and the rows whose code the model cannot know are flagged, the others have no check
    flagged = table[table["장부 계정 대조"].notna()]
    assert set(flagged["장부 계정 대조"]) == {"모델이 모르는 계정"} and set(flagged["계정코드"]) == {"999"}
    assert summary.label_checks == {"unknown to the model": len(flagged)} and 0 < len(flagged) <= 5
    # and each line is auto or review; unseen vendors and unknown codes are reasons, counted in the summary
    assert set(table["처리"]) <= {"자동", "검토"} and summary.rows_auto + summary.rows_review == len(table)
    new_vendor = table["거래처"].str.startswith("신규거래처")
    assert new_vendor.any() and table.loc[new_vendor, "검토 사유"].str.contains("처음 보는 거래처").all()
    assert flagged["검토 사유"].str.contains("모델이 모르는 계정").all()
    # (dirt and vendors the train split never drew are new too)
    assert summary.review_reasons["new_vendor"] >= int(new_vendor.sum())
    review = pd.read_excel(out, dtype=str, sheet_name="검토 대상")
    assert len(review) == summary.rows_review and set(review["처리"]) <= {"검토"}


def test_pipeline_trains_and_compares_with_the_baseline(prepared, tmp_path):
    from flows.pipeline import pipeline
    from params.pipeline import PipelineParams
    from synth.ledger import make_ledger, write_ledger

    # given a labelled ledger and the tiny model
    ledger = write_ledger(make_ledger(1500, 30, seed=3), str(tmp_path / "ledger.csv"))
    prepare = PrepareParams(input=ledger, work_dir=prepared["work_dir"], model=prepared["model"])
    train = {"run_name": "pipeline", "max_eval_samples": 50, "trainer": {**SETTINGS, "max_steps": 4, "save_steps": 4}}
    # when the whole pipeline runs
    result = pipeline(PipelineParams(prepare=prepare, train=train))
    # then both models were evaluated on the same test split, with reports on disk
    assert result.training.global_step == 4
    assert result.llm.metrics["n_test"] == result.baseline.metrics["n_test"] > 0
    assert result.baseline.metrics["accuracy"] > 0.5
    for report in (result.llm, result.baseline):
        assert Path(report.confusion_png).stat().st_size > 1024 and Path(report.per_class_csv).exists()
        assert report.calibration is not None and report.calibration.valid is not None
        assert Path(report.calibration.plots["reliability"]).exists()
    # and it chose the model to deploy between the two, with a reason
    assert result.choice is not None and result.choice.chosen in {"llm", "baseline"} and result.choice.reason
    chosen = {"llm": result.llm, "baseline": result.baseline}[result.choice.chosen]
    assert result.choice.model_dir == chosen.model_dir


def test_a_deleted_run_folder_trains_again_instead_of_coming_back_cached(prepared):
    # given a finished short run (one process, no launcher: the cache is what is tested)
    short = {**SETTINGS, "max_steps": 4, "save_steps": 4, "eval_steps": 4}
    p = params(prepared, run_name="deleted-folder", launcher="python", trainer=short)
    first = train_model(p)
    assert (Path(first.final_dir) / "adapter_model.safetensors").is_file()
    # when its run folder is deleted and the same parameters run again
    shutil.rmtree(first.run_dir)
    second = train_model(p)
    # then it trained again: the files the result names exist
    assert (Path(second.final_dir) / "adapter_model.safetensors").is_file()
    assert second.global_step == 4
