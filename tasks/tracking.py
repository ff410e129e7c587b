"""The flow's MLflow run: opened before training (store checked first), ended exactly once after it.

No MLflow setting goes through os.environ (the training program would inherit it): each call carries its
own timeout and retries (monitor.mlflow_store), and the training program never talks to MLflow at all; its
step metrics are logged by the flow from progress.jsonl (monitor.metrics_sink).
"""

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from contracts.calibration import Calibration
from contracts.dataset import PREPARE_PARAMS_FILE, TokenizedDataset, read_tokenized_dataset
from contracts.run_folder import RunFolder
from ledger.work_store import SYNC_RECORDS, UrlRecord, WorkDir, on_store
from monitor.metrics_sink import CLOSE_DELAYS, MetricsSink
from monitor.mlflow_store import (
    QUICK,
    STEADY,
    MlflowRun,
    RegisteredModel,
    Store,
    TrackingUnavailable,
    retrying,
    store_for,
)
from monitor.registry import download_registered, registered_mark, tracking_uri
from tasks.train import PlannedRun

__all__ = [
    "MlflowRun", "check_mlflow_store", "close_mlflow_run", "fail_mlflow_run", "fetch_registered_model",
    "open_mlflow_run", "tracking_uri",
]  # fmt: skip
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI opens it as model training

MODEL_NAME = "account-tax-model"  # the logged model of each training run (one per run)
SETUP_DELAYS = (2.0, 5.0)  # a blip while opening the run; a dead server already failed the reachability check
FAIL_DELAYS = (2.0,)  # the flow is failing already: a short try, then a warning


def reach_store(uri: str, experiment: str):
    """The experiment's id (None when new), asked with short timeouts: a dead store is one ConnectionError."""
    try:
        return store_for(uri, QUICK).experiment_id(experiment)
    except Exception as err:  # refused, timed out, or an answer that is not MLflow's
        detail = err.__cause__ if isinstance(err, TrackingUnavailable) and err.__cause__ else err  # URI named once
        raise ConnectionError(f"MLflow tracking store {uri} unreachable, not starting training: {detail}") from err


@task(retries=1, retry_delay_seconds=5)
@on_store
def check_mlflow_store(uri: str | None, experiment: str, work_dir: WorkDir) -> str:
    """Reach the tracking store before any data or training work (a pipeline fails here, not after hours)."""
    uri = tracking_uri(uri, work_dir)
    reach_store(uri, experiment)
    return uri


def reopened(run_id: str, store, again) -> bool:
    """The MLflow run is set RUNNING again; False when the store has no such run."""
    from mlflow.exceptions import MlflowException

    try:
        again("reopening the MLflow run", lambda: store.set_status(run_id, "RUNNING"))
    except MlflowException as err:
        if err.get_http_status_code() != 404:
            raise
        return False
    return True


def create_experiment(store, uri: str, experiment: str, work_dir: str, again) -> str:
    """A new experiment, its artifacts beside a local sqlite store."""
    local = (Path(work_dir).resolve() / "mlartifacts").as_uri() if uri.startswith("sqlite") else None
    return again("creating the MLflow experiment", lambda: store.create_experiment(experiment, local))


