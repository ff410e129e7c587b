"""The baseline alone: prepare_data (no model needed) then TF-IDF + logistic regression, in seconds on a CPU.

account-tax baseline --input ledger.csv
"""

from prefect import flow

from flows.naming import run_namer
from flows.prepare import prepare_data
from params.baseline import BaselineFlowParams
from tasks.baseline import train_baseline
from tasks.caching import refreshable
from tasks.evaluate import EvalReport, publish_eval_report


@flow(name="baseline", flow_run_name=run_namer("baseline"))
@refreshable
def baseline(params: BaselineFlowParams) -> EvalReport:
    """Labelled ledger -> the same split and texts as the LLM -> TF-IDF + logistic regression, calibrated, kept in
    baselines/<name>/ for `predict --model`."""
    prepared = prepare_data(params.prepare.model_copy(update={"model": None}))
    report = train_baseline(
        prepared.texts, prepared.label_map, params.baseline, params.prepare.work_dir, params.prepare,
        prepared.train_profile, params.target_accuracy,
    )  # fmt: skip
    publish_eval_report([report], scope="baseline")
    return report
