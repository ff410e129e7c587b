"""`make run`: the demo on embedded defaults, a synthetic dirty ledger through the data-preparation flow.

python -m flows.demo [--rows 20000] [--work-dir data/demo]
"""

import argparse
from pathlib import Path

from prefect import flow, task

from flows.cli import print_prepare_summary
from flows.params import PrepareParams
from flows.prepare import prepare_data
from tasks.report import PrepareSummary


@task
def synthesize_ledger(out: str, rows: int, accounts: int, seed: int, dirty: float) -> str:
    """Write a synthetic Korean ledger (CP949 CSV, as older bookkeeping software exports it)."""
    from tasks.synth import make_ledger, write_ledger

    return write_ledger(make_ledger(rows, accounts, seed, dirty=dirty), out, "csv", "cp949")


@flow(name="demo", log_prints=True)
def demo(work_dir: str = "data/demo", rows: int = 20_000, accounts: int = 80, seed: int = 7) -> PrepareSummary:
    """Synthetic ledger -> prepare_data."""
    ledger = synthesize_ledger(str(Path(work_dir) / "ledger.csv"), rows, accounts, seed, dirty=0.03)
    return prepare_data(PrepareParams(input=ledger, work_dir=work_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--work-dir", default="data/demo")
    args = parser.parse_args()
    summary = demo(work_dir=args.work_dir, rows=args.rows)
    print_prepare_summary(summary)
    print(f"\nledger       {Path(args.work_dir) / 'ledger.csv'}")
    print("next         account-tax prepare --input YOUR_LEDGER.xlsx   (see README.md)")


if __name__ == "__main__":
    main()
