"""The whole pipeline: prepare_data then train_model, as subflows, one parameter model with both sections.

account-tax pipeline --input ledger.xlsx --model /models/Qwen3-4B --config params.yaml
account-tax pipeline --input ledger.xlsx              # no --model: the bundled real model (all-MiniLM-L6-v2)
account-tax pipeline                                  # no --input: the demo (= make run)
"""

from prefect import flow
from pydantic import BaseModel

from flows.naming import run_namer
from flows.prepare import PrepareResult, prepare_data
from flows.train import train_model
from flows.ui_logs import quiet_routine_completions
from ledger import work_store
from params.pipeline import PipelineParams
from scoring.choice import ModelChoice
from tasks.baseline import train_baseline
from tasks.caching import refreshable
from tasks.calibrate import choose_deployment
from tasks.evaluate import EvalReport, publish_eval_report
from tasks.preflight import check_model, check_output_folders, provide_base_model
from tasks.promotion import Promotion, compare_with_champion
from tasks.remote_training import cancel_training_runs, train_on_pool
from tasks.tracking import check_mlflow_store
from tasks.train import TrainingOutcome
from tasks.warm_start import resolve_warm_start


class PipelineResult(BaseModel):
    prepared: PrepareResult
    training: TrainingOutcome
    llm: EvalReport
    baseline: EvalReport
    probe: EvalReport | None = None  # the linear probe the LLM's head started from
    choice: ModelChoice | None = None  # LLM or baseline: which to deploy, and why
    promotion: Promotion | None = None  # that model against the registry's champion: which holds the alias now


@flow(
    name="pipeline",
    flow_run_name=run_namer("pipeline"),
    log_prints=True,
    on_cancellation=[cancel_training_runs],
    on_crashed=[cancel_training_runs],
)
@quiet_routine_completions
@refreshable
def pipeline(params: PipelineParams) -> PipelineResult:
    """Ledger -> tokenized dataset -> LoRA adapter with metrics in MLflow."""
    check_output_folders(params.prepare.work_dir)
    check_mlflow_store(params.train.mlflow.tracking_uri, params.train.mlflow.experiment, params.prepare.work_dir)
    params = params.with_model(provide_base_model(params.prepare.model, params.prepare.work_dir))
    check_model(params.prepare.model, params.train.lora, params.train.head)
    if params.train.warm_start:
        params = params.with_warm_start(
            resolve_warm_start(params.train.warm_start, params.train.mlflow.tracking_uri, params.prepare.work_dir)
        )
    prepared = prepare_data(params.prepare)
    baseline = train_baseline(
        prepared.texts, prepared.label_map, params.baseline, params.prepare.work_dir, params.prepare,
        prepared.train_profile, params.target_accuracy,
    )  # fmt: skip
    training_params = params.training(work_store.parent(prepared.dataset.path))
    if params.train_deployment:  # on the GPU pool, as its own flow run; locally: a subflow
        training = train_on_pool.with_options(retries=params.train.retries)(training_params, params.train_deployment)
    else:
        training = train_model(training_params)
    choice = choose_deployment([training.report, baseline], params.target_accuracy)
    reports = [r for r in (baseline, training.probe_report, training.report) if r is not None]
    publish_eval_report(reports, choice, warnings=prepared.summary.rejection_warnings)  # the data's first
    promotion = None
    if choice is not None and params.promotion.enabled:
        promotion = compare_with_champion(
            choice.model_dir, training_params.dataset, params.promotion, params.train.mlflow.tracking_uri,
            params.train.mlflow.experiment, params.prepare.work_dir, params.target_accuracy,
        )  # fmt: skip
    return PipelineResult(
        prepared=prepared, training=training, llm=training.report, baseline=baseline, probe=training.probe_report,
        choice=choice, promotion=promotion,
    )  # fmt: skip
