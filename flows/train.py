"""The training flow: plan the run, open MLflow, launch DeepSpeed (retries resume), log and close.

account-tax train --dataset data/datasets/tokenized-... --model models/tiny
"""

from pathlib import Path

from prefect import flow
from prefect.logging.loggers import flow_run_logger

from flows.naming import run_namer
from flows.ui_logs import quiet_routine_completions
from ledger.work_store import is_store_url, local_path
from params.train import TrainParams
from tasks.caching import refreshable
from tasks.calibrate import calibrate_training
from tasks.evaluate import evaluate_probe, evaluate_training, publish_eval_report
from tasks.latest import resolve_dataset
from tasks.preflight import check_model, check_output_folders, provide_base_model
from tasks.tracking import close_mlflow_run, fail_mlflow_run, open_mlflow_run
from tasks.train import TrainingOutcome, plan_run, planned_run_of, run_training


def _mark_mlflow_failed(flow, flow_run, state) -> None:
    """Flow failed or was cancelled: the MLflow run it opened ends as FAILED, not left RUNNING."""
    # not get_run_logger(): a runner calls on_cancellation hooks outside the flow's run context
    logger = flow_run_logger(flow_run, flow)
    try:
        planned = planned_run_of(flow_run.id)  # the folder this run resolved and planned, not a second lookup
        if planned is None:  # it failed before planning: no MLflow run was opened
            return
        params = TrainParams.model_validate(flow_run.parameters["params"])  # no I/O: 'latest' stays a word here
        work_dir = str(local_path(planned.work_dir)) if is_store_url(planned.work_dir) else planned.work_dir
        run_dir = str(Path(work_dir).resolve() / "runs" / planned.run_name)  # this host's copy holds the run id
        fail_mlflow_run(run_dir, params.mlflow.tracking_uri, work_dir, logger)
    except Exception as err:  # a hook must not hide the flow's own error
        logger.warning("could not mark the MLflow run failed: %s", err)


@flow(
    name="train_model",
    flow_run_name=run_namer("train"),
    on_failure=[_mark_mlflow_failed],
    on_cancellation=[_mark_mlflow_failed],
    persist_result=True,  # a pipeline on another pool reads the outcome from the result storage
)
@quiet_routine_completions
@refreshable
def train_model(params: TrainParams) -> TrainingOutcome:
    """Tokenized dataset + base model -> LoRA adapter, checkpoints, metrics in MLflow."""
    params = params.model_copy(update={"dataset": resolve_dataset(params.dataset, params.work_dir)})
    check_output_folders(params.work_dir)
    params = params.model_copy(update={"model": provide_base_model(params.model, params.work_dir)})
    check_model(params.model, params.lora, params.head)
    run = plan_run(params)
    tracking = open_mlflow_run(
        run, params.mlflow.tracking_uri, params.mlflow.experiment, params.model_dump(mode="json"), params.dataset
    )
    # the flow logs the program's step metrics from its progress file into this run (the program has no client)
    outcome = run_training.with_options(retries=params.retries)(
        run, params.launcher, params.num_gpus, params.hostfile, tracking
    )
    probe = evaluate_probe(outcome.run_dir)
    calibration = calibrate_training(outcome.final_dir, params.target_accuracy)
    report = evaluate_training(outcome.final_dir, probe, calibration)
    registered = close_mlflow_run(tracking, outcome.final_dir, report.report_dir, calibration)
    publish_eval_report([r for r in (probe, report) if r is not None], scope="training")
    return outcome.model_copy(update={"report": report, "probe_report": probe, "registered": registered})
