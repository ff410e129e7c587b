"""Batch prediction of a new ledger with a trained run: the same data steps, then top-k account codes.

account-tax predict --model data/runs/NAME --input next_month.xlsx --out predictions.xlsx
"""

from pathlib import Path

from prefect import flow, task

from flows.naming import run_namer
from flows.prepare import prepare_data
from params.predict import PredictParams
from params.prepare import PrepareParams
from tasks.predict import PredictSummary, TrainedRun, classify_ledger, load_run, write_predictions
from tasks.preflight import check_output_folders


@task
def replay_params(run: TrainedRun, params: PredictParams) -> PrepareParams:
    """The training run's data-preparation parameters on the new ledger, labels not required."""
    saved = {k: v for k, v in run.prepare_params.items() if k not in ("model", "labels", "split", "tokenize")}
    return PrepareParams.model_validate(
        {**saved, "input": params.input, "work_dir": params.work_dir, "labels_required": False, "model": None}
    )


@flow(name="predict_ledger", flow_run_name=run_namer("predict"), log_prints=True)
def predict_ledger(params: PredictParams) -> PredictSummary:
    """New ledger -> accepted rows with top-k codes, names, probabilities; rejects with reasons beside them."""
    check_output_folders({"work_dir": params.work_dir, "out": str(Path(params.out).parent)})
    run = load_run(params.model)
    prepared = prepare_data(replay_params(run, params))
    predictions = classify_ledger(prepared.summary.data_path, run, params.top_k, params.batch_size, params.work_dir)
    return write_predictions(
        prepared.summary.source_path, predictions, prepared.summary.rejects_csv, prepared.summary.rows_in, params.out
    )


if __name__ == "__main__":
    import sys

    from flows.cli import main

    sys.exit(main(["predict", *sys.argv[1:]]))
