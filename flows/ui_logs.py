"""What a run sends to the Prefect UI's log: everything but the "Finished in state Completed()" lines.

A CLI command puts the filter on Prefect's API handlers for its duration (flows.console.cli_logging); a run a worker
starts from a deployment never passes through the CLI, so the deployable flows carry `quiet_routine_completions`.
"""

import functools
import logging


class RoutineCompletions(logging.Filter):
    """Drops a run's "Finished in state Completed()" line on its way to the Prefect UI: the run's state badge says it,
    and one line per task made a wall around the lines that say something. Failed, crashed and cached states stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        routine = isinstance(record.msg, str) and record.msg.startswith("Finished in state Completed(")
        return not (routine and record.levelno == logging.INFO)


# one instance, so a CLI command and a deployed run never put the filter on a handler twice
ROUTINE_COMPLETIONS = RoutineCompletions()


def api_handlers() -> list[logging.Handler]:
    """Prefect's handlers that send run logs to its API (logging.yml puts them on the flow and task run loggers)."""
    from prefect.logging.handlers import APILogHandler

    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    return [h for logger in loggers for h in logger.handlers if isinstance(h, APILogHandler)]


def filter_deployed_run(deployment_id: object) -> bool:
    """Puts the filter on the API handlers when the run came from a deployment; says whether it did.

    Left on until the process ends: the worker gave this run a process of its own, and the run's own state line is
    logged after its body returns. A run without a deployment (a CLI command, a test, a subflow) changes nothing.
    """
    if deployment_id is None:
        return False
    for handler in api_handlers():
        handler.addFilter(ROUTINE_COMPLETIONS)  # logging adds a filter once, however often it is asked
    return True


def quiet_routine_completions(flow_fn):
    """Wrap a deployable flow function: started by a worker, its run's UI log reads as a CLI run's does.

    A wrapper rather than an on_running hook: Prefect logs two lines around every hook it runs."""

    @functools.wraps(flow_fn)
    def run(params):
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        filter_deployed_run(context.flow_run.deployment_id if context and context.flow_run else None)
        return flow_fn(params)

    return run
