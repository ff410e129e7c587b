"""prepare_data end to end on a real (temporary) Prefect API: caching, partial re-runs, rows accounting."""

import json
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.prepare import prepare_data
from params.prepare import PrepareParams
from tests.conftest import HEADER, ROWS, write_csv

ALL_TASKS = {
    "check_output_folders",
    "fingerprint_input",
    "load_ledger",
    "standardize_columns",
    "apply_corrections",
    "extract_metadata",
    "clean_ledger",
    "filter_ledger",
    "normalize_values",
    "validate_ledger",
    "build_features",
    "select_features",
    "reconcile_rows",
    "assign_label_slots",
    "split_dataset",
    "save_train_profile",
    "serialize_text",
    "find_mispostings",
    "leave_out_fields",
    "set_aside_mispostings",
}
DATASET_TASKS = {
    "assign_label_slots", "split_dataset", "save_train_profile", "serialize_text", "find_mispostings",
    "leave_out_fields", "set_aside_mispostings",
}  # fmt: skip
PREFLIGHT = {"check_output_folders"}  # never cached: a folder can become unwritable between runs
pytestmark = pytest.mark.usefixtures("prefect_harness")


def task_states(state, expected: int = len(ALL_TASKS), timeout: float = 30.0) -> dict[str, str]:
    """Task name -> final state name of every task run of a finished flow run.

    The API records task states from events asynchronously, so wait until all are in.
    """
    flow_run_id = state.state_details.flow_run_id
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            done = {r.name.rsplit("-", 1)[0]: r.state.name for r in runs if r.state and r.state.is_final()}
            if len(done) >= expected or time.monotonic() > deadline:
                return done
            time.sleep(0.2)


def run(params: PrepareParams):
    state = prepare_data(params, return_state=True)
    assert state.is_completed(), state
    return state.result().summary, task_states(state)


@pytest.fixture
def unique_ledger(tmp_path: Path) -> Path:
    """A ledger no earlier test has cached (a unique vendor makes its content new)."""
    marker = uuid.uuid4().hex[:8]
    return write_csv(
        tmp_path / "in" / "ledger.csv",
        [HEADER, *ROWS, f"2024-04-01,상점{marker},,복사용지,9900,9000,900,카드,830,소모품비"],
    )


def test_second_run_is_all_cached(unique_ledger, work_dir):
    # given a ledger run once
    params = PrepareParams(input=str(unique_ledger), work_dir=work_dir)
    first, states = run(params)
    assert set(states) == ALL_TASKS and set(states.values()) == {"Completed"}
    # when the same input and parameters run again
    second, states = run(params)
    # then every stage is Cached (only the preflight check runs again) and the result is the same
    assert {name for name, state in states.items() if state != "Cached"} == PREFLIGHT, states
    assert second == first


def test_parameter_change_reruns_only_from_its_stage(unique_ledger, work_dir):
    # given a cached run
    base = PrepareParams(input=str(unique_ledger), work_dir=work_dir)
    run(base)
    # when only a feature parameter changes
    changed = base.model_copy(update={"features": base.features.model_copy(update={"round_amount_unit": 500})})
    _, states = run(changed)
    # then upstream stages come from the cache and the feature stages run again
    rerun = {name for name, state in states.items() if state != "Cached"}
    # (the texts do not show that feature, so the same suspects come back and setting them aside is Cached)
    same_texts = DATASET_TASKS - {"set_aside_mispostings"}
    assert rerun == {"build_features", "select_features", "reconcile_rows"} | same_texts | PREFLIGHT, states
    # and when a validation rule changes, everything from validation on runs again
    rules = base.preprocess.validate_.model_copy(update={"date_min": "2024-02-01"})
    preprocess = base.preprocess.model_copy(update={"validate_": rules})
    summary, states = run(base.model_copy(update={"preprocess": preprocess}))
    rerun = {name for name, state in states.items() if state != "Cached"}
    validated_on = {"validate_ledger", "build_features", "select_features", "reconcile_rows"}
    assert rerun == validated_on | DATASET_TASKS | PREFLIGHT, states
    assert summary.rejected_by_rule == {"date_out_of_range": 2}


def test_changed_input_file_reruns_everything(unique_ledger, work_dir):
    # given a cached run
    params = PrepareParams(input=str(unique_ledger), work_dir=work_dir)
    run(params)
    # when the file's content changes
    with unique_ledger.open("a", encoding="utf-8") as fh:
        fh.write("2024-04-02,다이소,,청소용품,3000,,,영수증,830,소모품비\n")
    summary, states = run(params)
    # then no task comes from the cache
    assert "Cached" not in states.values(), states
    assert summary.rows_in == len(ROWS) + 2


@pytest.mark.slow  # a 3,000-line dirty ledger through the whole flow (~25 s)
def test_dirty_ledger_rows_accounting(tmp_path, work_dir):
    # given a dirty synthetic ledger (duplicates, blanks, bad amounts and dates, VAT mismatches)
    from synth.ledger import make_ledger, write_ledger

    path = write_ledger(make_ledger(3000, 60, seed=11, dirty=0.15), str(tmp_path / "dirty.csv"), encoding="cp949")
    # when it is prepared
    summary, _ = run(PrepareParams(input=path, work_dir=work_dir))
    # then every row is either accepted or rejected with a reason, and the files say so too
    assert summary.rows_in == 3000
    assert summary.rows_accepted + summary.rows_rejected == summary.rows_in
    assert summary.rows_rejected > 0 and {"duplicate", "amount_unparsable"} <= set(summary.rejected_by_rule)
    rejects = pd.read_csv(summary.rejects_csv, encoding="utf-8-sig")
    assert len(rejects) == summary.rows_rejected and rejects["rule"].notna().all()
    accepted = pd.read_parquet(summary.data_path)
    assert not set(accepted["row_id"]) & set(rejects["row_id"])
    assert json.loads(Path(summary.metadata_path).read_text())["rows"] == 3000


def test_artifacts_published(unique_ledger, work_dir):
    # given a finished run
    run(PrepareParams(input=str(unique_ledger), work_dir=work_dir))
    # then the UI has the data-quality and rows-accounting artifacts
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts()}
    assert {"data-quality-prepare-data", "rows-accounting-prepare-data"} <= keys  # keyed per flow


@pytest.mark.slow  # two prepare runs of a ledger with unique lines (~35 s)
def test_a_later_stage_setting_does_not_read_the_files_again(unique_ledger, work_dir):
    # given a cached run
    base = PrepareParams(input=str(unique_ledger), work_dir=work_dir)
    run(base)
    # when only what standardize reads changes: the labels are not required, a personal-data column is kept
    privacy = base.privacy.model_copy(update={"keep_columns": ["거래처"]})
    _, states = run(base.model_copy(update={"labels_required": False, "privacy": privacy}))
    # then the files are not read and masked again: loading is Cached, standardizing runs
    assert states["load_ledger"] == "Cached" and states["standardize_columns"] != "Cached", states
