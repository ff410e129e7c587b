"""Step metrics from the training program's progress file into the flow's MLflow run (prefect-free).

The training program writes its metrics to progress.jsonl and nothing else, so a tracking server that goes
away can never kill a training rank. The flow tails that file and hands each metrics event to a MetricsSink,
which logs them with retries. While the store is away the sink keeps them (they stay in the file anyway),
warns once, and logs them in order when it answers again. The byte offset up to which the file is logged is
recorded next to the run, so a retried or resumed run never logs the same event twice.
"""

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

OFFSET_FILE = "mlflow_logged_offset.json"
BATCH = 1000  # MLflow's limit of metrics in one log-batch request
CLOSE_DELAYS = (2.0, 5.0, 10.0, 20.0, 30.0)  # about a minute of retries at close: nothing left to wait for


def read_events(path: Path, offset: int) -> tuple[list[tuple[dict, int]], int]:
    """Complete JSON lines from byte `offset` on, each with the byte offset where it ends; and the new offset."""
    if not path.exists():
        return [], offset
    with path.open("rb") as fh:  # bytes: offsets must be exact for the logged-offset record
        fh.seek(offset)
        data = fh.read()
    events = []
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # still being written: read again at the next poll
        offset += len(line)
        try:
            events.append((json.loads(line), offset))
        except ValueError:  # a line cut by a killed rank, glued to the next one: lose it, not the flow
            continue
    return events, offset


CURVES = "curves"  # MLflow's run page sorts metric sections by name: this one, the step curves, comes first


def mlflow_key(key: str) -> str:
    """The MLflow name of a progress-file metric: step curves (loss, learning_rate, eval_*) under curves/, one-off
    values under the split they were measured on (test/, train/), the linear probe's as probe/valid_... ."""
    section, _, name = key.rpartition("/")
    if section:
        return f"probe/valid_{name}" if section == "probe" else key
    for split in ("test", "train"):
        if key.startswith(split + "_"):
            return f"{split}/{key.removeprefix(split + '_')}"
    return "train/total_flos" if key == "total_flos" else f"{CURVES}/{key}"


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class MetricsSink:
    """Logs `log` / `test` events of progress.jsonl to one MLflow run; never raises for an unreachable store.

    store: anything with `log_batch(run_id, metrics=[{key, value, timestamp, step}])` raising ConnectionError
    when the store is unavailable (monitor.mlflow_store). Retries while away back off from `first_wait` to
    `max_wait` seconds so a dead server costs the follower's poll loop little.
    """

    def __init__(
        self,
        store,
        run_id: str,
        run_dir: str | Path,
        progress_file: str | Path,
        logger: logging.Logger | logging.LoggerAdapter,
        first_wait: float = 5.0,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store, self.run_id, self.logger, self.clock = store, run_id, logger, clock
        self.record, self.progress_file = Path(run_dir) / OFFSET_FILE, Path(progress_file)
        self.first_wait, self.max_wait = first_wait, max_wait
        self.wait, self.next_try, self.away = first_wait, 0.0, False
        self.pending: list[tuple[int, list[dict]]] = []  # (offset after the event's line, its metric rows)
        self.last_log: tuple[int | None, set[str]] = (None, set())
        self.logged = self._start_offset()

    def _start_offset(self) -> int:
        try:
            record = json.loads(self.record.read_text())
        except (OSError, ValueError):
            record = {}
        if record.get("run_id") == self.run_id:
            return int(record["offset"])
        # Not this run's record: what the file already holds belongs to an earlier MLflow run of this folder
        # (or was logged by the training program itself before the flow did it): start after it.
        start = self.progress_file.stat().st_size if self.progress_file.exists() else 0
        self._save(start)
        return start

    def _save(self, offset: int) -> None:
        tmp = self.record.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"run_id": self.run_id, "offset": offset}))
        os.replace(tmp, self.record)  # a killed flow leaves the old record or the new one, never half of one
        self.logged = offset

    def add(self, event: dict, end: int) -> None:
        """Queue the metrics of one event (every event of the file may be passed: logged ones are skipped)."""
        kind, step, metrics = event.get("event"), event.get("step"), event.get("metrics") or {}
        if kind == "log":
            self.last_log = (step, set(metrics))
        elif kind == "test":
            # the program's trainer.log() wrote the same test metrics as a `log` event at this step just before
            seen_step, seen = self.last_log
            metrics = {k: v for k, v in metrics.items() if not (seen_step == step and k in seen)}
        elif kind != "probe":  # the linear probe's own metrics, at step 0
            return
        if end <= self.logged:
            return
        stamp = int(float(event.get("time") or time.time()) * 1000)
        rows = [
            {"key": mlflow_key(k), "value": float(v), "timestamp": stamp, "step": int(step or 0)}
            for k, v in metrics.items()
            if _number(v)
        ]
        if rows:
            self.pending.append((end, rows))

    def catch_up(self) -> None:
        """Queue everything of the progress file not logged yet (the flow's close, after the follower is gone)."""
        events, _ = read_events(self.progress_file, 0)
        for event, end in events:
            self.add(event, end)

    def flush(self, force: bool = False) -> bool:
        """Log what is pending, oldest first; False when the store is away (it is tried again later)."""
        if not self.pending:
            return True
        now = self.clock()
        if not force and now < self.next_try:
            return False
        count = len(self.pending)
        try:
            self._send()
        except ConnectionError as err:
            if not self.away:  # one warning per outage, not one per step
                self.away = True
                self.logger.warning(
                    "MLflow unreachable, training goes on: %s. Step metrics are kept and logged when it answers "
                    "again (they are in %s too)",
                    err,
                    self.progress_file,
                )
            self.next_try, self.wait = now + self.wait, min(self.wait * 2, self.max_wait)
            return False
        if self.away:
            self.logger.info("MLflow answers again: logged %d pending step-metric events", count)
        self.away, self.wait, self.next_try = False, self.first_wait, 0.0
        return True

    def _send(self) -> None:
        while self.pending:
            chunk, size = [], 0
            for end, rows in self.pending:
                if chunk and size + len(rows) > BATCH:
                    break
                chunk.append((end, rows))
                size += len(rows)
            try:
                self.store.log_batch(self.run_id, metrics=[row for _, rows in chunk for row in rows])
            except ConnectionError:
                raise
            except Exception as err:  # rejected for good (a 4xx): retrying cannot help, skip these events
                self.logger.warning(
                    "MLflow rejected %d step-metric events (%s): skipped, they stay in %s",
                    len(chunk),
                    err,
                    self.progress_file,
                )
            del self.pending[: len(chunk)]
            self._save(chunk[-1][0])

    def finish(self, delays: tuple[float, ...] = CLOSE_DELAYS, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Catch up with the file and log it all, retrying after each delay; warn when it still could not."""
        self.catch_up()
        for delay in (*delays, None):
            if self.flush(force=True):
                return True
            if delay is not None:
                sleep(delay)
        self.logger.warning(
            "MLflow still unreachable: %d step-metric events were not logged to run %s; they remain in %s "
            "(from byte %d on) and are logged by the next run of this flow with resume_from='latest'",
            len(self.pending),
            self.run_id,
            self.progress_file,
            self.logged,
        )
        return False
