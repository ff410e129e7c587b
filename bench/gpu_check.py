"""GPU readiness in one command: real-size shapes through the real training path, its checks and its speed.

    make gpu-check                            (python -m bench.gpu_check: everything, ~10 min on one H100-class GPU)
    python -m bench.gpu_check --only throughput batch --shapes qwen3-0.6b
    python -m bench.gpu_check --rehearse      (no GPU needed: the same steps on shrunken shapes on the CPU)

With no GPU (and no --rehearse) it says so in one line and exits 0. It never runs in CI.

Stages (bench/gpu_checks.py, bench/gpu_runs.py):
  checks      prepare_data -> train_model (deepspeed, bf16, ZeRO-2, every visible GPU) on the small shape: learns,
              checkpoint per rank, SIGKILL + resume_from=latest, plain peft load, predict_ledger on the GPU.
  throughput  per shape and rank count (1 and all GPUs): the training program under the deepspeed launcher,
              tokens/s per GPU (real and padded), samples/s, MFU, peak memory per GPU.
  kernels     the small shape on 1 GPU with use_liger_kernel, then with torch_compile, against the plain run.
  batch       the largest per-device batch of 256-token rows that fits, per shape.
The throughput, kernels and batch stages are Prefect-free (the launcher, the training program and this process);
the checks need the flows, and are reported as skipped where prefect is not installed.

Writes bench/RESULTS-gpu.md and bench/gpu-results.json (bench.training_cost reads its tokens/s for the GPU-hour
estimate); a rehearsal writes under --root only.
"""

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

from bench.common import ROOT

