"""Training on another work pool: `pipeline` on the CPU pool starts the `train-model` deployment on the GPU pool
and follows it (state, progress, metrics) until it ends; a run whose host died is started again and resumes."""

import time

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.client.schemas.objects import FlowRun
from prefect.context import TaskRunContext
from prefect.deployments import run_deployment
from prefect.logging import get_run_logger
from prefect.states import Cancelling

from params.train import TrainParams
from tasks.train import TrainingOutcome

PROGRESS_KEY = "training-progress"  # the artifact tasks.train's ProgressFollower keeps up to date
PARENT_TAG = "pipeline-run:"  # + the pipeline's flow run id: how a cancelled pipeline finds its training runs


class TrainingRunCrashed(RuntimeError):
    """The training run's host went away (its process died without reporting): a retry resumes it elsewhere."""


class TrainingRunFailed(RuntimeError):
    """The training run failed or was cancelled; its own logs say why."""


def crashed(task, task_run, state) -> bool:
    """Only a run whose host died is started again (it failed on its own: its own retries were spent)."""
    return isinstance(state.result(raise_on_failure=False), TrainingRunCrashed)


def _progress(client, run_id) -> tuple[float, str] | None:
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[PROGRESS_KEY]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
        ),
        limit=1,
    )
    if not artifacts or artifacts[0].data is None:
        return None
    return float(artifacts[0].data), artifacts[0].description or ""


def follow(run: FlowRun, poll_seconds: float, logger) -> FlowRun:
    """Log the run's state and progress as they change, until it ends; the run as it ended."""
    from prefect.client.orchestration import get_client

    shown: tuple = ()
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run.id)
            progress = _progress(client, run.id)
            now = (run.state_name, round(progress[0]) if progress else None)
            if now != shown:
                where = f", {progress[0]:.0f}% ({progress[1]})" if progress else ""
                logger.info("training run %s on the %s pool: %s%s", run.name, run.work_pool_name, run.state_name, where)
                shown = now
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(poll_seconds)


@task(name="train_on_pool", cache_policy=NO_CACHE, retry_condition_fn=crashed)
def train_on_pool(params: TrainParams, deployment: str, poll_seconds: float = 5.0) -> TrainingOutcome:
    """Start the training deployment on its pool, follow it to the end and return what it trained."""
    logger = get_run_logger()
    context = TaskRunContext.get()
    if context.task_run.run_count > 1:  # the last run's host died: continue from its newest stored checkpoint
        params = params.model_copy(update={"resume_from": params.resume_from or "latest"})
    run = run_deployment(
        deployment,
        parameters={"params": params.model_dump(mode="json")},
        timeout=0,
        tags=[f"{PARENT_TAG}{context.task_run.flow_run_id}"],
    )
    logger.info("started %s as flow run %s (its logs, progress and metrics are in the UI)", deployment, run.name)
    run = follow(run, poll_seconds, logger)
    if run.state.is_crashed():
        raise TrainingRunCrashed(f"training run {run.name} crashed ({run.state.message}); starting it again")
    if not run.state.is_completed():
        raise TrainingRunFailed(
            f"training run {run.name} ended {run.state_name}: {run.state.message}; its logs are in the Prefect UI"
        )
    try:
        outcome = TrainingOutcome.model_validate(run.state.result())
    except Exception as err:  # kept on the GPU host's disk: this host cannot read it
        raise TrainingRunFailed(
            f"training run {run.name} completed, but its result cannot be read here ({type(err).__name__}: {err}); "
            "start every worker with PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK pointing at the shared result storage "
            "(make deploy STORE=..., deployments/README.md)"
        ) from err
    logger.info("training run %s trained to step %d: %s", run.name, outcome.global_step, outcome.metrics)
    return outcome


def cancel_training_runs(flow, flow_run, state) -> None:
    """The pipeline was cancelled: so are the training runs it started (on_cancellation / on_crashed hook)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.logging.loggers import flow_run_logger

    logger = flow_run_logger(flow_run, flow)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"{PARENT_TAG}{flow_run.id}"]))
        )
        for run in runs:
            if run.state is not None and not run.state.is_final():
                client.set_flow_run_state(run.id, Cancelling(message="the pipeline was cancelled"), force=True)
                logger.info("cancelling training run %s", run.name)
