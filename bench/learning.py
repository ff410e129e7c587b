"""Does the real model learn through our training path, and what does each of our pieces cost or buy?

    python -m bench.learning [--rows 20000] [--steps 200] [--root .cache/bench-learning]
    make bench BENCH_ARGS="--only learning"

On one synthetic 20k-row ledger (the demo's) and the bundled all-MiniLM-L6-v2, through the product's own
path (train_model flow -> deepspeed launcher -> training program):
  1. a 64-row batch the model must overfit (train accuracy ~1.0);
  2. parity: the plain transformers Trainer script (bench/plain_trainer.py: full fine-tuning, no class
     weights, [CLS] pooler, linear schedule) against our program set up the same way;
  3. our pieces added one by one: LoRA + class weights + mean pooling with a random head, then the default
     (the head from a linear probe, LP-FT), and a learning-rate sweep of the default;
  4. the TF-IDF baseline on the same split.
Writes bench/LEARNING-RESULTS.md (curves: macro-F1 on 300 valid rows against steps and wall time; test metrics).
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, machine, replace_section

OUT = ROOT / "bench" / "LEARNING-RESULTS.md"
RESULTS = ROOT / "bench" / "RESULTS.md"
EVAL_ROWS = 300
BEGIN, END = "<!-- learning: written by bench.learning -->", "<!-- /learning -->"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=200, help="steps of each curve")
    parser.add_argument("--sweep-steps", type=int, default=80, help="steps of each learning-rate sweep run")
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-learning"))
    parser.add_argument("--only", nargs="*", help="run names to run (default: all)")
    parser.add_argument("--out", default=str(OUT))
    return parser.parse_args(argv)


def prepare(root: Path, rows: int) -> tuple[str, str, str]:
    """The demo's ledger prepared with the bundled model's tokenizer (128 tokens): dataset, model, baseline."""
    from flows.demo import DEMO_TOKENS
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from training.bundled_model import bundled_model

    model = str(bundled_model(root / "models"))
    ledger = write_ledger(make_ledger(rows, 80, 7, dirty=0.03), str(root / "ledger.csv"), "csv", "cp949")
    result = prepare_data(PrepareParams(input=ledger, work_dir=str(root), model=model, tokenize=DEMO_TOKENS))
    return str(Path(result.dataset.path).parent), model, ledger


def curve_of(run_dir: str, started: float) -> tuple[list[dict], dict, dict]:
    """Eval points (step, seconds since launch, metrics), test metrics and probe metrics of a product run."""
    events = [json.loads(line) for line in (Path(run_dir) / "progress.jsonl").read_text().splitlines()]
    points, test, probe = [], {}, {}
    for e in events:
        metrics = e.get("metrics") or {}
        if e["event"] == "probe":
            probe = {k.removeprefix("probe/"): v for k, v in metrics.items()}
            points.append({"step": 0, "seconds": round(e["time"] - started, 1), "f1_macro": probe.get("f1_macro"),
                           "accuracy": probe.get("accuracy")})  # fmt: skip
        elif e["event"] == "log" and "eval_f1_macro" in metrics:
            points.append({"step": e["step"], "seconds": round(e["time"] - started, 1),
                           "f1_macro": metrics["eval_f1_macro"], "accuracy": metrics["eval_accuracy"]})  # fmt: skip
        elif e["event"] == "test":
            test = {k.removeprefix("test_"): v for k, v in metrics.items()}
    return points, test, probe


def run_product(name: str, dataset: str, model: str, root: Path, trainer: dict, **sections) -> dict:
    from flows.train import train_model
    from params.train import TrainParams

    shutil.rmtree(root / "runs" / name, ignore_errors=True)  # each figure from a fresh run
    settings = {"logging_steps": 10, "save_steps": 10_000, "per_device_train_batch_size": 16, **trainer}
    params = TrainParams(
        dataset=dataset, model=model, work_dir=str(root), run_name=name, max_eval_samples=EVAL_ROWS,
        trainer=settings, **sections,
    )  # fmt: skip
    started = time.time()
    outcome = train_model(params)
    points, test, probe = curve_of(outcome.run_dir, started)
    return {"name": name, "curve": points, "test": test, "probe": probe, "seconds": round(time.time() - started, 1),
            "verdict": outcome.report.verdict if outcome.report else ""}  # fmt: skip


def run_plain(name: str, dataset: str, model: str, root: Path, steps: int, lr: float) -> dict:
    out = root / f"{name}.json"
    cmd = [sys.executable, "-m", "bench.plain_trainer", "--dataset", str(Path(dataset) / "data"), "--model", model,
           "--steps", str(steps), "--lr", str(lr), "--eval-every", str(max(steps // 4, 1)),
           "--eval-rows", str(EVAL_ROWS), "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=(root / f"{name}.log").open("w"))
    plain = json.loads(out.read_text())
    curve = [{"step": p["step"], "seconds": p["seconds"], "f1_macro": p["eval_f1_macro"],
              "accuracy": p["eval_accuracy"]} for p in plain["curve"]]  # fmt: skip
    test = {k.removeprefix("test_"): v for k, v in plain["test"].items()}
    return {"name": name, "curve": curve, "test": test, "probe": {}, "seconds": plain["seconds"], "verdict": ""}


def run_baseline(ledger: str, root: Path) -> dict:
    from flows.baseline import baseline
    from params.baseline import BaselineFlowParams

    started = time.time()
    report = baseline(BaselineFlowParams(prepare={"input": ledger, "work_dir": str(root)}))
    test = {k: v for k, v in report.metrics.items() if k != "n_test"}
    return {"name": "baseline (TF-IDF + logistic regression)", "curve": [], "test": test, "probe": {},
            "seconds": round(time.time() - started, 1), "verdict": ""}  # fmt: skip


def plan(args, dataset: str, model: str, root: Path, ledger: str) -> dict:
    """Every run by name: what it is and how to run it."""
    steps, sweep = args.steps, args.sweep_steps
    curve = {"max_steps": steps, "eval_steps": max(steps // 4, 1)}
    same_as_plain = {"lr_scheduler_type": "linear", "warmup_steps": 0.1}
    runs = {
        "overfit-64": lambda: overfit(dataset, model, root),
        "plain-transformers-full-ft": lambda: run_plain(
            "plain-transformers-full-ft", dataset, model, root, steps, 5e-5
        ),
        "ours-full-ft-as-plain": lambda: run_product(
            "ours-full-ft-as-plain",
            dataset,
            model,
            root,
            {**curve, **same_as_plain, "learning_rate": 5e-5},
            lora={"enabled": False},
            loss={"class_weights": False},
            head={"init": "random", "pooling": "cls", "lr_multiplier": 1.0},
        ),
        "ours-lora-random-head": lambda: run_product(
            "ours-lora-random-head", dataset, model, root, {**curve, "learning_rate": 5e-4}, head={"init": "random"}
        ),
        "ours-default-lpft": lambda: run_product(
            "ours-default-lpft", dataset, model, root, {**curve, "learning_rate": 5e-4}
        ),
        "baseline": lambda: run_baseline(ledger, root),
    }
    for init in ("probe", "random"):  # LP-FT on the tiny random decoder too: does the default help there?
        name = f"tiny-decoder-{init}-head"
        runs[name] = lambda init=init, name=name: tiny_run(name, root, ledger, init, steps)
    for lr in (2e-4, 5e-4, 2e-3):
        name = f"sweep-lpft-lr{lr:g}-{sweep}steps"
        runs[name] = lambda lr=lr, name=name: run_product(
            name, dataset, model, root, {"max_steps": sweep, "eval_steps": sweep, "learning_rate": lr}
        )
    return runs


def tiny_run(name: str, root: Path, ledger: str, init: str, steps: int) -> dict:
    """The same ledger through the tiny random decoder (its own tokenizer), with the given head start."""
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.tiny_model import make_tiny_model

    model = root / "tiny-model"
    if not (model / "config.json").exists():
        make_tiny_model(model)
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(root / "tiny"), model=str(model)))
    dataset = str(Path(prepared.dataset.path).parent)
    trainer = {"max_steps": steps, "eval_steps": max(steps // 4, 1), "learning_rate": 2e-3}
    return run_product(name, dataset, str(model), root, trainer, head={"init": init})


def overfit(dataset: str, model: str, root: Path) -> dict:
    """64 rows of 8 accounts as train = valid = test, a random head: train accuracy must reach ~1.0."""
    from bench.sanity import tiny_batch_dataset

    tiny = tiny_batch_dataset(dataset, root / "tiny-batch", rows=64, classes=8)
    return run_product(
        "overfit-64", tiny, model, root, {"max_steps": 60, "eval_steps": 10, "learning_rate": 3e-3},
        head={"init": "random"},
    )  # fmt: skip


def render(results: list[dict], facts: dict, args) -> str:
    lines = [
        "# Learning results (`python -m bench.learning`)",
        "",
        f"{args.rows:,}-row synthetic ledger (80 accounts, the demo's), bundled all-MiniLM-L6-v2, texts cut at 128 "
        f"tokens, batch 16, curves of {args.steps} steps on {EVAL_ROWS} valid rows; test metrics on the whole test "
        "split. Seconds count from the flow call (launcher start-up and the probe included).",
        "",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
        "| run | test accuracy | test macro-F1 | probe valid macro-F1 | seconds | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["test"]
        lines.append(
            f"| {r['name']} | {t.get('accuracy', float('nan')):.3f} | {t.get('f1_macro', float('nan')):.3f} | "
            f"{r['probe'].get('f1_macro', float('nan')):.3f} | {r['seconds']:.0f} | {r['verdict']} |"
        )
    lines += ["", "## Curves (valid macro-F1 / accuracy at step, seconds since the call)", ""]
    for r in results:
        if r["curve"]:
            points = ", ".join(
                f"{p['step']}: {p['f1_macro']:.3f} / {p['accuracy']:.3f} @ {p['seconds']:.0f}s" for p in r["curve"]
            )
            lines.append(f"- {r['name']}: {points}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    dataset, model, ledger = prepare(root, args.rows)
    runs = plan(args, dataset, model, root, ledger)
    results_file = root / "results.json"
    done = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, run in runs.items():
        if args.only and name not in args.only:
            continue
        print(f"-- {name}", flush=True)
        done[name] = run()
        results_file.write_text(json.dumps(done, indent=2))
        print(json.dumps({"name": name, "test": done[name]["test"], "seconds": done[name]["seconds"]}), flush=True)
    ordered = [done[n] for n in runs if n in done]
    Path(args.out).write_text(render(ordered, machine(), args), encoding="utf-8")
    update_results(RESULTS, Path(args.out))
    print(f"results -> {args.out} (and its section in {RESULTS})")
    return 0


def learning_section(learning: Path = OUT) -> str:
    """The learning results as a RESULTS.md section between markers ('' when never run)."""
    if not learning.exists():
        return ""
    body = learning.read_text(encoding="utf-8").split("\n", 1)[1]
    return f"{BEGIN}\n## Learning: the real model, probe, LP-FT, plain fine-tuning, baseline\n{body}{END}\n"


def update_results(results: Path, learning: Path) -> None:
    """Replace (or append) the learning section of RESULTS.md; the rest of the file is left as it is."""
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    results.write_text(replace_section(text, learning_section(learning), BEGIN, END), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
