"""Tracking never kills training: a real `mlflow server`, stopped mid-run and started again (slow)."""

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from monitor.metrics_sink import read_events
from training.launcher import free_port

ROOT = Path(__file__).resolve().parents[1]


class MlflowServer:
    """`mlflow server` on a fixed port and sqlite store, stopped and started again at will."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        store, artifacts = f"sqlite:///{self.folder / 'mlflow.db'}", str(self.folder / "artifacts")
        cmd = [str(ROOT / ".venv/bin/mlflow"), "server", "--backend-store-uri", store, "--artifacts-destination"]
        cmd += [artifacts, "--host", "127.0.0.1", "--port", str(self.port)]
        with (self.folder / "server.log").open("a") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.folder, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"mlflow server not healthy after {timeout}s (see {self.folder / 'server.log'})")

    def stop(self) -> None:
        """The whole process group (the server and its workers), SIGKILL if it lingers."""
        if self.proc is not None:
            for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
                with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=wait)
                    break
            self.proc = None


def logged_steps(progress: Path) -> list[int]:
    return [e["step"] for e, _ in read_events(progress, 0)[0] if e.get("event") == "log" and "loss" in e["metrics"]]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_training_survives_the_mlflow_server_going_away_mid_run(tmp_path):
    from mlflow import MlflowClient

    from flows.prepare import prepare_data
    from flows.train import train_model
    from params.prepare import PrepareParams
    from params.train import TrainParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    # given a tiny model, a tokenized dataset and a real tracking server
    model = str(make_tiny_model(tmp_path / "tiny-model"))
    ledger = write_ledger(make_ledger(1500, 30, seed=3), str(tmp_path / "ledger.csv"))
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(tmp_path / "work"), model=model))
    server = MlflowServer(tmp_path)
    server.start()
    trainer = {"max_steps": 60, "save_steps": 20, "eval_steps": 20, "logging_steps": 2}
    params = TrainParams(
        dataset=str(Path(prepared.dataset.path).parent),
        model=model,
        work_dir=str(tmp_path / "work"),
        launcher="python",
        run_name="blip",
        max_eval_samples=50,
        trainer={**trainer, "per_device_train_batch_size": 16, "learning_rate": 1e-3},
        mlflow={"tracking_uri": server.url},
    )
    progress = Path(params.work_dir).resolve() / "runs" / "blip" / "progress.jsonl"
    # and a watcher that stops the server after the first logged step and starts it again six steps and at least
    # six seconds later (the flow polls the progress file every 2 s: a faster model must not hide the outage)
    seen: dict[str, list[int]] = {}
    stopped_at: list[float] = []

    def away(s: list[int]) -> bool:
        return bool(s) and s[-1] >= seen["stopped"][-1] + 6 and time.monotonic() - stopped_at[0] >= 6

    def watch() -> None:
        for name, ready in (("stopped", lambda s: s), ("restarted", away)):
            while not ready(steps := logged_steps(progress)):
                time.sleep(0.1)
            server.stop() if name == "stopped" else server.start()
            stopped_at.append(time.monotonic())
            seen[name] = steps

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("prefect").addHandler(handler)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        # when the flow trains while the server goes away and comes back
        state = train_model(params, return_state=True)
        watcher.join(timeout=120)
        logging.getLogger("prefect").removeHandler(handler)
        # then the flow completed, training reached max_steps, and the server really was away for several steps
        assert state.is_completed(), state
        outcome = state.result()
        assert outcome.global_step == 60
        assert seen["stopped"][-1] < 60 and seen["restarted"][-1] > seen["stopped"][-1], seen
        # and the MLflow run is FINISHED with every logged step once, in order, and the flow's final metrics
        client = MlflowClient(server.url)
        run_id = (Path(outcome.run_dir) / "mlflow_run_id").read_text()
        run = client.get_run(run_id)
        assert (
            run.info.status == "FINISHED"
            and "test/accuracy" in run.data.metrics
            and not any(k.startswith("final/") for k in run.data.metrics)
        )
        assert [m.step for m in client.get_metric_history(run_id, "curves/loss")] == list(range(2, 61, 2))
        # and the model is the run's logged model, registered through the server's REST API from it
        (output,) = run.outputs.model_outputs
        logged = client.get_logged_model(output.model_id)
        files = {a.path for a in client.list_logged_model_artifacts(logged.model_id)}
        assert logged.source_run_id == run_id and "MLmodel" in files
        version = client.get_model_version(outcome.registered.name, outcome.registered.version)
        assert version.run_id == run_id and version.source == f"models:/{logged.model_id}"
    finally:
        logging.getLogger("prefect").removeHandler(handler)
        server.stop()
    # and the outage was one warning (two when the restarting server drops a first request), not one per step
    messages = [r.getMessage() for r in records]
    assert 1 <= sum("MLflow unreachable, training goes on" in m for m in messages) <= 2, messages
