"""Tracking must never kill training: the metrics sink (fast, fake store) and a real MLflow server stopped mid-run."""

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tasks.metrics_sink import OFFSET_FILE, MetricsSink, read_events
from tasks.mlflow_store import METRICS, TrackingUnavailable, store_for
from training.launcher import free_port

ROOT = Path(__file__).resolve().parents[1]
LOGGER = logging.getLogger("test_tracking")


class FakeStore:
    """log_batch that fails like a dead server while `down`, or rejects like a 400 while `reject` is set."""

    def __init__(self, down: bool = False):
        self.down, self.reject, self.calls, self.batches = down, False, 0, []

    def log_batch(self, run_id, metrics=(), params=None):
        from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

        self.calls += 1
        if self.down:
            raise TrackingUnavailable("MLflow tracking store http://mlflow:5000 unavailable: connection refused")
        if self.reject:
            self.reject = False
            raise MlflowException("bad metric", error_code=INVALID_PARAMETER_VALUE)
        self.batches.append(list(metrics))

    def steps(self, key: str = "loss") -> list[int]:
        return [m["step"] for batch in self.batches for m in batch if m["key"] == key]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def append(path: Path, *events: dict) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps({"time": 1.7e9, **event}) + "\n")


def log(step: int, **metrics) -> dict:
    return {"event": "log", "step": step, "max_steps": 30, "metrics": metrics or {"loss": 1.0 / step}}


def sink_for(tmp_path: Path, store, run_id: str = "run-a", clock=None) -> MetricsSink:
    return MetricsSink(store, run_id, tmp_path, tmp_path / "progress.jsonl", LOGGER, clock=clock or Clock())


def poll(sink: MetricsSink, path: Path, offset: int) -> int:
    """What the flow's ProgressFollower does on each poll."""
    events, offset = read_events(path, offset)
    for event, end in events:
        sink.add(event, end)
    sink.flush()
    return offset


def recorded(tmp_path: Path) -> dict:
    return json.loads((tmp_path / OFFSET_FILE).read_text())


def test_unreachable_store_keeps_metrics_backs_off_and_warns_once(tmp_path, caplog):
    # given a sink whose store is down, polled every 2 s as the flow does
    progress, store, clock = tmp_path / "progress.jsonl", FakeStore(down=True), Clock()
    sink, offset = sink_for(tmp_path, store, clock=clock), 0
    # when 60 steps are logged and polled over two minutes while the store stays away
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        for step in range(1, 61):
            append(progress, {"event": "train_begin", "step": 0} if step == 1 else {"event": "checkpoint"}, log(step))
            offset = poll(sink, progress, offset)
            clock.now += 2
    # then every metric is pending, nothing is recorded as logged (the record is still at the file's start)
    assert [rows[0]["step"] for _, rows in sink.pending] == list(range(1, 61)) and not store.batches
    # and it tried at 0, 6, 16, 36 and 76 s (waits of 5, 10, 20, 40 s rounded up to a poll), not 60 times
    assert store.calls == 5 and recorded(tmp_path) == {"run_id": "run-a", "offset": 0}
    # and it warned once
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "MLflow unreachable, training goes on" in warnings[0].getMessage()


def test_recovery_logs_pending_metrics_in_order_once(tmp_path, caplog):
    # given three steps pending while the store was down
    progress, store, clock = tmp_path / "progress.jsonl", FakeStore(down=True), Clock()
    sink, offset = sink_for(tmp_path, store, clock=clock), 0
    for step in (2, 4, 6):
        append(progress, log(step))
        offset = poll(sink, progress, offset)
    # when the store answers again, before the back-off is over and then after it
    store.down = False
    append(progress, log(8))
    offset = poll(sink, progress, offset)
    assert not store.batches  # still waiting: no request per poll during an outage
    clock.now += 60
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        offset = poll(sink, progress, offset)
        append(progress, log(10))
        offset = poll(sink, progress, offset)
    # then everything was logged in order, once, and the record points at the end of the file
    assert store.steps() == [2, 4, 6, 8, 10] and not sink.pending
    assert recorded(tmp_path)["offset"] == progress.stat().st_size == offset
    assert any("answers again: logged 4 pending" in r.getMessage() for r in caplog.records)


def test_a_retried_run_logs_only_what_was_not_logged(tmp_path):
    # given an attempt that logged steps 2 and 4, then died with step 6 pending (store down at the time)
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    first = sink_for(tmp_path, store)
    append(progress, log(2), log(4))
    poll(first, progress, 0)
    store.down = True
    append(progress, log(6))
    poll(first, progress, 0)
    # when the retry follows the file from its start again (and the resumed program appends step 8)
    store.down = False
    append(progress, {"event": "resume", "checkpoint": "checkpoint-4"}, log(8))
    retry = sink_for(tmp_path, store)
    poll(retry, progress, 0)
    # then 6 and 8 were logged by the retry, and 2 and 4 only once
    assert store.steps() == [2, 4, 6, 8]


def test_a_new_mlflow_run_does_not_take_the_folder_s_older_events(tmp_path):
    # given a progress file with events of an earlier MLflow run of the same folder
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    append(progress, log(2), log(4))
    sink_for(tmp_path, store, run_id="old").flush()
    # when a sink for a new run follows the file from its start
    sink = sink_for(tmp_path, store, run_id="new")
    append(progress, log(2))
    poll(sink, progress, 0)
    # then only the event written after the new run started is logged
    assert store.steps() == [2] and recorded(tmp_path)["run_id"] == "new"


