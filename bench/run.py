"""`make bench`: P1-P5 against their floors, each a ratio measured in this one run; writes bench/RESULTS.md.

python -m bench.run [--sizes 100000,1000000] [--root .cache/bench] [--only data|model]
"""

import argparse
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, Table, kept_section, machine

RESULTS = ROOT / "bench" / "RESULTS.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="ledger rows for P1/P2/P4, comma separated")
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench"), help="scratch folder (wiped first)")
    parser.add_argument(
        "--only",
        choices=["data", "model", "exports", "learning", "cost"],
        help="run only the data (P1 P2 P4), model (P3 P5), export-reading (P6), learning (bench.learning) or "
        "training-cost (bench.training_cost) part",
    )
    parser.add_argument("--out", default=str(RESULTS), help="results file")
    return parser.parse_args(argv)


def breakdown(tasks: dict[str, float]) -> str:
    """Seconds per task of one flow run, largest first, as a markdown table."""
    rows = sorted(tasks.items(), key=lambda kv: -kv[1]["s"])
    lines = [f"| {name} | {t['s']:.2f} | {t['state']} |" for name, t in rows]
    return "| task | seconds | state |\n|---|---|---|\n" + "\n".join(lines)


def render(table: Table, facts: dict, details: dict, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min. Every "
        "ratio is measured within this one run on this machine; see bench/README.md for what each figure compares "
        "and why the misses cost what they do.",
        "",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
        table.markdown(),
        "",
    ]
    for rows, info in details.get("data", {}).items():
        lines += [
            f"## Data flow, {rows:,} rows: where the cold run's time goes (server mode)",
            "",
            f"{info['rows_in']:,} rows in, {info['rows_accepted']:,} accepted; p50 {info['tokens_p50']:.0f} tokens "
            f"per text; the floor encoded {info['floor']['texts']:,} texts in {info['floor']['floor_s']:.1f} s.",
            "",
            breakdown(info["cold_tasks"]),
            "",
            "The cached re-run (server mode), task by task:",
            "",
            breakdown(info["server_cached_tasks"]),
            "",
        ]
    if "model" in details:
        lines += ["## Model figures", "", "```json", json.dumps(details["model"], indent=2, default=str), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.root).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    start = time.perf_counter()
    table, details = Table(), {}
    if args.only == "learning":  # its own section of RESULTS.md; the other figures stay as they are
        from bench.learning import main as bench_learning

        return bench_learning([])
    if args.only == "cost":  # likewise: tokens per line, padding, template choice, GPU-hours
        from bench.training_cost import main as bench_cost

        return bench_cost([])

    from synth.tiny_model import make_tiny_model

    model = str(make_tiny_model(str(root / "tiny-model")))
    facts = {
        **machine(),
        "model": "tiny random Qwen2-style decoder + tokenizer trained on the fly (synth.tiny_model)",
    }
    if args.only in (None, "data"):
        from bench.data_flow import bench_data_flow

        sizes = [int(s) for s in args.sizes.split(",") if s]
        details["data"] = bench_data_flow(root, sizes, model, table)
    if args.only in (None, "exports"):
        from bench.exports import bench_exports

        details["exports"] = bench_exports(root, table)
    if args.only in (None, "model"):
        from bench.model_steps import bench_model

        details["model"] = bench_model(root, model, table)
    from bench import cost_report
    from bench.learning import learning_section

    cost = kept_section(Path(args.out), cost_report.BEGIN, cost_report.END)  # measured by its own run: kept
    report = render(table, facts, details, time.perf_counter() - start) + "\n" + learning_section() + cost
    Path(args.out).write_text(report, encoding="utf-8")
    print(table.markdown())
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
