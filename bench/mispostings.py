"""Mis-postings in the history, measured (issue 26): are the injected ones found, and does a history that carries
them still code most of a clean next month automatically, as promised at training?

    python -m bench.mispostings [--only detection baseline pipeline] [--root .cache/bench-mispostings]

1. detection: synthetic 6,000-line ledgers with 0%, 2%, 5% and 10% of their lines booked to a nearby account,
   through prepare_data: precision and recall of the suspects against the injected lines, and the time.
2. pipeline: one synthetic company with 8% mis-postings (synth.months): about 6,000 lines over 3 calendar months are
   the history, its following month (about 2,000 lines) the next month with every true code written (a clean
   month). The baseline flow with the suspects set aside and with detection off (`mispostings.detect=false`: the
   codes as written), then `pipeline` with every default and `predict` of the next month with the model it chose:
   coverage and accuracy of the automatic lines against the true codes, and what training promised.
Writes bench/MISPOSTINGS-RESULTS.md.
"""

import argparse
import time
from pathlib import Path

import pandas as pd

from bench.common import ROOT, machine

OUT = ROOT / "bench" / "MISPOSTINGS-RESULTS.md"
HISTORY, NEXT_MONTH, SHARE, SEED = 6000, 2000, 0.08, 21


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["detection", "baseline", "pipeline"])
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-mispostings"))
    parser.add_argument("--out", default=str(OUT))
    return parser.parse_args(argv)


def detection(root: Path) -> list[dict]:
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import injected_mispostings, make_ledger, write_ledger

    rows = []
    for share in (0.0, 0.02, 0.05, 0.10):
        ledger = make_ledger(6000, 80, seed=3, mispostings=share)
        path = write_ledger(ledger, str(root / f"detection-{share}" / "ledger.csv"))
        started = time.time()
        result = prepare_data(PrepareParams(input=path, work_dir=str(root / f"detection-{share}")))
        seconds = time.time() - started
        found = set((pd.read_parquet(result.mispostings.table)["source_row"] - 2).tolist())
        injected = set(injected_mispostings(ledger)["row"].tolist())
        hits = len(found & injected)
        rows.append({"share": share, "injected": len(injected), "suspected": len(found), "hits": hits,
                     "precision": hits / len(found) if found else None,
                     "recall": hits / len(injected) if injected else None,
                     "prepare_seconds": round(seconds)})  # fmt: skip
    return rows


def split_months(root: Path) -> tuple[str, str]:
    """The history as written (mis-postings in it) and the company's following month with its true codes."""
    from synth.ledger import write_ledger
    from synth.months import history_and_next_month

    history, month = history_and_next_month(HISTORY, NEXT_MONTH, 80, seed=SEED, mispostings=SHARE)
    return write_ledger(history, str(root / "history.csv")), write_ledger(month, str(root / "next_month.csv"))


def promised(calibration) -> dict:
    valid = calibration.valid
    return {"threshold": calibration.threshold, "valid_coverage": valid.coverage if valid else None,
            "valid_auto_accuracy": valid.auto_accuracy if valid else None}  # fmt: skip


def predicted(model_dir: str, month: str, root: Path, name: str) -> dict:
    from flows.predict import predict_ledger
    from params.predict import PredictParams

    out = root / f"predictions-{name}.xlsx"
    summary = predict_ledger(PredictParams(model=model_dir, input=month, out=str(out), work_dir=str(root)))
    held = summary.expectation
    return {"rows": summary.rows_predicted, "auto": summary.rows_auto, "coverage": held.coverage if held else None,
            "auto_accuracy": held.accuracy if held else None}  # fmt: skip


def baseline_runs(root: Path) -> list[dict]:
    """The baseline flow on the history with the codes as written, and with the suspects set aside."""
    from flows.baseline import baseline
    from params.baseline import BaselineFlowParams

    history, month = split_months(root)
    rows = []
    for name, detect in (("baseline, codes as written", False), ("baseline, suspects set aside", True)):
        work = root / ("baseline-" + ("on" if detect else "off"))
        report = baseline(BaselineFlowParams(prepare={"input": history, "work_dir": str(work),
                                                      "mispostings": {"detect": detect}}))  # fmt: skip
        rows.append({"run": name, **promised(report.calibration),
                     **predicted(report.model_dir, month, work, "baseline")})  # fmt: skip
    return rows


