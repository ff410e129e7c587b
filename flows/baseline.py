"""The baseline alone: prepare_data (no model needed) then TF-IDF + logistic regression, in seconds on a CPU.

account-tax baseline --input ledger.csv
"""

from prefect import flow
from pydantic import BaseModel, ConfigDict

from flows.naming import run_namer
from flows.params import PrepareParams
from flows.prepare import prepare_data
from tasks.baseline import BaselineParams, train_baseline
from tasks.evaluation import EvalReport, publish_eval_report


class BaselineFlowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prepare: PrepareParams
    baseline: BaselineParams = BaselineParams()


@flow(name="baseline", flow_run_name=run_namer("baseline"))
def baseline(params: BaselineFlowParams) -> EvalReport:
    """Labelled ledger -> the same split and texts as the LLM -> TF-IDF + logistic regression report."""
    prepared = prepare_data(params.prepare.model_copy(update={"model": None}))
    report = train_baseline(prepared.texts, prepared.label_map, params.baseline, params.prepare.work_dir)
    publish_eval_report([report])
    return report