def test_test_event_does_not_repeat_the_log_event_before_it(tmp_path):
    # given the program's end: trainer.log(test metrics) as a `log` event, then a `test` event with the same ones
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    metrics = {"test_loss": 0.5, "test_accuracy": 0.8}
    sink = sink_for(tmp_path, store)
    append(progress, log(30, **metrics), {"event": "test", "step": 30, "metrics": {**metrics, "test_extra": 1}})
    # when followed / then each test metric is logged once at that step
    poll(sink, progress, 0)
    logged = [(m["key"], m["step"]) for batch in store.batches for m in batch]
    assert sorted(logged) == [("test_accuracy", 30), ("test_extra", 30), ("test_loss", 30)]


def test_batches_stay_under_mlflow_s_limit(tmp_path):
    # given 600 pending events of two metrics each (an outage of a long run)
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    sink = sink_for(tmp_path, store)
    append(progress, *[log(step, loss=1.0, learning_rate=1e-4) for step in range(1, 601)])
    # when logged / then in requests of at most 1000 metrics, all in order
    poll(sink, progress, 0)
    assert [len(b) for b in store.batches] == [1000, 200] and store.steps() == list(range(1, 601))


def test_a_rejected_batch_is_skipped_and_does_not_block_the_rest(tmp_path, caplog):
    # given a store that rejects the first request for good (a 400), then accepts
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    store.reject = True
    sink = sink_for(tmp_path, store)
    append(progress, log(2))
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        offset = poll(sink, progress, 0)
    append(progress, log(4))
    poll(sink, progress, offset)
    # then the rejected event is skipped with a warning and the next one is logged
    assert store.steps() == [4] and "rejected 1 step-metric events" in caplog.text


def test_finish_when_the_store_stays_away_says_where_the_metrics_are(tmp_path, caplog):
    # given metrics that could never be logged
    progress, store = tmp_path / "progress.jsonl", FakeStore(down=True)
    sink = sink_for(tmp_path, store)
    append(progress, log(2), log(4))
    # when the flow closes the run with two retries
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        assert sink.finish(delays=(0.0, 0.0), sleep=lambda s: None) is False
    # then it tried three times and said that the metrics remain in progress.jsonl
    assert store.calls == 3
    assert "2 step-metric events were not logged" in caplog.text and str(progress) in caplog.text


def test_a_dead_http_store_fails_fast_without_touching_the_environment():
    # given a tracking URI nothing listens on, and the MLflow variables of this process
    before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    store = store_for(f"http://127.0.0.1:{free_port()}", METRICS)
    # when metrics are logged / then it is a TrackingUnavailable within seconds, and no variable was set
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable, match="unavailable"):
        store.log_batch("run", metrics=[{"key": "loss", "value": 1.0, "timestamp": 0, "step": 1}])
    assert time.monotonic() - started < 5
    assert {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")} == before


def test_a_failed_flow_logs_pending_metrics_and_marks_the_run_failed(tmp_path):
    from mlflow import MlflowClient

    from tasks.tracking import fail_mlflow_run

    # given a run whose last steps were not logged yet when the flow failed
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = store_for(uri)
    run_id = store.create_run(store.create_experiment("x"), "r", {})
    (tmp_path / "mlflow_run_id").write_text(run_id)
    sink_for(tmp_path, store, run_id=run_id)  # what run_training's sink recorded before the launch
    append(tmp_path / "progress.jsonl", log(2), log(4, loss=float("nan")))  # NaN: a diverged step is a metric too
    # when the flow's failure hook runs / then the steps are logged and the run is FAILED
    assert fail_mlflow_run(str(tmp_path), uri, str(tmp_path), LOGGER)
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [2, 4]


def test_a_failed_flow_with_a_dead_server_only_warns(tmp_path, monkeypatch, caplog):
    import tasks.tracking

    # given a failed flow's run folder and a tracking server that is gone
    monkeypatch.setattr(tasks.tracking, "FAIL_DELAYS", (0.0,))
    (tmp_path / "mlflow_run_id").write_text("run-a")
    sink_for(tmp_path, FakeStore())
    append(tmp_path / "progress.jsonl", log(2))
    # when the failure hook runs / then it returns quickly with warnings, and raises nothing
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        assert not tasks.tracking.fail_mlflow_run(str(tmp_path), f"http://127.0.0.1:{free_port()}", "", LOGGER)
    assert time.monotonic() - started < 10
    assert "could not mark MLflow run run-a FAILED" in caplog.text and "remain in" in caplog.text


# --- a real MLflow server that goes away mid-run -------------------------------------------------------------


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
    trainer = {"max_steps": 30, "save_steps": 10, "eval_steps": 10, "logging_steps": 2}
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
    # and a watcher that stops the server after the first logged step and starts it again six steps later
    seen: dict[str, list[int]] = {}

    def watch() -> None:
        for name, ready in (("stopped", lambda s: s), ("restarted", lambda s: s and s[-1] >= seen["stopped"][-1] + 6)):
            while not ready(steps := logged_steps(progress)):
                time.sleep(0.1)
            server.stop() if name == "stopped" else server.start()
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
        assert outcome.global_step == 30
        assert seen["stopped"][-1] < 30 and seen["restarted"][-1] > seen["stopped"][-1], seen
        # and the MLflow run is FINISHED with every logged step once, in order, and the flow's final metrics
        client = MlflowClient(server.url)
        run_id = (Path(outcome.run_dir) / "mlflow_run_id").read_text()
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and "final_test_accuracy" in run.data.metrics
        assert [m.step for m in client.get_metric_history(run_id, "loss")] == list(range(2, 31, 2))
        assert "adapter/adapter_config.json" in {a.path for a in client.list_artifacts(run_id, "adapter")}
    finally:
        logging.getLogger("prefect").removeHandler(handler)
        server.stop()
    # and the outage was one warning, not one per step
    messages = [r.getMessage() for r in records]
    assert sum("MLflow unreachable, training goes on" in m for m in messages) == 1, messages