def pipeline_runs(root: Path) -> list[dict]:
    """`pipeline` with every default on the history, then the chosen model on the next month."""
    from flows.pipeline import pipeline
    from params.pipeline import PipelineParams

    history, month = split_months(root)
    rows = []
    started = time.time()
    result = pipeline(PipelineParams(prepare={"input": history, "work_dir": str(root / "pipeline")}))
    chosen = result.choice.model_dir if result.choice else result.training.run_dir
    chosen_report = next(r for r in (result.llm, result.baseline) if r.model_dir == chosen)
    rows.append({"run": f"pipeline, defaults (chose {chosen_report.name})", **promised(chosen_report.calibration),
                 **predicted(chosen, month, root / "pipeline", "chosen"), "seconds": round(time.time() - started),
                 "headline": result.prepared.mispostings.headline(),
                 "llm": result.llm.metrics, "llm_verdict": result.llm.verdict,
                 "llm_opinion": result.llm.calibration.second_opinion if result.llm.calibration else {},
                 "baseline": result.baseline.metrics})  # fmt: skip
    return rows


def render(found: list[dict], runs: list[dict]) -> str:
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    facts = [f"- {k}: {v}" for k, v in machine().items()]
    lines = ["# Mis-postings (`python -m bench.mispostings`)", "", *facts, ""]
    if found:
        lines += ["## Detection (6,000-line synthetic ledgers, 80 accounts)", "",
                  "| injected share | injected lines | suspected | of them injected | precision | recall | prepare s |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in found:
            lines.append(f"| {r['share']:.0%} | {r['injected']:,} | {r['suspected']:,} | {r['hits']:,} "
                         f"| {pct(r['precision'])} | {pct(r['recall'])} | {r['prepare_seconds']} |")  # fmt: skip
    if runs:
        lines += ["", f"## A history with {SHARE:.0%} mis-postings, then a clean next month", "",
                  f"History: about {HISTORY:,} lines over {round(HISTORY / NEXT_MONTH)} calendar months of a synthetic "
                  f"company with {SHARE:.0%} of its lines mis-posted; next month: its following calendar month (about "
                  f"{NEXT_MONTH:,} lines) with their true codes (synth.months). Target accuracy 98%.", "",
                  "| run | threshold | promised coverage (valid) | promised accuracy | next month coverage | "
                  "next month accuracy of auto lines |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in runs:
            threshold = "none" if r["threshold"] > 1 else f"{r['threshold']:.3f}"
            lines.append(f"| {r['run']} | {threshold} | {pct(r['valid_coverage'])} | {pct(r['valid_auto_accuracy'])} "
                         f"| {pct(r['coverage'])} | {pct(r['auto_accuracy'])} |")  # fmt: skip
        for r in runs:
            if "headline" in r:
                lines += ["", f"Pipeline: {r['headline']}; {r['seconds']} s.",
                          f"LLM test: {r['llm']}; {r['llm_verdict']}", f"Baseline test: {r['baseline']}"]  # fmt: skip
                if opinion := r.get("llm_opinion"):
                    lines.append(f"LLM's own suspects among its {opinion['lines']:,} valid and test lines: "
                                 f"{opinion['flagged']:,}, {opinion['agreed']:,} of them among the "
                                 f"{opinion['earlier']:,} the K-fold suspected there.")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    from prefect.testing.utilities import prefect_test_harness

    args = parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    with prefect_test_harness():
        found = detection(root) if "detection" in args.only else []
        Path(args.out).write_text(render(found, []), encoding="utf-8")
        runs = baseline_runs(root) if "baseline" in args.only else []
        Path(args.out).write_text(render(found, runs), encoding="utf-8")
        runs += pipeline_runs(root) if "pipeline" in args.only else []
    Path(args.out).write_text(render(found, runs), encoding="utf-8")


if __name__ == "__main__":
    main()
