"""End to end with real parts, all on loopback: an S3 server (moto), `make serve` with authentication on (a Prefect
server and an MLflow basic-auth tracking server that refuse a request without credentials), the deployments of
prefect.yaml, a cpu and a gpu process pool whose workers stand for separate hosts (each its own cache folder and
Prefect home: nothing shared but the bucket). The pipeline prepares on the cpu host and trains on a gpu host through
run_deployment; that gpu host is killed after a checkpoint reached the bucket, and a fresh gpu host resumes the run
to its last step; the pipeline re-run on a fresh cpu host finds its data stages Cached; predict-ledger reads
'latest'; a cancelled pipeline cancels its training run."""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from training.launcher import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).parent / "prefect")
BUCKET = "account-tax-e2e"
WORK = f"s3://{BUCKET}/work"
STEPS = 120
TRAINER = {
    "max_steps": STEPS, "save_steps": 10, "eval_steps": 60, "logging_steps": 5, "per_device_train_batch_size": 8,
    "save_total_limit": 3,
}  # fmt: skip
DATA_STAGES = {
    "fingerprint_input", "load_ledger", "standardize_columns", "clean_ledger", "filter_ledger", "normalize_values",
    "validate_ledger", "build_features", "select_features", "assign_label_slots", "split_dataset", "serialize_text",
    "tokenize_dataset",
}  # fmt: skip


