"""The flow's MLflow run: opened before training (store checked first), ended exactly once after it.

No MLflow setting goes through os.environ (the training program would inherit it): each call carries its
own timeout and retries (monitor.mlflow_store), and the training program never talks to MLflow at all; its
step metrics are logged by the flow from progress.jsonl (monitor.metrics_sink).
"""

import logging
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from contracts.run_folder import RunFolder
from monitor.metrics_sink import CLOSE_DELAYS, MetricsSink
from monitor.mlflow_store import QUICK, STEADY, MlflowRun, TrackingUnavailable, retrying, store_for
from tasks.train import PlannedRun

__all__ = ["MlflowRun", "check_mlflow_store", "close_mlflow_run", "fail_mlflow_run", "open_mlflow_run"]

SETUP_DELAYS = (2.0, 5.0)  # a blip while opening the run; a dead server already failed the reachability check
FAIL_DELAYS = (2.0,)  # the flow is failing already: a short try, then a warning


def tracking_uri(uri: str | None, work_dir: str) -> str:
    """The given URI, or a local sqlite store in the work dir."""
    return uri or f"sqlite:///{Path(work_dir).resolve() / 'mlflow.db'}"


def reach_store(uri: str, experiment: str):
    """The experiment's id (None when new), asked with short timeouts: a dead store is one ConnectionError."""
    try:
        return store_for(uri, QUICK).experiment_id(experiment)
    except Exception as err:  # refused, timed out, or an answer that is not MLflow's
        detail = err.__cause__ if isinstance(err, TrackingUnavailable) and err.__cause__ else err  # URI named once
        raise ConnectionError(f"MLflow tracking store {uri} unreachable, not starting training: {detail}") from err


@task(retries=1, retry_delay_seconds=5)
def check_mlflow_store(uri: str | None, experiment: str, work_dir: str) -> str:
    """Reach the tracking store before any data or training work (a pipeline fails here, not after hours)."""
    uri = tracking_uri(uri, work_dir)
    reach_store(uri, experiment)
    return uri


@task(retries=2, retry_delay_seconds=5)
def open_mlflow_run(run: PlannedRun, uri: str | None, experiment: str, params: dict) -> MlflowRun:
    """Check the store, then start (or, when resuming, reopen) the run and log the parameters."""
    logger = get_run_logger()
    uri = tracking_uri(uri, run.work_dir)
    found = reach_store(uri, experiment)
    store = store_for(uri, STEADY)

    def again(what, call):
        return retrying(what, call, SETUP_DELAYS, logger)

    experiment_id = found or again(
        "creating the MLflow experiment",
        lambda: store.create_experiment(
            experiment,
            (Path(run.work_dir).resolve() / "mlartifacts").as_uri() if uri.startswith("sqlite") else None,
        ),
    )
    id_file = RunFolder(root=run.run_dir).mlflow_run_id
    if run.resuming and id_file.exists():
        run_id = id_file.read_text().strip()
        again("reopening the MLflow run", lambda: store.set_status(run_id, "RUNNING"))
    else:
        tags = {"account_tax.run_dir": run.run_dir}
        run_id = again("creating the MLflow run", lambda: store.create_run(experiment_id, run.run_name, tags))
        id_file.write_text(run_id)
        flat = {k: str(v)[:500] for k, v in _flatten(params).items()}
        keys = list(flat)
        for start in range(0, len(keys), 100):  # MLflow takes at most 100 params per batch
            chunk = {k: flat[k] for k in keys[start : start + 100]}
            again("logging the parameters", lambda chunk=chunk: store.log_batch(run_id, params=chunk))
    return MlflowRun(tracking_uri=uri, experiment=experiment, run_id=run_id, run_dir=run.run_dir)


@task
def close_mlflow_run(
    mlflow_run: MlflowRun, final_dir: str, metrics: dict[str, float], reports_dir: str | None = None
) -> None:
    """Log what is left of the step metrics, the final metrics, the adapter folder and the reports, then end the
    run (the only place that ends it). Retries for about a minute, then fails with a clear error."""
    logger = get_run_logger()
    run_id, store = mlflow_run.run_id, store_for(mlflow_run.tracking_uri, STEADY)
    progress = RunFolder(root=mlflow_run.run_dir).progress
    sink = MetricsSink(store, run_id, mlflow_run.run_dir, progress, logger)
    # the sink already waited about a minute when it fails: the rest gets one try each, not another minute
    delays = CLOSE_DELAYS if sink.finish(CLOSE_DELAYS) else ()

    def again(what, call):
        return retrying(what, call, delays, logger)

    try:
        if metrics:
            rows = [{"key": f"final_{k}", "value": float(v), "timestamp": 0, "step": 0} for k, v in metrics.items()]
            again("logging the final metrics", lambda: store.log_batch(run_id, metrics=rows))
        again("uploading the adapter", lambda: store.log_artifacts(run_id, final_dir, "adapter"))
        if reports_dir:
            again("uploading the reports", lambda: store.log_artifacts(run_id, reports_dir, "reports"))
        again("ending the MLflow run", lambda: store.set_status(run_id, "FINISHED"))
    except TrackingUnavailable as err:
        raise TrackingUnavailable(
            f"could not close MLflow run {run_id} at {mlflow_run.tracking_uri}: {err}. Training is done and safe: "
            f"adapter in {final_dir}, step metrics in {progress}"
        ) from err


def fail_mlflow_run(run_dir: str, uri: str | None, work_dir: str, logger=None) -> bool:
    """Mark the run FAILED when the flow fails or is cancelled (called from the flow's state hooks).

    Logs the step metrics still pending first (the steps before a crash are the interesting ones). Never
    raises for an unreachable store: it warns and returns False (the flow's own error is what matters).
    """
    logger = logger or logging.getLogger(__name__)
    folder = RunFolder(root=run_dir)
    if not folder.mlflow_run_id.exists():
        return True
    uri, run_id = tracking_uri(uri, work_dir), folder.mlflow_run_id.read_text().strip()
    store = store_for(uri, QUICK)
    MetricsSink(store, run_id, run_dir, folder.progress, logger).finish(FAIL_DELAYS)
    try:
        retrying("marking the MLflow run failed", lambda: store.set_status(run_id, "FAILED"), FAIL_DELAYS)
        return True
    except TrackingUnavailable as err:
        logger.warning("could not mark MLflow run %s FAILED (it stays RUNNING): %s", run_id, err)
        return False


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
