"""prefect.yaml's default parameters run from the UI as they are: each validates against its flow's parameter model,
names files that exist in the demo's outputs, and 'latest' resolves there, or refuses at once naming the parameter."""

import argparse
import importlib
import os
import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from contracts.dataset import MANIFEST_FILE
from contracts.run_folder import FINAL_FILES
from params.paths import latest_dataset, latest_run, resolve_latest
from params.predict import PredictParams
from params.train import TrainParams
from training.bundled_model import BUNDLED

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
# parameters naming something that must exist before the flow runs
PATH_KEYS = {"input", "model", "dataset", "reviewed", "new_month"}
# What a deployment whose defaults say 'latest' answers when the demo has not been run (nothing to resolve).
REFUSALS = {
    "train-model": r"no tokenized dataset under data/demo/datasets: run prepare-data .* set params\.dataset",
    "predict-ledger": r"no finished run under data/demo/runs: run the pipeline first or set params\.model",
}


def params_model(entrypoint: str) -> type[BaseModel]:
    """The annotated parameter model of the flow an entrypoint names, e.g. 'flows/train.py:train_model'."""
    path, name = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return typing.get_type_hints(getattr(module, name).fn)["params"]


def touch(path: Path, mtime_ns: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    if mtime_ns is not None:  # explicit stamps: "newest" must not hang on the file system's clock resolution
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def finished_run(folder: Path, mtime_ns: int | None = None) -> Path:
    """A run folder whose final/ holds every file prediction needs (empty), run.yaml stamped last."""
    for name in FINAL_FILES:
        touch(folder / "final" / name)
    touch(folder / "final" / "run.yaml", mtime_ns)
    return folder


def demo_outputs(root: Path) -> Path:
    """A folder laid out like `make run`'s data/demo (empty files: only their existence is checked)."""
    demo = root / "data" / "demo"
    for name in ("ledger.csv", "next_month.csv", "predictions.xlsx"):
        touch(demo / name)
    touch(demo / "datasets" / "tokenized-demo" / MANIFEST_FILE)
    finished_run(demo / "runs" / "all-MiniLM-L6-v2-demo")
    return demo


def path_values(values: dict, prefix: str = "params") -> dict[str, str]:
    """'params.prepare.input' -> value, for every parameter naming an input file or folder."""
    found = {}
    for key, value in values.items():
        if isinstance(value, dict):
            found.update(path_values(value, f"{prefix}.{key}"))
        elif key in PATH_KEYS and isinstance(value, str) and value != BUNDLED:  # the flow unpacks the bundled model
            found[f"{prefix}.{key}"] = value
    return found


def work_dirs(values: dict) -> list[str]:
    return [v for k, v in values.items() if k == "work_dir"] + [
        w for v in values.values() if isinstance(v, dict) for w in work_dirs(v)
    ]


@pytest.fixture(params=DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def deployment(request) -> dict:
    return request.param


def test_prefect_yaml_has_the_five_deployments():
    names = ["prepare-data", "train-model", "pipeline", "predict-ledger", "monthly-cycle"]
    assert [d["name"] for d in DEPLOYMENTS] == names


def test_the_monthly_cycle_is_scheduled_monthly_and_paused():
    # given the monthly deployment / then it runs once a month on a cron schedule that waits to be switched on
    monthly = next(d for d in DEPLOYMENTS if d["name"] == "monthly-cycle")
    (schedule,) = monthly["schedules"]
    assert schedule["cron"].split()[2:] == ["5", "*", "*"] and schedule["active"] is False
    assert monthly["parameters"]["params"]["champion"] == "models:/account-tax@champion"


def test_defaults_run_on_the_demo_outputs(deployment, tmp_path, monkeypatch):
    # given the demo's outputs under the folder the worker runs in (the checkout, ACCOUNT_TAX_HOME)
    demo = demo_outputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    defaults = deployment["parameters"]["params"]
    # when the flow's parameter model validates the defaults, as the worker does before the flow starts, and the
    # flow's first task resolves 'latest'
    params = resolved_latest(params_model(deployment["entrypoint"]).model_validate(defaults))
    # then every file or folder they name exists, 'latest' included, and all share the demo's work dir
    resolved = path_values(params.model_dump())
    assert resolved and {name: Path(p).exists() for name, p in resolved.items()} == dict.fromkeys(resolved, True)
    assert set(work_dirs(defaults)) == {"data/demo"}
    assert all(Path(p).resolve().is_relative_to(demo.resolve()) for p in resolved.values()), resolved


def test_defaults_without_the_demo_outputs_refuse_naming_the_parameter(deployment, tmp_path, monkeypatch):
    # given a checkout where `make run` never ran (no data/ at all)
    monkeypatch.chdir(tmp_path)
    model = params_model(deployment["entrypoint"])
    defaults = deployment["parameters"]["params"]
    # when the defaults are validated (no I/O: 'latest' stays as given) / then they validate
    params = model.model_validate(defaults)
    # and a 'latest' with nothing to resolve is refused by the flow's first task with what to set
    if deployment["name"] in REFUSALS:
        with pytest.raises(ValueError, match=REFUSALS[deployment["name"]]):
            resolved_latest(params)
    else:  # no 'latest' here: the flow's first step reports the missing demo ledger
        assert "latest" not in path_values(params.model_dump()).values()


def resolved_latest(params: BaseModel) -> BaseModel:
    """The parameters as the flow goes on with them: its first task resolves 'latest' (tasks/latest.py)."""
    from tasks.latest import resolve_dataset, resolve_run

    if isinstance(params, TrainParams):
        return params.model_copy(update={"dataset": resolve_dataset.fn(params.dataset, params.work_dir)})
    if isinstance(params, PredictParams):
        return params.model_copy(update={"model": resolve_run.fn(params.model, params.work_dir)})
    return params


@pytest.mark.usefixtures("prefect_harness")
def test_flow_with_nothing_latest_fails_before_any_work(tmp_path):
    # given train_model parameters as the UI sends them, 'latest' in a work dir where prepare_data never ran
    from flows.train import train_model

    work = tmp_path / "work"
    # when the flow runs
    state = train_model(params={"dataset": "latest", "model": "m", "work_dir": str(work)}, return_state=True)
    # then its parameters are refused with what to set, before the preflight would even create the work dir
    assert state.is_failed() and "set params.dataset" in state.message
    assert not work.exists()


def test_latest_dataset_is_the_newest_complete_one(tmp_path):
    # given two complete tokenized datasets and a newer one still being written (no dataset.json yet)
    touch(tmp_path / "datasets" / "tokenized-old" / MANIFEST_FILE, mtime_ns=1_000_000_000)
    touch(tmp_path / "datasets" / "tokenized-new" / MANIFEST_FILE, mtime_ns=2_000_000_000)
    touch(tmp_path / "datasets" / "tokenized-partial" / "data" / "x.arrow", mtime_ns=3_000_000_000)
    # when the latest is asked for / then it is the newest complete one
    assert latest_dataset(tmp_path) == tmp_path / "datasets" / "tokenized-new"


def test_latest_run_is_the_newest_finished_one(tmp_path):
    # given two finished runs, a newer one that crashed before its final folder and one still saving it
    finished_run(tmp_path / "runs" / "old", mtime_ns=1_000_000_000)
    finished_run(tmp_path / "runs" / "done", mtime_ns=2_000_000_000)
    touch(tmp_path / "runs" / "crashed" / "checkpoints" / "checkpoint-2" / "trainer_state.json", mtime_ns=3_000_000_000)
    touch(tmp_path / "runs" / "saving" / "final" / "run.yaml", mtime_ns=4_000_000_000)
    touch(tmp_path / "runs" / "stray-file", mtime_ns=5_000_000_000)
    # when the latest is asked for / then it is the newest finished run's folder (prediction takes runs/<name>)
    assert latest_run(tmp_path) == tmp_path / "runs" / "done"


@pytest.mark.parametrize(
    ("find", "message"),
    [
        (latest_dataset, r"no tokenized dataset under .*/work/datasets: .* set params\.dataset"),
        (latest_run, r"no finished run under .*/work/runs: .* set params\.model"),
    ],
)
def test_nothing_to_resolve_says_which_parameter_to_set(tmp_path, find, message):
    # given a work dir with no dataset and no run / when the latest is asked for / then the error says what to do
    with pytest.raises(ValueError, match=message):
        find(tmp_path / "work")


def test_a_folder_other_than_latest_is_kept_as_given(tmp_path):
    # given an explicit folder in a work dir that does not exist / when resolved / then it is untouched
    assert resolve_latest("data/runs/mine", tmp_path / "missing", latest_run) == "data/runs/mine"


def test_latest_is_resolved_by_a_task_not_by_validating_the_parameters(tmp_path):
    from tasks.latest import resolve_dataset, resolve_run

    # given one dataset and one finished run in a work dir
    touch(tmp_path / "datasets" / "tokenized-1" / MANIFEST_FILE)
    finished_run(tmp_path / "runs" / "r1")
    # when train and predict parameters say 'latest' / then validating them reads nothing and keeps the word
    train = TrainParams(dataset="latest", model="m", work_dir=str(tmp_path))
    predict = PredictParams(model="latest", input="x.csv", out="y.xlsx", work_dir=str(tmp_path))
    assert (train.dataset, predict.model) == ("latest", "latest")
    # and the flows' first tasks name those folders
    assert resolve_dataset.fn(train.dataset, train.work_dir) == str(tmp_path / "datasets" / "tokenized-1")
    assert resolve_run.fn(predict.model, predict.work_dir) == str(tmp_path / "runs" / "r1")


@pytest.mark.usefixtures("prefect_harness")
def test_the_failure_hook_closes_the_mlflow_run_the_flow_planned_not_a_newer_latest(tmp_path):
    from prefect import flow, task
    from prefect.client.orchestration import get_client

    from flows.train import _mark_mlflow_failed
    from monitor.mlflow_store import store_for
    from tasks.train import PlannedRun

    # given a training flow run that resolved 'latest', planned run r1, opened its MLflow run, then failed
    store = store_for(f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}")
    run_id = store.create_run(store.create_experiment("account-tax"), "r1", {})
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "mlflow_run_id").write_text(run_id)
    planned = PlannedRun(run_name="r1", run_dir=str(tmp_path / "runs" / "r1"), config_path="run.yaml",
                         config_sha="x", work_dir=str(tmp_path), resuming=False)  # fmt: skip

    @task(name="plan_run", persist_result=True)
    def plan() -> PlannedRun:
        return planned

    @flow(name="train-stand-in")
    def train_stand_in(params: dict) -> None:
        plan()
        raise RuntimeError("the launch failed")

    state = train_stand_in({"dataset": "latest", "model": "m", "work_dir": str(tmp_path)}, return_state=True)
    # and a newer dataset has appeared since ('latest' would now name another run)
    touch(tmp_path / "datasets" / "tokenized-newer" / MANIFEST_FILE)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    # when the failure hook runs
    _mark_mlflow_failed(train_stand_in, flow_run, state)
    # then the MLflow run the flow opened is FAILED, not left RUNNING
    from mlflow import MlflowClient

    assert MlflowClient(f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}").get_run(run_id).info.status == "FAILED"


def documented_commands(text: str, tool: str) -> set[str]:
    """Subcommands of `tool` written as commands: in backticks or at the start of a (comment) line, not in prose."""
    return set(re.findall(rf"(?:^[#\s]*|`){tool} ([a-z][a-z-]*)", text, flags=re.M))


def test_documented_commands_exist():
    # given the deployment docs (prefect.yaml's header and deployments/README.md)
    docs = (ROOT / "prefect.yaml").read_text(encoding="utf-8") + (ROOT / "deployments" / "README.md").read_text()
    from flows.cli import build_parser

    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    # then every `make X` is a Makefile target and every `account-tax X` a CLI subcommand (no `account-tax deploy`)
    assert "deploy" in documented_commands(docs, "make")
    assert documented_commands(docs, "make") <= targets
    assert documented_commands(docs, "account-tax") <= set(subparsers.choices)