STAGES = ("checks", "throughput", "kernels", "batch")
SHAPES = ("qwen3-0.6b", "qwen3-4b")
OUT_MD, OUT_JSON = ROOT / "bench" / "RESULTS-gpu.md", ROOT / "bench" / "gpu-results.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=STAGES, help="stages to run (default: all)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--rehearse", action="store_true", help="shrunken shapes on the CPU: the script, not speed")
    parser.add_argument("--root", default=str(ROOT / ".cache" / "gpu-check"), help="models, data and run folders")
    parser.add_argument("--batch", type=int, default=16, help="per-device batch of the throughput runs")
    parser.add_argument("--steps", type=int, default=None, help="steps of each throughput run (60; rehearsal 15)")
    return parser.parse_args(argv)


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gpus = visible_gpus()
    if gpus == 0 and not args.rehearse:
        import torch

        print(f"gpu-check: no CUDA GPU visible (torch {torch.__version__}); nothing measured. Run it on a GPU host.")
        return 0
    root = Path(args.root) / ("rehearsal" if args.rehearse else "gpu")
    root.mkdir(parents=True, exist_ok=True)
    out_json = root / "gpu-results.json" if args.rehearse else OUT_JSON
    results = _previous(out_json, args)
    started = time.time()
    models = _models(root, args)
    for stage in args.only or STAGES:
        print(f"gpu-check: {stage} ...", flush=True)
        results[stage] = STAGE_RUNNERS[stage](root, models, max(gpus, 1), args)
        out_json.write_text(json.dumps(results, indent=2, default=str))  # a stage that fails later keeps these
    results["minutes"] = round((time.time() - started) / 60, 1)
    out_json.write_text(json.dumps(results, indent=2, default=str))
    from bench.gpu_report import render

    out_md = root / "RESULTS-gpu.md" if args.rehearse else OUT_MD
    out_md.write_text(render(results), encoding="utf-8")
    from bench.training_cost import FIGURES
    from bench.training_cost import main as render_cost

    if not args.rehearse and FIGURES.exists():  # the GPU-hour estimate of bench/RESULTS.md needs these tokens/s
        render_cost(["--render"])
    failed = [name for name, check in results.get("checks", {}).items() if isinstance(check, dict) and
              check.get("ok") is False]  # fmt: skip
    print(f"gpu-check: results -> {out_md}, {out_json}" + (f"; FAILED checks: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _previous(path: Path, args) -> dict:
    """Results of earlier stages are kept when only some stages run now (a GPU lease is short)."""
    from bench.gpu_report import environment

    kept = json.loads(path.read_text()) if path.exists() and args.only else {}
    return {**kept, **environment(args.rehearse)}


def _models(root: Path, args) -> dict[str, Path]:
    from bench.gpu_models import build_shape, check_round_trip

    models = {}
    for shape in args.shapes:
        models[shape] = build_shape(shape, root / "models", rehearse=args.rehearse)
        check_round_trip(models[shape])
    return models


def run_checks(root: Path, models: dict, gpus: int, args) -> dict:
    from bench import gpu_checks

    if importlib.util.find_spec("prefect") is None:
        return {"skipped": "prefect is not installed here: the flow checks need the project installed"}
    small = models[min(models, key=lambda s: SHAPES.index(s))]
    steps = 30 if args.rehearse else gpu_checks.CHECK_STEPS
    dataset = gpu_checks.prepare(root / "checks", small, rows=1500 if args.rehearse else 6000)
    learns = gpu_checks.check_learns(root / "checks", dataset, small, gpus, steps)
    results = {"shape": small.name, "gpus": gpus, "learns": learns}
    results["resumes"] = gpu_checks.check_resumes(root / "checks", dataset, small, gpus, learns, steps)
    results["peft_loads"] = gpu_checks.check_peft_loads(small, learns["run_dir"])
    results["predicts"] = gpu_checks.check_predicts(root / "checks", learns["run_dir"])
    return results


def _throughput_run(root: Path, model: Path, gpus: int, args, variant: str, **trainer) -> dict:
    from datasets import load_from_disk

    from bench.gpu_models import flops_per_token, peak_tflops
    from bench.gpu_report import device_name
    from bench.gpu_runs import build_dataset, launch, measured_counts, run_config, throughput
    from training.batching import token_lengths

    steps = args.steps or (15 if args.rehearse else 60)
    data = build_dataset(model, root / "data" / model.name, rows=4000 if args.rehearse else 20_000, max_length=256)
    run_dir = root / "runs" / f"{model.name}-{gpus}gpu-{variant}"
    config = run_config(model, data, run_dir, steps, args.batch, **trainer)
    events = launch(config, gpus, root / f"{run_dir.name}.log", timeout=1800)
    lengths = token_lengths(load_from_disk(str(data / "data"))["train"])
    figures = throughput(events, lengths, args.batch, gpus, warm_step=steps // 3)
    flops, peak = flops_per_token(measured_counts(model, data)), peak_tflops(device_name())
    per_gpu = figures["tokens_per_s_padded"] / gpus
    mfu = {k: per_gpu * v / (peak * 1e12) for k, v in flops.items()} if peak else None
    return {"shape": model.name, "gpus": gpus, "variant": variant, "batch": args.batch, **figures,
            "flops_per_token": flops, "mfu": mfu}  # fmt: skip


def run_throughput(root: Path, models: dict, gpus: int, args) -> list[dict]:
    counts = sorted({1, gpus})
    return [_throughput_run(root, model, n, args, "plain") for model in models.values() for n in counts]


def run_kernels(root: Path, models: dict, gpus: int, args) -> list[dict]:
    """use_liger_kernel and torch_compile, each against the plain run of the small shape on one GPU."""
    small = models[min(models, key=lambda s: SHAPES.index(s))]
    runs = []
    for variant, setting in (("liger", {"use_liger_kernel": True}), ("compile", {"torch_compile": True})):
        if variant == "liger" and (args.rehearse or importlib.util.find_spec("liger_kernel") is None):
            why = "no GPU (rehearsal)" if args.rehearse else "liger-kernel not installed (pip install -e '.[gpu]')"
            runs.append({"shape": small.name, "variant": variant, "skipped": why})
            continue
        try:
            runs.append(_throughput_run(root, small, 1, args, variant, **setting))
        except RuntimeError as err:  # a kernel option that does not work here is a finding, not a crash
            runs.append({"shape": small.name, "variant": variant, "failed": str(err)[-600:]})
    return runs


def run_batch(root: Path, models: dict, gpus: int, args) -> list[dict]:
    from bench.gpu_runs import build_dataset, largest_batch

    found = []
    for model in models.values():
        data = build_dataset(model, root / "data" / model.name, rows=4000 if args.rehearse else 20_000, max_length=256)
        found.append({"shape": model.name, **largest_batch(model, data, max_length=256)})
    return found


STAGE_RUNNERS = {"checks": run_checks, "throughput": run_throughput, "kernels": run_kernels, "batch": run_batch}


if __name__ == "__main__":
    sys.exit(main())
