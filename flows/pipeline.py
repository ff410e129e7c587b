"""The whole pipeline: prepare_data then train_model, as subflows, one parameter model with both sections.

account-tax pipeline --input ledger.xlsx --model /models/Qwen3-4B --config params.yaml
account-tax pipeline                                  # no --input: the demo, synthetic ledger + tiny model (= make run)
"""

from pathlib import Path

from prefect import flow
from pydantic import BaseModel

from flows.naming import run_namer
from flows.prepare import PrepareResult, prepare_data
from flows.train import train_model
from ledger.caching import refreshable
from params.pipeline import PipelineParams
from tasks.baseline import train_baseline
from tasks.evaluate import EvalReport, publish_eval_report
from tasks.preflight import check_output_folders
from tasks.tracking import check_mlflow_store
from tasks.train import TrainingOutcome


class PipelineResult(BaseModel):
    prepared: PrepareResult
    training: TrainingOutcome
    llm: EvalReport
    baseline: EvalReport


@flow(name="pipeline", flow_run_name=run_namer("pipeline"), log_prints=True)
@refreshable
def pipeline(params: PipelineParams) -> PipelineResult:
    """Ledger -> tokenized dataset -> LoRA adapter with metrics in MLflow."""
    check_output_folders({"work_dir": params.prepare.work_dir})
    check_mlflow_store(params.train.mlflow.tracking_uri, params.train.mlflow.experiment, params.prepare.work_dir)
    prepared = prepare_data(params.prepare)
    baseline = train_baseline(prepared.texts, prepared.label_map, params.baseline, params.prepare.work_dir)
    training = train_model(params.training(str(Path(prepared.dataset.path).parent)))
    publish_eval_report([baseline, training.report])
    return PipelineResult(prepared=prepared, training=training, llm=training.report, baseline=baseline)
