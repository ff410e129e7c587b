"""`make run`: the demo on embedded defaults: a synthetic dirty ledger and a tiny model through the pipeline.

python -m flows.demo [--rows 20000] [--work-dir data/demo]      (same as: python -m flows.pipeline)
"""

import argparse
from pathlib import Path

from prefect import flow, task
from pydantic import BaseModel

from flows.pipeline import PipelineResult, pipeline
from flows.predict import predict_ledger
from params.pipeline import PipelineParams
from params.predict import PredictParams
from params.prepare import PrepareParams
from params.train import TrainOptions
from tasks.predict import PredictSummary

# Small enough for a laptop CPU in a few minutes through the real DeepSpeed launcher.
DEMO_TRAINING = {
    "resume_from": "latest",  # a rerun continues (or, when finished, just re-saves and re-evaluates)
    "max_eval_samples": 300,
    "trainer": {
        "max_steps": 60,
        "per_device_train_batch_size": 16,
        "learning_rate": 2e-3,
        "logging_steps": 10,
        "eval_steps": 30,
        "save_steps": 30,
    },
}


class DemoResult(BaseModel):
    pipeline: PipelineResult
    prediction: PredictSummary


@task
def synthesize_ledger(out: str, rows: int, accounts: int, seed: int, dirty: float, labels: bool = True) -> str:
    """Write a synthetic Korean ledger (CP949 CSV, as older bookkeeping software exports it)."""
    from synth.ledger import make_ledger, write_ledger

    ledger = make_ledger(rows, accounts, seed, dirty=dirty)
    return write_ledger(ledger if labels else ledger.drop(columns=["계정코드", "계정과목"]), out, "csv", "cp949")


@task
def build_tiny_model(out: str) -> str:
    """A tiny random decoder and a tokenizer trained on synthetic ledger text (no download)."""
    from synth.tiny_model import make_tiny_model

    return str(out if (Path(out) / "config.json").exists() else make_tiny_model(out))


@flow(name="demo", log_prints=True)
def demo(work_dir: str = "data/demo", rows: int = 20_000, accounts: int = 80, seed: int = 7) -> DemoResult:
    """Synthetic ledger + tiny model -> pipeline (prepare, train, evaluate) -> predict a second, unlabelled ledger."""
    ledger = synthesize_ledger(str(Path(work_dir) / "ledger.csv"), rows, accounts, seed, dirty=0.03)
    model = build_tiny_model(str(Path(work_dir) / "tiny-model"))
    prepare = PrepareParams(input=ledger, work_dir=work_dir, model=model)
    result = pipeline(PipelineParams(prepare=prepare, train=TrainOptions.model_validate(DEMO_TRAINING)))
    new_ledger = synthesize_ledger(str(Path(work_dir) / "next_month.csv"), 2000, accounts, seed + 1, 0.05, labels=False)
    out = str(Path(work_dir) / "predictions.xlsx")
    prediction = predict_ledger(
        PredictParams(model=result.training.run_dir, input=new_ledger, out=out, work_dir=work_dir)
    )
    return DemoResult(pipeline=result, prediction=prediction)


def main(argv: list[str] | None = None) -> None:
    from flows.cli import print_prediction, print_prepare_result, print_side_by_side, print_training

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--work-dir", default="data/demo")
    args = parser.parse_args(argv)
    result = demo(work_dir=args.work_dir, rows=args.rows)
    print_prepare_result(result.pipeline.prepared)
    print_training(result.pipeline.training, args.work_dir, None)
    print_side_by_side([result.pipeline.baseline, result.pipeline.llm])
    print_prediction(result.prediction)
    print(f"\nledger       {Path(args.work_dir) / 'ledger.csv'}")
    print("next         account-tax pipeline --input YOUR_LEDGER.xlsx --model /path/to/base-model   (README.md)")


if __name__ == "__main__":
    main()
