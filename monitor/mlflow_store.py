"""MLflow tracking calls with explicit timeouts and retries, and no process-wide state (prefect-free).

MLflow's own REST client takes its retry policy from MLFLOW_HTTP_REQUEST_* environment variables only (7
retries with exponential back-off and a 120 s timeout by default: minutes per call on a dead server).
Setting those variables would leak into every child process, so http(s) stores are spoken to here through
`http_request` with the settings passed per call; sqlite and file stores use the plain MlflowClient.

Every network-level failure (refused, timeout, 5xx, 429, a locked database) is raised as TrackingUnavailable
(a ConnectionError), so callers can tell "try again later" from a request the store rejects for good.
"""

import json
import logging
import math
import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from pydantic import BaseModel

from ledger.work_store import NativeUrl

T = TypeVar("T")
API = "/api/2.0/mlflow"


class MlflowRun(BaseModel):
    tracking_uri: NativeUrl
    experiment: str
    run_id: str
    run_dir: str  # holds the run id, progress.jsonl (the step metrics) and the logged-offset record


class RegisteredModel(BaseModel):
    """A version of a model in the MLflow registry."""

    name: str
    version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class LoggedModel(BaseModel):
    """A model logged by a run (MLflow 3's LoggedModel): its id and where its files are."""

    model_id: str
    artifact_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.model_id}"


class TrackingUnavailable(ConnectionError):
    """The store did not answer (or answered with a transient error): worth trying again later."""


@dataclass(frozen=True)
class Patience:
    """How long one call may take: socket timeout, HTTP-level retries and their back-off factor."""

    timeout: float = 10.0
    retries: int = 1
    backoff: float = 0.5


# No HTTP-level retries: one call is one request. The one retry layer is the caller's: `retrying` (explicit delays,
# a warning per attempt) for run set-up and close, the sink's next poll for step metrics, a task's retries for the
# reachability check. Stacked layers made up to 27 requests of one call (task x set-up delays x HTTP).
QUICK = Patience(timeout=5.0, retries=0, backoff=0.0)  # reachability checks, marking a failed run
METRICS = Patience(timeout=5.0, retries=0, backoff=0.0)  # step metrics while training
STEADY = Patience(timeout=30.0, retries=0, backoff=0.0)  # run set-up and close, artifacts: a longer timeout


def _transient(err: Exception) -> bool:
    """A 4xx answer (other than 429) is a rejection that no retry fixes; anything else may pass later."""
    from mlflow.exceptions import MlflowException

    if isinstance(err, MlflowException):
        status = err.get_http_status_code()
        return not (400 <= status < 500 and status != 429)
    return True


def _raise(uri: str, err: Exception) -> NoReturn:
    if _transient(err):
        raise TrackingUnavailable(f"MLflow tracking store {uri} unavailable: {err}") from err
    raise err


