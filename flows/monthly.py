"""The monthly cycle in one flow run: last month's reviewed predictions teach a challenger, warm-started from the
champion; the better of the two holds the alias; the champion codes the new month.

account-tax monthly --reviewed predictions-2025-01.xlsx --new-month ledger-2025-02.xlsx
(the monthly-cycle deployment in prefect.yaml runs it on a schedule, paused until you switch it on)
"""

from prefect import flow
from pydantic import BaseModel

from flows.pipeline import PipelineResult, pipeline
from flows.predict import predict_ledger
from flows.ui_logs import quiet_routine_completions
from params.monthly import MonthlyParams
from tasks.caching import refreshable
from tasks.predict_output import PredictSummary
from tasks.preflight import check_output_folders
from tasks.warm_start import find_parent


class MonthlyResult(BaseModel):
    parent: str | None  # the champion version the challenger started from; None: from scratch
    pipeline: PipelineResult
    prediction: PredictSummary


@flow(name="monthly_cycle", flow_run_name="monthly-{params.new_month}", log_prints=True)
@quiet_routine_completions
@refreshable
def monthly_cycle(params: MonthlyParams) -> MonthlyResult:
    """Reviewed file -> warm-started challenger -> champion or not -> the champion predicts the new month."""
    check_output_folders(params.work_dir)
    parent = find_parent(params.champion, params.train.mlflow.tracking_uri, params.work_dir)
    trained = pipeline(params.pipeline(parent))
    return MonthlyResult(parent=parent, pipeline=trained, prediction=predict_ledger(params.prediction()))