@task  # no task retries: each call below is retried on its own (SETUP_DELAYS), and a retried task would create
@on_store  # a second MLflow run where the first one's parameters failed to log
def open_mlflow_run(
    run: PlannedRun, uri: str | None, experiment: str, params: UrlRecord, dataset: str | None = None
) -> MlflowRun:
    """Check the store, then start (or, when resuming, reopen) the run; log the parameters and the dataset."""
    logger = get_run_logger()
    uri = tracking_uri(uri, run.work_dir)
    found = reach_store(uri, experiment)
    store = store_for(uri, STEADY)

    def again(what, call):
        return retrying(what, call, SETUP_DELAYS, logger)

    experiment_id = found or create_experiment(store, uri, experiment, run.work_dir, again)
    again("marking the experiment as model training", lambda: store.set_experiment_tag(experiment_id, *EXPERIMENT_KIND))
    id_file = RunFolder(root=run.run_dir).mlflow_run_id
    run_id = id_file.read_text().strip() if run.resuming and id_file.exists() else None
    if run_id and not reopened(run_id, store, again):
        logger.warning(
            "MLflow run %s, where this run began, is not in %s (another host's store): a new MLflow run continues it; "
            "point every host at one tracking server (mlflow.tracking_uri) to keep a run in one place",
            run_id, uri,
        )  # fmt: skip
        run_id = None
    if run_id is None:
        tags = {"account_tax.run_dir": run.run_dir} | warm_start_tags(run.config_path)
        run_id = again("creating the MLflow run", lambda: store.create_run(experiment_id, run.run_name, tags))
        id_file.write_text(run_id)
        flat = {k: str(v)[:500] for k, v in _flatten(params).items()}
        keys = list(flat)
        for start in range(0, len(keys), 100):  # MLflow takes at most 100 params per batch
            chunk = {k: flat[k] for k in keys[start : start + 100]}
            again("logging the parameters", lambda chunk=chunk: store.log_batch(run_id, params=chunk))
        if dataset is not None:
            manifest = read_tokenized_dataset(dataset)
            again("logging the dataset", lambda: store.log_dataset(run_id, dataset_entity(manifest), "training"))
            if counts := misposting_metrics(manifest):
                rows = [{"key": k, "value": float(v), "timestamp": 0, "step": 0} for k, v in counts.items()]
                again("logging the suspected mis-postings", lambda: store.log_batch(run_id, metrics=rows))
    return MlflowRun(tracking_uri=uri, experiment=experiment, run_id=run_id, run_dir=run.run_dir)


def log_and_register(store: Store, run_id: str, pyfunc: Path, name: str, again) -> RegisteredModel:
    """The pyfunc folder as the run's logged model, registered as a new version of `name` (linked to that model)."""
    model = again("logging the model", lambda: store.log_model(run_id, str(pyfunc), MODEL_NAME))
    version = again("registering the model", lambda: store.register_model(name, model, run_id))
    return RegisteredModel(name=name, version=version)


@task
@on_store
def close_mlflow_run(
    mlflow_run: MlflowRun,
    final_dir: str,
    reports_dir: str | None = None,
    calibration: Calibration | None = None,
) -> RegisteredModel | None:
    """Log what is left of the step metrics, then the calibration's one-off values (<split>/calibration_...), the model
    (an MLflow pyfunc model of final/, registered under the experiment's name) and the reports; then end the run
    (the only place that ends it). Retries for about a minute, then fails with a clear error."""
    from scoring.mlflow_model import save_pyfunc

    logger = get_run_logger()
    run_id, store = mlflow_run.run_id, store_for(mlflow_run.tracking_uri, STEADY)
    progress = RunFolder(root=mlflow_run.run_dir).progress
    sink = MetricsSink(store, run_id, mlflow_run.run_dir, progress, logger)
    # the sink already waited about a minute when it fails: the rest gets one try each, not another minute
    delays = CLOSE_DELAYS if sink.finish(CLOSE_DELAYS) else ()

    def again(what, call):
        return retrying(what, call, delays, logger)

    try:
        # after the step metrics, in a section of its own: the UI shows the curves first. The program's last values
        # (test_*, the last loss) are step metrics already: a final/ copy of each would only crowd the run page
        values = calibration_metrics(calibration)
        if values:
            rows = [{"key": k, "value": float(v), "timestamp": 0, "step": 0} for k, v in values.items()]
            again("logging the final metrics", lambda: store.log_batch(run_id, metrics=rows))
        pyfunc = save_pyfunc(final_dir, Path(mlflow_run.run_dir) / "mlflow_model")
        registered = log_and_register(store, run_id, pyfunc, mlflow_run.experiment, again)
        logger.info("model registered as %s", registered.uri)
        if reports_dir:
            with without_sync_records(reports_dir) as folder:
                again("uploading the reports", lambda: store.log_artifacts(run_id, folder, "reports"))
        again("ending the MLflow run", lambda: store.set_status(run_id, "FINISHED"))
    except TrackingUnavailable as err:
        raise TrackingUnavailable(
            f"could not close MLflow run {run_id} at {mlflow_run.tracking_uri}: {err}. Training is done and safe: "
            f"model in {final_dir}, step metrics in {progress}"
        ) from err
    return registered


