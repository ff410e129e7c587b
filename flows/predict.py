"""Batch prediction of a new ledger with a trained run: the same data steps, then top-k account codes.

account-tax predict --model data/runs/NAME --input next_month.xlsx --out predictions.xlsx
account-tax predict --model data/baselines/NAME ...        (the baseline, when it is the better model)
account-tax predict --model models:/account-tax/3 ...      (a version in the MLflow model registry)
"""

from prefect import flow

from flows.naming import run_namer
from flows.prepare import prepare_data
from flows.ui_logs import quiet_routine_completions
from ledger import work_store
from params.predict import PredictParams
from tasks.caching import refreshable
from tasks.latest import resolve_run
from tasks.predict import check_expected_columns, classify_ledger, load_run, replay_params
from tasks.predict_output import PredictSummary, write_prediction_file
from tasks.preflight import check_output_folders
from tasks.tracking import fetch_registered_model


@flow(name="predict_ledger", flow_run_name=run_namer("predict"), log_prints=True)
@quiet_routine_completions
@refreshable
def predict_ledger(params: PredictParams) -> PredictSummary:
    """New ledger -> accepted rows with calibrated top-k codes and auto / review; rejects with reasons beside them."""
    model = resolve_run(params.model, params.work_dir)  # first: nothing is written when there is no run
    check_output_folders(params.work_dir, work_store.parent(params.out))
    if model.startswith("models:/"):
        model = fetch_registered_model(model, params.tracking_uri, params.work_dir)
    run = load_run(model)
    prepared = prepare_data(replay_params(run, params))
    predictions = classify_ledger(prepared.summary.data_path, run, params.top_k, params.batch_size, params.work_dir)
    lost = check_expected_columns(prepared.summary.data_path, run)
    summary = prepared.summary
    return write_prediction_file(
        summary.source_path, predictions, summary.rejects_parquet, summary.rows_in, params.out, run, params.language,
        summary.rejection_warnings, lost,
    )  # fmt: skip
