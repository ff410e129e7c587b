"""Warm start against training from scratch (issue 27), both curves in one run, scored on the month after.

    python -m bench.warm_start [--history 4000] [--month 600] [--steps 240]

One synthetic company (synth.months): a history, month A (reviewed: its true codes, a new vendor booked to a new
account), month B. The bundled all-MiniLM-L6-v2 at 128 tokens, the demo's trainer settings (lr 5e-4, batch 16),
through the product's path (train_model -> deepspeed launcher):

- parent: from scratch on the history, `steps` steps (the champion in use);
- scratch: from scratch on the history and month A, `steps` steps;
- warm: from the parent on month A with half the parent's train lines replayed (train.replay 0.5), `steps` steps;
  its head the parent's, or re-fitted by a probe on the parent's tuned features (--warm-init probe).

Both challengers are evaluated on every line of month B (their valid split is month B, prepared with each one's
label map) every `eval_every` steps. The figure: the first step at which the warm run reaches the scratch run's
final macro-F1 on month B, as a share of the scratch run's steps (the target: at most a third). Writes
bench/WARM-START.md.
"""

import argparse
import json
import shutil
import time
from pathlib import Path

from bench.common import ROOT, machine
from bench.probe_start import curve

OUT = ROOT / "bench" / "WARM-START.md"
NEW_VENDOR = "한빛상사"  # in months A and B only, booked to an account the history never used


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=4000, help="history lines (months of --month lines)")
    parser.add_argument("--month", type=int, default=600, help="lines a month")
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--warm-lr", default="5e-4", help="learning rates of the warm runs, comma separated")
    parser.add_argument("--keep", action="store_true", help="reuse the parent and scratch runs of the last run")
    parser.add_argument("--replay", default="0.5", help="train.replay of the warm runs, comma separated (one run each)")
    parser.add_argument(
        "--warm-steps",
        type=int,
        help="the warm runs' own schedule (default --steps): a third of --steps asks whether "
        "a warm run annealed over a third of the steps ends where the scratch run ends",
    )
    parser.add_argument("--warm-init", default="parent", help="head.warm_init of the warm runs, comma separated")
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-warm-start"))
    parser.add_argument("--out", default=str(OUT))
    return parser.parse_args(argv)


def months(root: Path, history_rows: int, month_rows: int) -> tuple[dict[str, str], str]:
    """history, month A and month B as CSV files; A and B carry a new vendor booked to an expense account the history
    never used (the chart's first such, with its first keyword as the note). Returns the files and that code."""
    import pandas as pd

    from synth.ledger import load_chart, write_ledger
    from synth.months import history_and_next_month

    earlier, month_b = history_and_next_month(history_rows + month_rows, month_rows, 80, seed=7, mispostings=0.0)
    last = earlier["일자"].str[:7].max()
    history, month_a = earlier[earlier["일자"].str[:7] < last], earlier[earlier["일자"].str[:7] == last].copy()
    chart = load_chart()
    unseen = chart[~chart["code"].isin(set(history["계정코드"])) & chart["code"].str.startswith("8")].iloc[0]
    new = [NEW_VENDOR, unseen["keywords"].split("|")[0], unseen["code"], unseen["name"]]
    for month in (month_a, month_b):
        month.loc[month.index[::25], ["거래처", "적요", "계정코드", "계정과목"]] = new
    frames = {"history": history, "a": month_a, "b": month_b, "history_and_a": pd.concat([history, month_a])}
    return {name: write_ledger(frame, str(root / f"{name}.csv")) for name, frame in frames.items()}, unseen["code"]


def prepared(path: str, root: Path, model: str, label_map: str | None = None) -> str:
    """The tokenized dataset folder of a ledger (128 tokens, mis-posting detection off: the lines are clean; a random
    split, as month B replaces valid and test: a time-ordered one would keep month A out of the scratch run's train)."""
    from flows.demo import DEMO_TOKENS
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams

    labels = {"label_map": label_map} if label_map else {}
    params = PrepareParams(input=path, work_dir=str(root), model=model, tokenize=DEMO_TOKENS, labels=labels,
                           split={"by": "random"}, mispostings={"detect": False})  # fmt: skip
    return str(prepare_data(params).dataset.folder)


def valid_on(dataset: str, month: str, dest: Path) -> str:
    """A copy of `dataset` whose valid and test splits are every line of `month` (a dataset of the same label map)."""
    from datasets import DatasetDict, concatenate_datasets

    from contracts.dataset import MANIFEST_FILE, read_tokenized_dataset

    train, scored = read_tokenized_dataset(dataset), read_tokenized_dataset(month)
    lines = concatenate_datasets(list(DatasetDict.load_from_disk(scored.path).values()))
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(train.folder, dest, ignore=shutil.ignore_patterns("data"))
    data = DatasetDict.load_from_disk(train.path)
    DatasetDict({"train": data["train"], "valid": lines, "test": lines}).save_to_disk(str(dest / "data"))
    rows = {"train": len(data["train"]), "valid": len(lines), "test": len(lines)}
    update = {"path": str(dest / "data"), "label_map": str(dest / "label_map.json"),
              "tokenizer": str(dest / "tokenizer"), "rows": rows, "mispostings": None}  # fmt: skip
    (dest / MANIFEST_FILE).write_text(train.model_copy(update=update).model_dump_json(indent=2), encoding="utf-8")
    return str(dest)