@contextmanager
def without_sync_records(folder: str) -> Iterator[str]:
    """The folder, or a copy of it without this host's sync records where it holds some (an upload takes every file)."""
    if not any(next(Path(folder).rglob(pattern), None) for pattern in SYNC_RECORDS):
        yield folder
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield shutil.copytree(folder, Path(tmp) / "folder", ignore=shutil.ignore_patterns(*SYNC_RECORDS))


def calibration_metrics(calibration: Calibration | None) -> dict[str, float]:
    """Temperature, ECE before / after, threshold, coverage and auto accuracy, each under the split it was measured on
    (<split>/calibration_...; the temperature and the threshold are fitted on valid)."""
    if calibration is None:
        return {}
    values = {"valid/calibration_temperature": calibration.temperature}
    values["valid/calibration_threshold"] = calibration.threshold
    for split, figures in (("valid", calibration.valid), ("test", calibration.test)):
        if figures is None:
            continue
        values |= {
            f"{split}/calibration_ece_before": figures.ece_before,
            f"{split}/calibration_ece_after": figures.ece_after,
        }
        values[f"{split}/calibration_coverage"] = figures.coverage
        values[f"{split}/calibration_accuracy"] = figures.accuracy
        if figures.auto_accuracy is not None:
            values[f"{split}/calibration_auto_accuracy"] = figures.auto_accuracy
    for split, figures in (("valid", calibration.valid_as_written), ("test", calibration.test_as_written)):
        if figures is not None:  # against every code as written, suspected mis-postings included
            values[f"{split}/calibration_accuracy_as_written"] = figures.accuracy
    if opinion := calibration.second_opinion:  # the model's own suspects beside the prepare-time K-fold's
        values |= {f"mispostings/{calibration.model}_{k}": float(v) for k, v in opinion.items()}
    return values


def warm_start_tags(config_path: str) -> dict[str, str]:
    """A warm-started run names the run it started from, and that run's MLflow run when it has one."""
    from training.config import read_run_config

    final = read_run_config(config_path).warm_start
    if not final:
        return {}
    tags = {"account_tax.warm_start": final}
    if mark := registered_mark(final):  # a registered version: the link to the parent model version
        return tags | {"account_tax.parent_model": mark["uri"], "account_tax.parent_run_id": str(mark["run_id"])}
    id_file = RunFolder.of(final).mlflow_run_id
    if id_file.exists():
        tags["account_tax.parent_run_id"] = id_file.read_text().strip()
    return tags


def misposting_metrics(dataset: TokenizedDataset) -> dict[str, float]:
    """The dataset's suspected mis-postings as mispostings/... metrics (none when they were not looked for)."""
    found = dataset.mispostings
    if found is None:
        return {}
    values = {"mispostings/suspected": found.suspected, "mispostings/lines": found.lines}
    values |= {"mispostings/train_excluded": found.excluded, "mispostings/train_relabelled": found.relabelled}
    return values | {f"mispostings/{split}_suspected": len(p) for split, p in found.positions.items()}


def dataset_entity(dataset: TokenizedDataset) -> dict:
    """The tokenized dataset as MLflow's run input: name, digest (its content key), source (the ledger), rows."""
    params_file = dataset.folder / PREPARE_PARAMS_FILE
    source = json.loads(params_file.read_text(encoding="utf-8")).get("input", "") if params_file.exists() else ""
    return {
        "name": f"ledger {Path(str(source)).name}" if source else dataset.folder.name,
        "digest": dataset.folder.name.removeprefix("tokenized-")[:36],  # texts, labels, model, max_length
        "source_type": "local",
        "source": json.dumps({"uri": str(source), "tokenized": dataset.path}, ensure_ascii=False),
        "profile": json.dumps(
            {"num_rows": sum(dataset.rows.values()), **{f"{k}_rows": v for k, v in dataset.rows.items()}}
        ),
    }


@task  # MLflow's client retries its own requests (MLFLOW_HTTP_REQUEST_MAX_RETRIES): no second layer here
@on_store
def fetch_registered_model(uri: str, tracking: str | None, work_dir: WorkDir) -> str:
    """models:/NAME/VERSION or models:/NAME@ALIAS -> the trained model folder, under <work_dir>/models/registry/."""
    return str(download_registered(uri, tracking_uri(tracking, work_dir), work_dir))


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
