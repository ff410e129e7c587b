"""The training program's progress, followed from its JSON lines while it runs: the Prefect progress artifact, the
terminal bar, one log line per logged step, the step metrics handed to MLflow, each saved checkpoint mirrored to the
shared store. Used by tasks.train.run_training; no @task here."""

from pathlib import Path

from monitor.metrics_sink import MetricsSink, read_events
from monitor.progress import ProgressArtifact
from monitor.terminal import BAR_SHOWN
from training.checkpoint_store import CheckpointMirror


class ProgressFollower:
    """Reads the program's JSON lines as they come: progress artifact, terminal bar, metric log lines, the
    metrics for MLflow (handed to the sink, which logs them for the flow's run: the program does not), and each
    saved checkpoint copied to the shared store when there is one."""

    def __init__(self, path: str, logger, sink: MetricsSink | None = None, mirror: CheckpointMirror | None = None):
        self.path, self.logger, self.offset, self.sink, self.mirror = Path(path), logger, 0, sink, mirror
        self.artifact = ProgressArtifact("training-progress", 0, "training steps", every=10.0)
        self.bar, self.last, self.step, self.fatal = None, {}, 0, None

    def poll(self) -> None:
        events, self.offset = read_events(self.path, self.offset)
        for event, end in events:
            self._handle(event)
            if self.sink is not None:  # every event: the sink skips what an earlier attempt already logged
                self.sink.add(event, end)
        if self.sink is not None:
            self.sink.flush()  # never raises; while MLflow is away it keeps the metrics and backs off

    def _handle(self, event: dict) -> None:
        step, total = event.get("step"), event.get("max_steps")
        self.step = step if step is not None else self.step
        if step is not None and total:
            self.artifact.update(step, total)
            self._bar(step, total)
        if event["event"] in ("log", "test") and event.get("metrics"):
            self.last.update(event["metrics"])
        if event["event"] == "log" and event.get("metrics"):  # a `test` event repeats the test metrics' log line
            shown = ", ".join(
                f"{k}={v:.4g}" for k, v in event["metrics"].items() if "runtime" not in k and "per_second" not in k
            )
            evaluated = any(k.startswith(("eval_", "test_")) for k in event["metrics"])
            self.logger.info("step %s/%s %s", step, total, shown, extra={} if evaluated else {BAR_SHOWN: True})
        elif event["event"] == "probe" and event.get("metrics"):
            shown = ", ".join(f"{k.removeprefix('probe/')}={v:.4g}" for k, v in event["metrics"].items())
            self.logger.info("head starts from a linear probe on the frozen model (valid: %s)", shown)
        elif event["event"] == "fatal":
            self.fatal = event.get("message")
        elif event["event"] == "warm_start":
            codes = event.get("new_codes") or []
            self.logger.info("warm start from %s; %d new codes %s", event.get("parent"), len(codes), codes[:10])
        elif event["event"] in ("resume", "checkpoint", "saved") and (
            where := event.get("checkpoint") or event.get("path")
        ):
            self.logger.info("%s %s", event["event"], where)  # a resume without a checkpoint is a start from scratch
            if event["event"] == "checkpoint" and self.mirror is not None:
                self.mirror.push(where)

    def _bar(self, step: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc="training", unit="step", initial=step)
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.sink is not None and not self.sink.flush(force=True):
            self.logger.warning(
                "%d step-metric events are not in MLflow yet: the flow logs them when it closes the run",
                len(self.sink.pending),
            )
