"""`make run`: the demo on embedded defaults: a synthetic dirty ledger and a tiny model through prepare_data.

python -m flows.demo [--rows 20000] [--work-dir data/demo]
"""

import argparse
from pathlib import Path

from prefect import flow, task

from flows.cli import print_prepare_result
from flows.params import PrepareParams
from flows.prepare import PrepareResult, prepare_data


@task
def synthesize_ledger(out: str, rows: int, accounts: int, seed: int, dirty: float) -> str:
    """Write a synthetic Korean ledger (CP949 CSV, as older bookkeeping software exports it)."""
    from tasks.synth import make_ledger, write_ledger

    return write_ledger(make_ledger(rows, accounts, seed, dirty=dirty), out, "csv", "cp949")


@task
def build_tiny_model(out: str) -> str:
    """A tiny random decoder and a tokenizer trained on synthetic ledger text (no download)."""
    from training.tiny_model import make_tiny_model

    return str(out if (Path(out) / "config.json").exists() else make_tiny_model(out))


@flow(name="demo", log_prints=True)
def demo(work_dir: str = "data/demo", rows: int = 20_000, accounts: int = 80, seed: int = 7) -> PrepareResult:
    """Synthetic ledger + tiny model -> prepare_data (up to the tokenized dataset)."""
    ledger = synthesize_ledger(str(Path(work_dir) / "ledger.csv"), rows, accounts, seed, dirty=0.03)
    model = build_tiny_model(str(Path(work_dir) / "tiny-model"))
    return prepare_data(PrepareParams(input=ledger, work_dir=work_dir, model=model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--work-dir", default="data/demo")
    args = parser.parse_args()
    print_prepare_result(demo(work_dir=args.work_dir, rows=args.rows))
    print(f"\nledger       {Path(args.work_dir) / 'ledger.csv'}")
    print("next         account-tax prepare --input YOUR_LEDGER.xlsx   (see README.md)")


if __name__ == "__main__":
    main()