class Cluster:
    """The server's environment and every process the test started (stopped by PID, whole process groups)."""

    def __init__(self, tmp_path: Path, env: dict, mlflow_url: str):
        self.tmp, self.env, self.procs, self.mlflow_url = tmp_path, env, {}, mlflow_url
        self.auth = tuple(env["PREFECT_API_AUTH_STRING"].split(":", 1))
        self.mlflow_auth = (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"])

    def prefect(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([PREFECT, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def worker(self, pool: str, host: str, slug: str) -> subprocess.Popen:
        """A process worker on its own 'host': a cache folder and a Prefect home of its own."""
        home = self.tmp / host
        (home / "prefect-home").mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            "PREFECT_HOME": str(home / "prefect-home"),
            "ACCOUNT_TAX_CACHE": str(home / "cache"),
            "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": slug,
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        }
        proc = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", pool, "--name", host],
            env=env, cwd=ROOT, stdout=(self.tmp / f"{host}.log").open("a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs[host] = proc
        return proc

    def kill_host(self, host: str) -> None:
        """SIGKILL the worker, its process group and everything it started (the flow run, the launcher)."""
        proc = self.procs.pop(host)
        family = psutil.Process(proc.pid).children(recursive=True)
        groups = {proc.pid, *(os.getpgid(p.pid) for p in family if p.is_running())}
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for p in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def api(self, method: str, path: str, **body):
        response = httpx.request(
            method, self.env["PREFECT_API_URL"] + path, json=body or None, auth=self.auth, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def mlflow(self, endpoint: str, **body) -> dict:
        url = f"{self.mlflow_url}/api/2.0/mlflow/{endpoint}"
        response = httpx.post(url, json=body, auth=self.mlflow_auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def unauthenticated(self) -> dict[str, int]:
        """The status of requests to both servers without credentials and with a wrong password."""
        api, search = self.env["PREFECT_API_URL"], f"{self.mlflow_url}/api/2.0/mlflow/experiments/search"
        answers = {}
        for name, auth in (("no credentials", None), ("wrong password", (self.auth[0], "not-the-password"))):
            answers[f"Prefect GET /api/admin/version, {name}"] = httpx.get(f"{api}/admin/version", auth=auth)
            answers[f"Prefect POST /api/flows/filter, {name}"] = httpx.post(f"{api}/flows/filter", json={}, auth=auth)
            answers[f"MLflow experiments/search, {name}"] = httpx.post(search, json={"max_results": 1}, auth=auth)
        return {what: answer.status_code for what, answer in answers.items()}

    def start(self, deployment: str, params: dict) -> str:
        out = self.prefect("deployment", "run", deployment, "--params", json.dumps({"params": params}))
        return next(word for word in out.split() if len(word) == 36 and word.count("-") == 4)

    def wait(self, run_id: str, seconds: float = 900) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{run_id}")
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            time.sleep(2)
        pytest.fail(f"flow run {run_id} did not end in {seconds} s; logs in {self.tmp}")

    def log(self, host: str) -> str:
        return (self.tmp / f"{host}.log").read_text(errors="replace")[-4000:]

    def runs_of(self, deployment: str) -> list[dict]:
        found = self.api("POST", "/flow_runs/filter", sort="EXPECTED_START_TIME_ASC")
        ids = {d["id"] for d in self.api("POST", "/deployments/filter") if d["name"] == deployment}
        return [r for r in found if r["deployment_id"] in ids]

    def task_states(self, flow_run_id: str) -> dict[str, str]:
        """Task name -> state name of the flow run's tasks and of its subflows' (prepare_data's)."""
        children = self.api("POST", "/flow_runs/filter", flow_runs={"parent_flow_run_id": {"any_": [flow_run_id]}})
        ids = [flow_run_id, *(c["id"] for c in children)]
        runs = self.api("POST", "/task_runs/filter", flow_runs={"id": {"any_": ids}}, limit=200)
        return {r["name"].rsplit("-", 1)[0]: r["state"]["name"] for r in runs}


@pytest.fixture
def cluster(tmp_path, moto_s3):
    """`make serve --auth` with no workers: a Prefect and an MLflow server on free loopback ports, both requiring
    credentials (the test's own, from the environment as on a team's hosts); stopped with every worker afterwards."""
    port = free_port()
    while (mlflow_port := free_port()) == port:
        pass
    password = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        **moto_s3.env,
        "PREFECT_HOME": str(tmp_path / "server-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "ACCOUNT_TAX_HOME": str(ROOT),
        "PREFECT_API_AUTH_STRING": f"e2e:{password}",
        "MLFLOW_TRACKING_USERNAME": "e2e",
        "MLFLOW_TRACKING_PASSWORD": password,
    }
    env.pop("ACCOUNT_TAX_CACHE", None)
    found = Cluster(tmp_path, env, f"http://127.0.0.1:{mlflow_port}")
    servers, log = tmp_path / "servers", tmp_path / "serve.log"
    serve = [sys.executable, "-m", "deployments.serve", "--auth", "--pools", "--prefect-port", str(port),
             "--mlflow-port", str(mlflow_port), "--mlflow-workers", "1", "--work-dir", str(servers)]  # fmt: skip
    server = subprocess.Popen(
        serve, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops" not in log.read_text():  # both servers healthy, the MLflow login checked
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:] + server_logs(servers)
            time.sleep(1)
        yield found
    finally:
        found.stop()
        os.killpg(server.pid, signal.SIGTERM)  # serve.py stops both servers, each by its process group
        server.wait(timeout=60)


def server_logs(servers: Path) -> str:
    return "".join(f"\n{p.name}:\n" + p.read_text(errors="replace")[-2000:] for p in (servers / "logs").glob("*.log"))


def complete_checkpoints(fs) -> list[int]:
    found = fs.glob(f"{BUCKET}/work/runs/e2e/checkpoints/checkpoint-*/CHECKPOINT_COMPLETE.json")
    return sorted(int(p.split("/")[-2].split("-")[1]) for p in found)


def test_cpu_pool_prepares_gpu_pool_trains_and_a_killed_gpu_host_resumes_elsewhere(cluster, moto_s3, tmp_path):
    import s3fs

    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    # given servers that refuse a request without credentials, or with a wrong password
    refused = cluster.unauthenticated()
    assert set(refused.values()) == {401}, refused
    # and a bucket holding the ledger and the base model, the deployments and the shared result storage
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **moto_s3.options)
    fs.mkdir(BUCKET)
    fs.put_file(write_ledger(make_ledger(1200, 30, seed=5), str(tmp_path / "ledger.csv")), f"{BUCKET}/in/ledger.csv")
    fs.put(str(make_tiny_model(tmp_path / "tiny-model")), f"{BUCKET}/models/tiny", recursive=True)
    cluster.prefect("work-pool", "create", "cpu", "--type", "process")
    cluster.prefect("work-pool", "create", "gpu", "--type", "process")
    cluster.prefect("--no-prompt", "deploy", "--all")
    done = subprocess.run(
        [sys.executable, "-m", "deployments.shared_store", f"s3://{BUCKET}", "--silence", "40"],
        env=cluster.env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    slug = done.stdout.split("PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=")[1].split()[0]
    cluster.worker("cpu", "cpu-host-1", slug)
    cluster.worker("gpu", "gpu-host-1", slug)
    train = {
        "launcher": "deepspeed", "num_gpus": 1, "run_name": "e2e", "max_eval_samples": 50, "trainer": TRAINER,
        "resume_from": "latest", "retries": 1, "mlflow": {"tracking_uri": cluster.mlflow_url},
    }  # fmt: skip
    params = {
        "prepare": {"input": f"s3://{BUCKET}/in/ledger.csv", "model": f"s3://{BUCKET}/models/tiny", "work_dir": WORK},
        "train": train,
        "train_deployment": "train_model/train-model",
    }
    # when the pipeline deployment runs on the cpu pool, and the gpu host dies once a checkpoint is in the bucket
    pipeline_id = cluster.start("pipeline/pipeline", params)
    deadline = time.monotonic() + 600
    while not complete_checkpoints(fs):
        assert time.monotonic() < deadline, cluster.log("cpu-host-1") + cluster.log("gpu-host-1")
        time.sleep(0.5)
    cluster.kill_host("gpu-host-1")
    stored = complete_checkpoints(fs)
    assert stored and stored[-1] < STEPS, f"training ended before the kill: {stored}"
    # and an upload cut off mid-way (no manifest) lies beside them, newer than all
    fs.pipe_file(f"{BUCKET}/work/runs/e2e/checkpoints/checkpoint-{STEPS - 5}/trainer_state.json", b"{")
    cluster.worker("gpu", "gpu-host-2", slug)
    finished = cluster.wait(pipeline_id)
    # then the pipeline completed on the cpu host, its first training run crashed and a retry finished the run
    assert finished["state"]["type"] == "COMPLETED", cluster.log("cpu-host-1") + cluster.log("gpu-host-2")
    trainings = cluster.runs_of("train-model")
    assert [r["state"]["type"] for r in trainings] == ["CRASHED", "COMPLETED"], trainings
    assert cluster.task_states(pipeline_id)["train_on_pool"] == "Completed"
    # and the fresh gpu host resumed from the newest complete checkpoint in the bucket, to the uninterrupted end
    progress = fs.cat_file(f"{BUCKET}/work/runs/e2e/progress.jsonl").decode().splitlines()
    events = [json.loads(line) for line in progress]
    resumed = [e["checkpoint"] for e in events if e["event"] == "resume" and e.get("checkpoint")]
    assert resumed and Path(resumed[-1]).name == f"checkpoint-{max(stored)}", (resumed, stored)
    assert [e["step"] for e in events if e["event"] == "done"][-1] == STEPS
    assert (tmp_path / "gpu-host-2" / "cache" / "s3" / BUCKET / "work" / "runs" / "e2e" / "final").is_dir()
    assert not (tmp_path / "gpu-host-1" / "cache" / "s3" / BUCKET / "work" / "runs" / "e2e" / "final").exists()
    assert not (tmp_path / "gpu-host-2" / "cache" / "s3" / BUCKET / "work" / "stages").exists()  # no data stage ran
    # and the artifacts of both flows are on the server
    keys = {a["key"] for a in cluster.api("POST", "/artifacts/filter")}
    assert {"rows-accounting-pipeline", "dataset-summary", "training-progress", "eval-metrics"} <= keys
    # and the UI's log of a flow run a worker started says something on every line: no "Completed()" wall
    logged_lines = cluster.api("POST", "/logs/filter", logs={"flow_run_id": {"any_": [pipeline_id]}}, limit=200)
    messages = [log["message"] for log in logged_lines]
    assert messages and not [m for m in messages if m.startswith("Finished in state Completed(")], messages
    # and both gpu hosts logged to one MLflow run on the tracking server, with the credentials of the environment
    experiment = cluster.mlflow("experiments/search", filter="name = 'account-tax'", max_results=1)["experiments"][0]
    logged = cluster.mlflow("runs/search", experiment_ids=[experiment["experiment_id"]], filter="run_name = 'e2e'")
    assert [r["info"]["status"] for r in logged["runs"]] == ["FINISHED"], logged

    # when the pipeline runs again on a fresh cpu host
    cluster.procs.pop("cpu-host-1").send_signal(signal.SIGTERM)
    cluster.worker("cpu", "cpu-host-2", slug)
    again = cluster.wait(cluster.start("pipeline/pipeline", params))
    # then every data stage came back Cached from the bucket's records
    assert again["state"]["type"] == "COMPLETED", cluster.log("cpu-host-2")
    states = cluster.task_states(again["id"])
    assert {states[name] for name in DATA_STAGES} == {"Cached"}, states

    # when predict-ledger runs on the cpu pool with the latest finished run in the bucket
    out = f"s3://{BUCKET}/work/predictions.csv"
    predict = {"model": "latest", "input": f"s3://{BUCKET}/in/ledger.csv", "out": out, "work_dir": WORK}
    predicted = cluster.wait(cluster.start("predict_ledger/predict-ledger", predict))
    # then the predictions are in the bucket
    assert predicted["state"]["type"] == "COMPLETED", cluster.log("cpu-host-2")
    assert fs.size(f"{BUCKET}/work/predictions.csv") > 0

    # when a pipeline is cancelled while the training run it started is training
    long = {**params, "train": {**train, "run_name": "e2e-cancel", "trainer": {**TRAINER, "max_steps": 100_000}}}
    cancelled_id = cluster.start("pipeline/pipeline", long)
    deadline = time.monotonic() + 300
    while not [r for r in cluster.runs_of("train-model") if r["state"]["type"] == "RUNNING"]:
        assert time.monotonic() < deadline, cluster.log("cpu-host-2")
        time.sleep(1)
    training = next(r for r in cluster.runs_of("train-model") if r["state"]["type"] == "RUNNING")
    while not launched(training["id"], cluster):
        assert time.monotonic() < deadline, cluster.log("gpu-host-2")
        time.sleep(1)
    cluster.api("POST", f"/flow_runs/{cancelled_id}/set_state", state={"type": "CANCELLING"}, force=True)
    # then the pipeline and its training run end Cancelled, and no training process is left on the gpu host
    assert cluster.wait(cancelled_id, 120)["state"]["type"] == "CANCELLED", cluster.log("cpu-host-2")
    assert cluster.wait(training["id"], 180)["state"]["type"] == "CANCELLED", cluster.log("gpu-host-2")
    deadline = time.monotonic() + 60
    while training_processes("e2e-cancel"):
        assert time.monotonic() < deadline, training_processes("e2e-cancel")
        time.sleep(1)


def launched(flow_run_id: str, cluster: Cluster) -> bool:
    """The training flow run has started its launcher (its log says so)."""
    logs = cluster.api("POST", "/logs/filter", logs={"flow_run_id": {"any_": [flow_run_id]}}, limit=200)
    return any("launching:" in log["message"] for log in logs)


def training_processes(run_name: str) -> list[str]:
    """Command lines of processes training the run (the launcher and its ranks name its run.yaml)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if f"{run_name}/run.yaml" in line:
            found.append(line)
    return found