def train(
    name: str, dataset: str, model: str, root: Path, steps: int, every: int, learning_rate: float = 5e-4, **options
) -> dict:
    from flows.train import train_model
    from params.train import TrainParams

    shutil.rmtree(root / "runs" / name, ignore_errors=True)
    settings = {"max_steps": steps, "eval_steps": every, "logging_steps": every, "save_steps": 10_000,
                "per_device_train_batch_size": 16, "learning_rate": learning_rate}  # fmt: skip
    started = time.time()
    outcome = train_model(TrainParams(dataset=dataset, model=model, work_dir=str(root), run_name=name,
                                      trainer=settings, **options))  # fmt: skip
    points, probe, _ = curve(outcome.run_dir)
    evals = [{k: p[k] for k in ("step", "accuracy", "f1_macro")} for p in points if "f1_macro" in p]
    return {"name": name, "final": outcome.final_dir, "points": evals, "probe": probe,
            "seconds": round(time.time() - started), "new_codes": outcome.new_codes,
            "replayed": outcome.replayed}  # fmt: skip


def reached(warm: dict, target: float) -> int | None:
    """The first evaluated step at which the warm run's macro-F1 on month B is at least `target`."""
    return next((p["step"] for p in warm["points"] if p["f1_macro"] >= target), None)


def render(results: dict, args, seconds: float, new_code: str) -> str:
    scratch = results["scratch"]
    warm_runs = {k: r for k, r in results.items() if k.startswith("warm")}
    target = scratch["points"][-1]["f1_macro"]
    lines = [
        "# Warm start against from scratch (`python -m bench.warm_start`)",
        "",
        f"One synthetic company: {args.history:,} history lines, months of about {args.month:,} lines; month A and B "
        f"carry a new vendor booked to a new account ({new_code}). Bundled all-MiniLM-L6-v2 at 128 tokens, batch 16, "
        f"{args.steps} steps; the parent and the scratch run at lr 5e-4 (the demo's); both challengers scored on "
        f"every line of month B every {args.eval_every} steps. Written {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
        f" UTC ({seconds / 60:.0f} min for this invocation).",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        "",
        f"The scratch run (history and month A) ends at macro-F1 **{target:.3f}** on month B after {args.steps} steps.",
        "",
    ]
    for name, warm in warm_runs.items():
        step = reached(warm, target)
        share = (
            f"reaches it at step {step}, {step / args.steps:.0%} of the scratch run's" if step else "never reaches it"
        )
        verdict = "meets" if step and step <= args.steps / 3 else "misses"
        lines.append(
            f"- **{name}**: {share}: {verdict} the target of a third; ends at "
            f"{warm['points'][-1]['f1_macro']:.3f}. It knew {len(warm['new_codes'])} new code(s) "
            f"({', '.join(warm['new_codes']) or '-'}) and replayed {warm['replayed']:,} of the parent's train lines."
        )
    header = "| step | scratch acc | scratch macro-F1 | " + " | ".join(f"{n} acc | {n} macro-F1" for n in warm_runs)
    lines += ["", header + " |", "|---|---|---|" + "---|---|" * len(warm_runs)]
    by_step = {n: {p["step"]: p for p in r["points"]} for n, r in warm_runs.items()}
    by_step["scratch"] = {p["step"]: p for p in scratch["points"]}
    for step in sorted({s for points in by_step.values() for s in points}):
        cells = []
        for n in ["scratch", *warm_runs]:
            w = by_step[n].get(step, {})
            cells += [f"{w[k]:.3f}" if k in w else "" for k in ("accuracy", "f1_macro")]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", "Seconds per run: " + ", ".join(f"{k} {r['seconds']}" for k, r in results.items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from training.bundled_model import bundled_model

    args = parse_args(argv)
    root = Path(args.root)
    kept = root / "results.json"
    results = json.loads(kept.read_text(encoding="utf-8")) if args.keep and kept.exists() else {}
    if not results:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    started = time.time()
    model = str(bundled_model(root / "models"))
    files, new_code = months(root, args.history, args.month)
    with prefect_test_harness():
        history = prepared(files["history"], root, model)
        if "scratch" not in results:
            # the parent is evaluated once, at its end: only the challengers' curves on month B matter
            results["parent"] = train("parent", history, model, root, args.steps, args.steps, max_eval_samples=200)
            both = prepared(files["history_and_a"], root, model)
            scratch = valid_on(both, prepared(files["b"], root, model, both + "/label_map.json"), root / "scratch-b")
            results["scratch"] = train("scratch", scratch, model, root, args.steps, args.eval_every)
        parent_map = str(Path(results["parent"]["final"]) / "label_map.json")
        month_a = prepared(files["a"], root, model, parent_map)  # the parent's codes keep their slots
        warm = valid_on(month_a, prepared(files["b"], root, model, month_a + "/label_map.json"), root / "warm-b")
        steps = args.warm_steps or args.steps
        every = args.eval_every if steps == args.steps else max(1, steps // 4)
        runs = [(lr, r, h) for lr in args.warm_lr.split(",") for r in args.replay.split(",")
                for h in args.warm_init.split(",")]  # fmt: skip
        for lr, replay, head in runs:
            name = f"warm lr {lr}" + ("" if steps == args.steps else f", {steps} steps")
            name += ("" if replay == "0.5" else f", replay {replay}") + ("" if head == "parent" else f", head {head}")
            results[name] = train(name.replace(" ", "-").replace(",", ""), warm, model, root, steps, every,
                                  learning_rate=float(lr), warm_start=results["parent"]["final"],
                                  replay=float(replay), head={"warm_init": head})  # fmt: skip
            kept.write_text(json.dumps(results, indent=2), encoding="utf-8")
    Path(args.out).write_text(render(results, args, time.time() - started, new_code), encoding="utf-8")
    print(Path(args.out).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
