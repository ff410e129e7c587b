"""End to end with real parts: `prefect server start`, process work pools, `prefect deploy` from prefect.yaml,
a process worker, the pipeline deployment on the tiny model, then a train_model rerun that resumes and a prediction,
both naming their dataset and run as 'latest'."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from training.launcher import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).parent / "prefect")
TRAINER = {"max_steps": 4, "save_steps": 2, "eval_steps": 2, "logging_steps": 1, "per_device_train_batch_size": 8}


@pytest.fixture
def server(tmp_path):
    """A Prefect server on a free loopback port with its own home; stopped (whole process group) afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "ACCOUNT_TAX_HOME": str(ROOT),
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(1)
        else:
            pytest.fail("prefect server did not become healthy in 120 s")
        yield env, started
    finally:
        for pid in [*started, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        proc.wait(timeout=30)


def prefect(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def run_deployment(env: dict, started: list, name: str, pool: str, params: dict, tmp_path: Path) -> str:
    """Schedule a deployment run, serve it with a one-shot process worker, return the flow run id."""
    out = prefect(env, "deployment", "run", name, "--params", json.dumps({"params": params}))
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
    log = (tmp_path / f"worker-{pool}.log").open("a")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", pool, "--run-once"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started.append(worker.pid)
    worker.wait(timeout=900)
    return run_id


def api(env: dict, method: str, path: str, **body):
    response = httpx.request(method, env["PREFECT_API_URL"] + path, json=body or None, timeout=30)
    response.raise_for_status()
    return response.json()


def final_state(env: dict, run_id: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        state = api(env, "GET", f"/flow_runs/{run_id}")["state"]["type"]
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") or time.monotonic() > deadline:
            return state
        time.sleep(1)


def test_pipeline_deployment_runs_and_train_rerun_resumes(server, tmp_path):
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    env, started = server
    # given work pools and the deployments of prefect.yaml registered on a real server
    prefect(env, "work-pool", "create", "cpu", "--type", "process")
    prefect(env, "work-pool", "create", "gpu", "--type", "process")
    prefect(env, "--no-prompt", "deploy", "--all")
    names = {d["name"] for d in api(env, "POST", "/deployments/filter")}
    assert {"prepare-data", "train-model", "pipeline", "predict-ledger"} <= names
    work = tmp_path / "work"
    ledger = write_ledger(make_ledger(1200, 30, seed=5), str(work / "ledger.csv"))
    model = str(make_tiny_model(tmp_path / "tiny-model"))
    train = {"launcher": "deepspeed", "num_gpus": 1, "run_name": "e2e", "max_eval_samples": 50, "trainer": TRAINER}
    # when the pipeline deployment runs on a process worker
    params = {"prepare": {"input": ledger, "model": model, "work_dir": str(work)}, "train": train}
    run_id = run_deployment(env, started, "pipeline/pipeline", "gpu", params, tmp_path)
    # then it completed, with the artifacts under their stable keys and training progress at 100%
    assert final_state(env, run_id) == "COMPLETED", (tmp_path / "worker-gpu.log").read_text()[-3000:]
    assert api(env, "GET", f"/flow_runs/{run_id}")["name"].startswith("pipeline-tiny-model-ledger.csv-")
    artifacts = api(env, "POST", "/artifacts/filter")
    keys = {a["key"] for a in artifacts}
    assert {
        "data-quality-pipeline",  # the prepare report is keyed by the flow it ran in (tasks.report.report_scope)
        "rows-accounting-pipeline",
        "dataset-summary",
        "token-stats",
        "training-progress",
        "eval-metrics",
        "baseline-vs-llm",
    } <= keys
    progress = [a for a in artifacts if a["key"] == "training-progress"]
    assert max(float(a["data"]) for a in progress) == 100.0
    # when train_model is re-run from its deployment with resume_from=latest and more steps, on the 'latest'
    # dataset (resolved by the worker to the one the pipeline built)
    rerun = {
        "dataset": "latest",
        "model": model,
        "work_dir": str(work),
        **train,
        "resume_from": "latest",
        "trainer": {**TRAINER, "max_steps": 6},
    }
    run_id = run_deployment(env, started, "train_model/train-model", "gpu", rerun, tmp_path)
    # then it continued from the pipeline's last checkpoint to the new end
    assert final_state(env, run_id) == "COMPLETED", (tmp_path / "worker-gpu.log").read_text()[-3000:]
    events = [json.loads(x) for x in (work / "runs" / "e2e" / "progress.jsonl").read_text().splitlines()]
    resumed = [e["checkpoint"] for e in events if e["event"] == "resume" and e["checkpoint"]]
    assert resumed and resumed[-1].endswith("checkpoint-4")
    assert [e["step"] for e in events if e["event"] == "done"][-1] == 6
    # when predict-ledger runs on the cpu pool with model 'latest' (the run just finished)
    out = tmp_path / "predictions.csv"
    predict = {"model": "latest", "input": ledger, "out": str(out), "work_dir": str(work)}
    run_id = run_deployment(env, started, "predict_ledger/predict-ledger", "cpu", predict, tmp_path)
    # then it classified the ledger with that run
    assert final_state(env, run_id) == "COMPLETED", (tmp_path / "worker-cpu.log").read_text()[-3000:]
    assert out.stat().st_size > 0
