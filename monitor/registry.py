"""The MLflow model registry of one store: which version an alias points at, moving it, a version's files.

Every call names its store: MLflow's own models:/ resolution would ask the process-wide default registry instead.
Prefect-free: the flows' tasks and the tests call these alike.
"""

import json
from pathlib import Path

from ledger import work_store
from ledger.errors import ParameterError
from monitor.mlflow_store import RegisteredModel

REGISTERED_MARK = "registered_model.json"  # in a downloaded model folder: the version it is


def _client(store_uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)


def split_uri(uri: str) -> tuple[str, str | None, str | None]:
    """models:/NAME/VERSION or models:/NAME@ALIAS -> (name, version, alias)."""
    spec = uri.removeprefix("models:/").strip("/")
    if "@" in spec:
        name, alias = spec.split("@", 1)
        if name and alias:
            return name, None, alias
    else:
        name, _, version = spec.rpartition("/")
        if name and version.isdigit():
            return name, version, None
    raise ParameterError(f"{uri}: expected models:/NAME/VERSION or models:/NAME@ALIAS")


def pinned(uri: str, store_uri: str) -> RegisteredModel:
    """The version a models:/ URI means now (an alias resolved, so later steps use the same one)."""
    name, version, alias = split_uri(uri)
    if alias:
        version = str(_client(store_uri).get_model_version_by_alias(name, alias).version)
    return RegisteredModel(name=name, version=version)


def registered_source(uri: str, store_uri: str) -> str:
    """models:/NAME/VERSION or models:/NAME@ALIAS -> where that version's files are."""
    model = pinned(uri, store_uri)
    return _client(store_uri).get_model_version_download_uri(model.name, model.version)


def alias_target(store_uri: str, name: str, alias: str) -> RegisteredModel | None:
    """The version the alias points at; None when the model or the alias does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        found = _client(store_uri).get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
    return RegisteredModel(name=name, version=str(found.version))


def move_alias(store_uri: str, model: RegisteredModel, alias: str, tags: dict[str, str]) -> None:
    """Point the alias at this version and record why on the version."""
    _client(store_uri).set_registered_model_alias(model.name, alias, model.version)
    tag_version(store_uri, model, tags)


def tag_version(store_uri: str, model: RegisteredModel, tags: dict[str, str]) -> None:
    client = _client(store_uri)
    for key, value in tags.items():
        client.set_model_version_tag(model.name, model.version, key, value[:5000])


def run_version(store_uri: str, run_id: str) -> RegisteredModel | None:
    """The newest version registered from that MLflow run; None when it registered none."""
    found = _client(store_uri).search_model_versions(f"run_id = '{run_id}'")
    newest = max(found, key=lambda v: int(v.version), default=None)
    return RegisteredModel(name=newest.name, version=str(newest.version)) if newest else None


def version_run_id(store_uri: str, model: RegisteredModel) -> str | None:
    return _client(store_uri).get_model_version(model.name, model.version).run_id


def download_version(model: RegisteredModel, store_uri: str, target: Path) -> Path:
    """The version's MLflow model folder, downloaded into target; its trained model folder is marked with the
    version it came from (a warm start from it names its parent by that)."""
    from mlflow.artifacts import download_artifacts

    from scoring.mlflow_model import model_folder_of

    source = _client(store_uri).get_model_version_download_uri(model.name, model.version)
    target.mkdir(parents=True, exist_ok=True)
    local = Path(download_artifacts(artifact_uri=source, dst_path=str(target), tracking_uri=store_uri))
    folder = model_folder_of(local)
    if folder.is_dir():
        mark = {"uri": model.uri, "run_id": version_run_id(store_uri, model), "store": store_uri}
        (folder / REGISTERED_MARK).write_text(json.dumps(mark), encoding="utf-8")
    return local


def registered_mark(model_folder: str | Path) -> dict | None:
    """{uri, run_id, store} of a model folder downloaded from the registry; None for any other folder."""
    path = Path(model_folder) / REGISTERED_MARK
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def tracking_uri(uri: str | None, work_dir: str) -> str:
    """The given URI, or a local sqlite store in the work dir (this host's copy of it, for a store URL)."""
    local = work_store.local_path(work_dir) if work_store.is_store_url(work_dir) else Path(work_dir)
    return uri or f"sqlite:///{local.resolve() / 'mlflow.db'}"


def download_registered(uri: str, store_uri: str, work_dir: str) -> Path:
    """The trained model folder of a registered version (an alias pinned to its version first)."""
    from mlflow.exceptions import MlflowException

    from scoring.mlflow_model import check_logged_from_code, model_folder_of

    try:
        model = pinned(uri, store_uri)
        target = Path(work_dir).resolve() / "models" / "registry" / f"{model.name}-{model.version}"
        local = download_version(model, store_uri, target)
    except MlflowException as err:
        raise ParameterError(f"{uri}: not found in the MLflow registry at {store_uri} ({err.message})") from err
    check_logged_from_code(local)
    folder = model_folder_of(local)
    if not folder.is_dir():
        raise ParameterError(f"{uri}: the registered model has no artifacts/final/ folder: not an account-tax model")
    return folder
