"""The flow's MLflow run: opened before training (store checked first), ended exactly once after it."""

import os
from pathlib import Path

from prefect import task
from pydantic import BaseModel

from tasks.train import PlannedRun

RUN_ID_FILE = "mlflow_run_id"


class MlflowRun(BaseModel):
    tracking_uri: str
    experiment: str
    run_id: str


def tracking_uri(uri: str | None, work_dir: str) -> str:
    """The given URI, or a local sqlite store in the work dir."""
    return uri or f"sqlite:///{Path(work_dir).resolve() / 'mlflow.db'}"


def client_for(uri: str):
    """A client that fails fast on an unreachable server instead of retrying for minutes."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def reach_store(uri: str, experiment: str):
    """A client for the store and the experiment (or None when new); a dead store is a ConnectionError."""
    client = client_for(uri)
    try:
        return client, client.get_experiment_by_name(experiment)
    except Exception as err:  # the client raises several types for a dead server
        raise ConnectionError(f"MLflow tracking store {uri} unreachable, not starting training: {err}") from err


@task(retries=1, retry_delay_seconds=5)
def check_mlflow_store(uri: str | None, experiment: str, work_dir: str) -> str:
    """Reach the tracking store before any data or training work (a pipeline fails here, not after hours)."""
    uri = tracking_uri(uri, work_dir)
    reach_store(uri, experiment)
    return uri


@task(retries=2, retry_delay_seconds=5)
def open_mlflow_run(run: PlannedRun, uri: str | None, experiment: str, params: dict) -> MlflowRun:
    """Check the store, then start (or, when resuming, reopen) the run and log the parameters."""
    uri = tracking_uri(uri, run.work_dir)
    client, found = reach_store(uri, experiment)
    experiment_id = (
        found.experiment_id
        if found
        else client.create_experiment(
            experiment,
            artifact_location=(Path(run.work_dir).resolve() / "mlartifacts").as_uri()
            if uri.startswith("sqlite")
            else None,
        )
    )
    id_file = Path(run.run_dir) / RUN_ID_FILE
    if run.resuming and id_file.exists():
        run_id = id_file.read_text().strip()
        client.update_run(run_id, status="RUNNING")
    else:
        run_id = client.create_run(
            experiment_id, run_name=run.run_name, tags={"account_tax.run_dir": run.run_dir}
        ).info.run_id
        id_file.write_text(run_id)
        flat = {k: str(v)[:500] for k, v in _flatten(params).items()}
        for start in range(0, len(flat), 100):
            from mlflow.entities import Param

            client.log_batch(run_id, params=[Param(k, v) for k, v in list(flat.items())[start : start + 100]])
    return MlflowRun(tracking_uri=uri, experiment=experiment, run_id=run_id)


@task
def close_mlflow_run(
    mlflow_run: MlflowRun, final_dir: str, metrics: dict[str, float], reports_dir: str | None = None
) -> None:
    """Log the final metrics, the adapter folder and the reports, then end the run (the only place that ends it)."""
    from mlflow.entities import Metric

    client = client_for(mlflow_run.tracking_uri)
    if metrics:
        client.log_batch(mlflow_run.run_id, metrics=[Metric(f"final_{k}", float(v), 0, 0) for k, v in metrics.items()])
    client.log_artifacts(mlflow_run.run_id, final_dir, artifact_path="adapter")
    if reports_dir:
        client.log_artifacts(mlflow_run.run_id, reports_dir, artifact_path="reports")
    client.set_terminated(mlflow_run.run_id, status="FINISHED")


def fail_mlflow_run(run_dir: str, uri: str | None, work_dir: str) -> None:
    """Mark the run FAILED when the flow fails or is cancelled (called from the flow's state hooks)."""
    id_file = Path(run_dir) / RUN_ID_FILE
    if id_file.exists():
        client_for(tracking_uri(uri, work_dir)).set_terminated(id_file.read_text().strip(), status="FAILED")


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
