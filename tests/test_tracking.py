"""Tracking must never kill training: the metrics sink against a fake store that fails at will (fast)."""

import json
import logging
import os
import time
from pathlib import Path

import pytest

from monitor.metrics_sink import OFFSET_FILE, MetricsSink, mlflow_key, read_events
from monitor.mlflow_store import METRICS, TrackingUnavailable, store_for
from training.launcher import free_port

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

    def steps(self, key: str = "curves/loss") -> list[int]:
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


@pytest.mark.parametrize(
    ("key", "logged"),
    [("loss", "curves/loss"), ("eval_f1_macro", "curves/eval_f1_macro"), ("learning_rate", "curves/learning_rate"),
     ("test_accuracy", "test/accuracy"), ("train_runtime", "train/runtime"), ("total_flos", "train/total_flos"),
     ("probe/accuracy", "probe/valid_accuracy")],
)  # fmt: skip
def test_a_metric_is_logged_under_its_section_curves_first(key, logged):
    # given a metric of the progress file / when named for MLflow / then the curves' section, or the one-off's split
    assert mlflow_key(key) == logged


def test_test_event_does_not_repeat_the_log_event_before_it(tmp_path):
    # given the program's end: trainer.log(test metrics) as a `log` event, then a `test` event with the same ones
    progress, store = tmp_path / "progress.jsonl", FakeStore()
    metrics = {"test_loss": 0.5, "test_accuracy": 0.8}
    sink = sink_for(tmp_path, store)
    append(progress, log(30, **metrics), {"event": "test", "step": 30, "metrics": {**metrics, "test_extra": 1}})
    # when followed / then each test metric is logged once at that step
    poll(sink, progress, 0)
    logged = [(m["key"], m["step"]) for batch in store.batches for m in batch]
    assert sorted(logged) == [("test/accuracy", 30), ("test/extra", 30), ("test/loss", 30)]


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
    assert [m.step for m in client.get_metric_history(run_id, "curves/loss")] == [2, 4]


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
