"""The Prefect UI's run log: a run a worker starts from a deployment leaves out the routine completion lines."""

import logging

import pytest
from prefect import flow, get_run_logger, task

from flows.ui_logs import ROUTINE_COMPLETIONS, api_handlers, filter_deployed_run, quiet_routine_completions


@pytest.fixture
def clean_handlers():
    """The filter stays on for the rest of a worker's process: a test takes it off again."""
    yield
    for handler in api_handlers():
        handler.removeFilter(ROUTINE_COMPLETIONS)


@task
def say_something() -> int:
    get_run_logger().info("model to deploy: baseline")
    return 3


@flow(name="ui-logs-probe")
@quiet_routine_completions
def probe_flow(params: int) -> int:
    return say_something() + params


def test_a_run_without_a_deployment_leaves_the_ui_handlers_alone(clean_handlers):
    # given Prefect's handlers that send run logs to the UI (logging.yml attaches them)
    assert api_handlers()
    # when a run without a deployment (a CLI command, a test, a subflow) asks for the filter
    # then nothing changes: a CLI command filters through cli_logging, a test keeps every line
    assert not filter_deployed_run(None)
    assert not any(ROUTINE_COMPLETIONS in h.filters for h in api_handlers())


def test_a_deployed_run_sends_the_ui_no_completed_state_lines(prefect_harness, clean_handlers):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.flow_engine import run_flow

    # given a deployment of a flow that carries the wrapper, and a run created from it as a worker would get it
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(probe_flow)
        deployment_id = client.create_deployment(flow_id, "probe", entrypoint="tests/test_ui_logs.py:probe_flow")
        flow_run = client.create_flow_run_from_deployment(deployment_id, parameters={"params": 2})
        # when the run executes as the worker's process runs it
        assert run_flow(probe_flow, flow_run=flow_run, parameters={"params": 2}) == 5
        for handler in api_handlers():
            handler.flush()
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    ours = [log.message for log in logs]  # the task runs' lines too: they carry their flow run's id
    # then the UI has the task's message and no "Finished in state Completed()" line, of the task or of the flow
    assert "model to deploy: baseline" in ours, ours
    assert not [m for m in ours if m.startswith("Finished in state Completed(")], ours
    # and the filter also keeps what says something: a failure's state line
    failed = logging.LogRecord(
        "prefect.flow_runs", logging.ERROR, __file__, 1, "Finished in state Failed('x')", None, None
    )
    assert all(h.filter(failed) for h in api_handlers())