class RestStore:
    """The few tracking calls the flow makes, over the REST API of an `mlflow server`."""

    def __init__(self, uri: str, patience: Patience = QUICK):
        from mlflow.utils.credentials import get_default_host_creds

        self.uri, self.patience = uri.rstrip("/"), patience
        self.creds = get_default_host_creds(self.uri)

    def _call(self, method: str, endpoint: str, creds=None, **kwargs) -> dict:
        from mlflow.utils.rest_utils import http_request, verify_rest_response

        p = self.patience
        try:
            response = http_request(
                creds or self.creds,
                endpoint,
                method,
                max_retries=kwargs.pop("max_retries", p.retries),
                backoff_factor=p.backoff,
                backoff_jitter=0.0,
                timeout=p.timeout,
                **kwargs,
            )
            text = verify_rest_response(response, endpoint).text
        except Exception as err:  # http_request wraps refusals and timeouts in MlflowException
            _raise(self.uri, err)
        return json.loads(text) if text.strip() else {}  # an artifact upload answers with an empty body

    def experiment_id(self, name: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            found = self._call("GET", f"{API}/experiments/get-by-name", params={"experiment_name": name})
        except MlflowException as err:
            if err.get_http_status_code() == 404:  # RESOURCE_DOES_NOT_EXIST: a new experiment
                return None
            raise
        return found["experiment"]["experiment_id"]

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        body = {"name": name, **({"artifact_location": artifact_location} if artifact_location else {})}
        return self._call("POST", f"{API}/experiments/create", json=body)["experiment_id"]

    def create_run(self, experiment_id: str, run_name: str, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        return self._call("POST", f"{API}/runs/create", json=body)["run"]["info"]["run_id"]

    def set_status(self, run_id: str, status: str) -> None:
        body = {"run_id": run_id, "status": status}
        if status != "RUNNING":
            body["end_time"] = int(time.time() * 1000)
        self._call("POST", f"{API}/runs/update", json=body)

    def log_batch(self, run_id: str, metrics: list[dict] = (), params: dict[str, str] | None = None) -> None:
        """metrics: dicts with key, value, timestamp (ms) and step, as the REST API takes them."""
        body = {"run_id": run_id, "metrics": [{**m, "value": _json_float(m["value"])} for m in metrics]}
        body["params"] = [{"key": k, "value": v} for k, v in (params or {}).items()]
        self._call("POST", f"{API}/runs/log-batch", json=body)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self._call("POST", f"{API}/experiments/set-experiment-tag", json=body)

    def log_dataset(self, run_id: str, dataset: dict, context: str) -> None:
        """dataset: name, digest, source_type, source, profile (as mlflow.entities.Dataset has them)."""
        inputs = [{"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": context}]}]
        self._call("POST", f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": inputs})

    def artifact_uri(self, run_id: str) -> str:
        return self._call("GET", f"{API}/runs/get", params={"run_id": run_id})["run"]["info"]["artifact_uri"]

    def experiment_of(self, run_id: str) -> str:
        return self._call("GET", f"{API}/runs/get", params={"run_id": run_id})["run"]["info"]["experiment_id"]

    def register_model(self, name: str, model: LoggedModel, run_id: str) -> str:
        """A new version of the registered model `name` (created when missing) from that logged model; its number."""
        from mlflow.exceptions import MlflowException

        try:
            self._call("POST", f"{API}/registered-models/create", json={"name": name})
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        body = {"name": name, "source": model.uri, "run_id": run_id, "model_id": model.model_id}
        return str(self._call("POST", f"{API}/model-versions/create", json=body)["model_version"]["version"])

    def log_model(self, run_id: str, local_dir: str, name: str) -> LoggedModel:
        """The folder as the run's logged model (MLflow 3: the run page lists it, a version links to it)."""
        body = {"experiment_id": self.experiment_of(run_id), "name": name, "source_run_id": run_id}
        info = self._call("POST", f"{API}/logged-models", json=body)["model"]["info"]
        model = LoggedModel(model_id=info["model_id"], artifact_uri=info["artifact_uri"])
        self._upload(model.artifact_uri, local_dir, None)
        ready = {"model_id": model.model_id, "status": "LOGGED_MODEL_READY"}
        self._call("PATCH", f"{API}/logged-models/{model.model_id}", json=ready)
        outputs = {"run_id": run_id, "models": [{"model_id": model.model_id, "step": 0}]}
        self._call("POST", f"{API}/runs/outputs", json=outputs)
        return model

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str) -> None:
        self._upload(self.artifact_uri(run_id), local_dir, artifact_path)

    def _upload(self, artifact_uri: str, local_dir: str, artifact_path: str | None) -> None:
        """Upload a folder; through the server's artifact proxy when it has one (mlflow-artifacts:)."""
        if not artifact_uri.startswith("mlflow-artifacts:"):  # s3://, a shared path...: MLflow's own repository
            _log_with_repository(self.uri, artifact_uri, local_dir, artifact_path)
            return
        from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
        from mlflow.utils.credentials import get_default_host_creds

        creds = get_default_host_creds(MlflowArtifactsRepository.resolve_uri(artifact_uri, self.uri))
        for root, _, files in os.walk(local_dir):
            rel = os.path.relpath(root, local_dir)
            folder = posixpath.join(artifact_path or "", *([] if rel == "." else rel.split(os.sep)))
            for name in files:
                with open(os.path.join(root, name), "rb") as fh:
                    # no HTTP-level retry: a half-sent file body cannot be replayed; callers retry the folder
                    self._call("PUT", "/" + posixpath.join(folder, name), creds=creds, data=fh, max_retries=0)


