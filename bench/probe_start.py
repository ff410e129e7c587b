"""Why fine-tuning from the linear-probe head dipped, measured (issue 26): curves of train loss, grad norm and valid
macro-F1 from the probe on, for the default and one change at a time.

    python -m bench.probe_start [--rows 6000] [--share 0.08] [--steps 120] [--only NAME ...]

A synthetic ledger with `share` of its lines mis-posted, the bundled all-MiniLM-L6-v2 at 128 tokens, the demo's
trainer settings (lr 5e-4, batch 16), through the product's path (train_model -> deepspeed launcher). Writes
bench/PROBE-START.md (one table per run: step, train loss, grad norm, valid accuracy and macro-F1 on 300 rows).
"""

import argparse
import json
import time
from pathlib import Path

from bench.common import ROOT, machine

OUT = ROOT / "bench" / "PROBE-START.md"
KEPT = ROOT / "bench" / "probe-start"  # each run's figures (json), committed: the table is rendered from them
EVAL_ROWS = 300
TITLES = {"default": "default now: shuffled length-grouped batches, base dropout off (head.base_dropout=auto)"}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--share", type=float, default=0.08, help="share of mis-posted lines")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-probe-start"))
    parser.add_argument("--only", nargs="*", help="run names (default: all)")
    parser.add_argument("--out", default=str(OUT))
    return parser.parse_args(argv)


def prepare(root: Path, rows: int, share: float, train_rows: str) -> tuple[str, str]:
    """The ledger prepared with the bundled model's tokenizer (128 tokens), suspects handled as `train_rows`."""
    from flows.demo import DEMO_TOKENS
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from training.bundled_model import bundled_model

    model = str(bundled_model(root / "models"))
    ledger = write_ledger(make_ledger(rows, 80, 7, dirty=0.03, mispostings=share), str(root / "ledger.csv"))
    params = PrepareParams(
        input=ledger, work_dir=str(root), model=model, tokenize=DEMO_TOKENS, mispostings={"train_rows": train_rows}
    )
    return str(Path(prepare_data(params).dataset.path).parent), model


def curve(run_dir: str) -> tuple[list[dict], dict, dict]:
    """Per logged step: loss, grad norm, valid accuracy / macro-F1 when evaluated; the probe's and test metrics."""
    events = [json.loads(line) for line in (Path(run_dir) / "progress.jsonl").read_text().splitlines()]
    rows: dict[int, dict] = {}
    probe, test = {}, {}
    for e in events:
        metrics = e.get("metrics") or {}
        if e["event"] == "probe":
            probe = {k.removeprefix("probe/"): v for k, v in metrics.items()}
        elif e["event"] == "test":
            test = {k.removeprefix("test_"): v for k, v in metrics.items()}
        elif e["event"] == "log":
            row = rows.setdefault(int(e["step"]), {"step": int(e["step"])})
            for key, name in (("loss", "loss"), ("grad_norm", "grad_norm"), ("eval_accuracy", "accuracy"),
                              ("eval_f1_macro", "f1_macro")):  # fmt: skip
                if key in metrics:
                    row[name] = metrics[key]
    return [rows[s] for s in sorted(rows)], probe, test


def run(name: str, dataset: str, model: str, root: Path, steps: int, trainer: dict, **sections) -> dict:
    import shutil

    from flows.train import train_model
    from params.train import TrainParams

    shutil.rmtree(root / "runs" / name, ignore_errors=True)
    settings = {"max_steps": steps, "eval_steps": 10, "logging_steps": 5, "save_steps": 10_000,
                "per_device_train_batch_size": 16, "learning_rate": 5e-4, **trainer}  # fmt: skip
    params = TrainParams(dataset=dataset, model=model, work_dir=str(root), run_name=name,
                         max_eval_samples=EVAL_ROWS, trainer=settings, **sections)  # fmt: skip
    started = time.time()
    outcome = train_model(params)
    points, probe, test = curve(outcome.run_dir)
    return {"name": TITLES.get(name, name), "points": points, "probe": probe, "test": test,
            "seconds": round(time.time() - started), "verdict": outcome.report.verdict if outcome.report else "",
            "noise": valid_noise(outcome.run_dir), "recorded": time.time()}  # fmt: skip


def plan(root: Path, args) -> dict:
    """Every run by name: the dataset it trains on, and what it changes from the default."""
    runs = {
        "default": ("exclude", {}, {}),
        "suspects-kept": ("keep", {}, {}),
        "random-batches": ("exclude", {"train_sampling_strategy": "random"}, {}),
        "no-class-weights": ("exclude", {}, {"loss": {"class_weights": False}}),
        "head-lr-x1": ("exclude", {}, {"head": {"lr_multiplier": 1.0}}),
        "dropout-kept": ("exclude", {}, {"head": {"base_dropout": "keep"}}),
        "lr-2e-4": ("exclude", {"learning_rate": 2e-4}, {}),
    }
    return {k: v for k, v in runs.items() if not args.only or k in args.only}