class LocalStore:
    """The same calls on a sqlite or file store, through the plain MlflowClient (no network involved)."""

    def __init__(self, uri: str):
        from mlflow import MlflowClient

        self.uri, self.client = uri, MlflowClient(tracking_uri=uri, registry_uri=uri)

    def _do(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as err:  # a locked sqlite database is an OperationalError wrapped in MlflowException
            _raise(self.uri, err)

    def experiment_id(self, name: str) -> str | None:
        found = self._do(lambda: self.client.get_experiment_by_name(name))
        return found.experiment_id if found else None

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        return self._do(lambda: self.client.create_experiment(name, artifact_location=artifact_location))

    def create_run(self, experiment_id: str, run_name: str, tags: dict[str, str]) -> str:
        return self._do(lambda: self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id)

    def set_status(self, run_id: str, status: str) -> None:
        if status == "RUNNING":
            self._do(lambda: self.client.update_run(run_id, status=status))
        else:
            self._do(lambda: self.client.set_terminated(run_id, status=status))

    def log_batch(self, run_id: str, metrics: list[dict] = (), params: dict[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param

        entities = [Metric(m["key"], m["value"], m["timestamp"], m["step"]) for m in metrics]
        params_ = [Param(k, v) for k, v in (params or {}).items()]
        self._do(lambda: self.client.log_batch(run_id, metrics=entities, params=params_))

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str) -> None:
        self._do(lambda: self.client.log_artifacts(run_id, local_dir, artifact_path=artifact_path))

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._do(lambda: self.client.set_experiment_tag(experiment_id, key, value))

    def log_dataset(self, run_id: str, dataset: dict, context: str) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        entity = DatasetInput(Dataset(**dataset), tags=[InputTag("mlflow.data.context", context)])
        self._do(lambda: self.client.log_inputs(run_id, datasets=[entity]))

    def artifact_uri(self, run_id: str) -> str:
        return self._do(lambda: self.client.get_run(run_id).info.artifact_uri)

    def experiment_of(self, run_id: str) -> str:
        return self._do(lambda: self.client.get_run(run_id).info.experiment_id)

    def register_model(self, name: str, model: LoggedModel, run_id: str) -> str:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri

        try:
            self._do(lambda: self.client.create_registered_model(name))
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        # the sqlite registry looks a models:/m-... source up through the process-wide tracking URI, not its own
        with _use_tracking_uri(self.uri):
            version = self._do(lambda: self.client.create_model_version(name, model.uri, run_id=run_id))
        return str(version.version)

    def log_model(self, run_id: str, local_dir: str, name: str) -> LoggedModel:
        from mlflow.entities import LoggedModelOutput

        experiment_id = self.experiment_of(run_id)
        found = self._do(lambda: self.client.create_logged_model(experiment_id, name=name, source_run_id=run_id))
        self._do(lambda: self.client.log_model_artifacts(found.model_id, local_dir))
        self._do(lambda: self.client.finalize_logged_model(found.model_id, "READY"))
        self._do(lambda: self.client.log_outputs(run_id, [LoggedModelOutput(found.model_id, 0)]))
        return LoggedModel(model_id=found.model_id, artifact_uri=found.artifact_location)


def _log_with_repository(uri: str, artifact_uri: str, local_dir: str, artifact_path: str) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        get_artifact_repository(artifact_uri).log_artifacts(local_dir, artifact_path)
    except Exception as err:
        _raise(uri, err)


def _json_float(value: float) -> float | str:
    """NaN and infinities as the strings of protobuf's JSON mapping (a bare NaN is not JSON)."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


Store = RestStore | LocalStore


def store_for(uri: str, patience: Patience = QUICK) -> Store:
    """A store with explicit patience for http(s) servers; the local client for sqlite and file stores."""
    return RestStore(uri, patience) if uri.startswith(("http://", "https://")) else LocalStore(uri)


def run_page(uri: str, run_id: str, ui: str = "http://127.0.0.1:5000") -> str | None:
    """The run's charts in the MLflow UI, in its model-training mode (MLflow 3 opens in GenAI mode unless told);
    `ui`: where `mlflow ui` serves a local store. None when the store does not answer at once."""
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else ui
    try:
        experiment = store_for(uri, QUICK).experiment_of(run_id)
    except Exception:  # a link is a convenience: the summary goes on without it
        return None
    return f"{base}/#/experiments/{experiment}/runs/{run_id}/model-metrics?workflowType=machine_learning"


def retrying(what: str, call: Callable[[], T], delays: tuple[float, ...], logger: logging.Logger | None = None) -> T:
    """call(), again after each delay while the store is unavailable; then the last TrackingUnavailable."""
    for delay in delays:
        try:
            return call()
        except TrackingUnavailable as err:
            if logger is not None:
                logger.warning("%s failed (%s); trying again in %.0f s", what, err, delay)
            time.sleep(delay)
    return call()