def kept_results() -> list[dict]:
    """Every run's figures kept under bench/probe-start, in the order they were recorded (runs of earlier code keep
    their own name), so a run of some names re-renders the whole table."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in KEPT.glob("*.json")]
    return sorted(runs, key=lambda r: r["recorded"])


def valid_noise(run_dir: str, rows: int = EVAL_ROWS, draws: int = 2000, seed: int = 0) -> dict:
    """How much a valid macro-F1 measured on `rows` lines moves by chance: bootstrap draws of `rows` lines from the
    run's final valid predictions (the whole valid split), their standard deviation and 95% half-width."""
    import numpy as np
    from sklearn.metrics import f1_score

    from contracts.calibration import VALID_LOGITS_FILE, read_logits
    from contracts.label_map import LABEL_MAP_FILE, LabelMap
    from contracts.run_folder import RunFolder
    from scoring.calibration import scaled_probs

    final = RunFolder.of(run_dir).final
    logits, labels = read_logits(final / VALID_LOGITS_FILE)
    predicted = scaled_probs(logits, 1.0, LabelMap.read(final / LABEL_MAP_FILE).used_mask()).argmax(axis=1)
    picks = np.random.default_rng(seed).integers(0, len(labels), size=(draws, rows))
    scores = np.array([f1_score(labels[i], predicted[i], average="macro", zero_division=0) for i in picks])
    low, high = np.percentile(scores, [2.5, 97.5])
    return {"rows": rows, "valid_rows": len(labels), "sd": float(scores.std()), "half_width_95": float(high - low) / 2}


def render(results: list[dict], args) -> str:
    lines = [
        "# Fine-tuning from the probe head (`python -m bench.probe_start`)",
        "",
        f"{args.rows:,}-line synthetic ledger, {args.share:.0%} of its lines mis-posted, bundled all-MiniLM-L6-v2 "
        f"at 128 tokens, lr 5e-4, batch 16, {args.steps} steps; valid figures on {EVAL_ROWS} valid rows.",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        "",
        "| run | probe valid acc / macro-F1 | lowest valid macro-F1 after step 0 | final valid acc / macro-F1 | "
        "test acc / macro-F1 | max loss | max grad norm | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        evals = [p for p in r["points"] if "f1_macro" in p]
        losses = [p["loss"] for p in r["points"] if "loss" in p]
        norms = [p["grad_norm"] for p in r["points"] if "grad_norm" in p]
        pr, last, t = r["probe"], evals[-1] if evals else {}, r["test"]
        lines.append(
            f"| {r['name']} | {pr.get('accuracy', 0):.3f} / {pr.get('f1_macro', 0):.3f} | "
            f"{min((p['f1_macro'] for p in evals), default=0):.3f} | {last.get('accuracy', 0):.3f} / "
            f"{last.get('f1_macro', 0):.3f} | {t.get('accuracy', 0):.3f} / {t.get('f1_macro', 0):.3f} | "
            f"{max(losses, default=0):.2f} | {max(norms, default=0):.1f} | {r['seconds']} |"
        )
    for r in results:
        if noise := r.get("noise"):
            evals = [p["f1_macro"] for p in r["points"] if "f1_macro" in p]
            gap = r["probe"].get("f1_macro", 0) - min(evals, default=0)
            within = "within" if gap <= noise["half_width_95"] else "beyond"
            lines += ["", f"Noise ({r['name']}): a valid macro-F1 on {noise['rows']} lines moves by "
                      f"+-{noise['half_width_95']:.3f} by chance (95% bootstrap half-width over its final predictions "
                      f"on the {noise['valid_rows']} valid lines; sd {noise['sd']:.3f}); its lowest point is {gap:.3f} "
                      f"below the probe: {within} that."]  # fmt: skip
    for r in results:
        header = "| step | loss | grad norm | valid acc | valid macro-F1 |"
        lines += ["", f"## {r['name']}", "", r["verdict"], "", header, "|---|---|---|---|---|"]
        for p in r["points"]:
            cells = [f"{p[k]:.3f}" if k in p else "" for k in ("loss", "grad_norm", "accuracy", "f1_macro")]
            lines.append(f"| {p['step']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    from prefect.testing.utilities import prefect_test_harness

    args = parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    KEPT.mkdir(exist_ok=True)
    datasets = {}
    with prefect_test_harness():
        for name, (train_rows, trainer, sections) in plan(root, args).items():
            if train_rows not in datasets:
                datasets[train_rows] = prepare(root / train_rows, args.rows, args.share, train_rows)
            dataset, model = datasets[train_rows]
            result = run(name, dataset, model, root, args.steps, trainer, **sections)
            (KEPT / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
            results = kept_results()
            Path(args.out).write_text(render(results, args), encoding="utf-8")
            print(f"{name}: done ({result['seconds']} s)", flush=True)


if __name__ == "__main__":
    main()
