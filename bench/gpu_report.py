"""bench/RESULTS-gpu.md from `make gpu-check`'s results (bench/gpu-results.json)."""

import importlib.metadata as md
import platform
from datetime import UTC, datetime

LIBRARIES = ("torch", "transformers", "peft", "deepspeed", "accelerate", "liger-kernel", "prefect")


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def environment(rehearse: bool) -> dict:
    import torch

    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = md.version(lib)
        except md.PackageNotFoundError:
            versions[lib] = "not installed"
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "rehearsal": rehearse,
        "gpu": device_name(),
        "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "libraries": versions,
    }


def _num(value, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _checks(checks: dict) -> list[str]:
    if not checks:
        return ["Not run."]
    if "skipped" in checks:
        return [f"Skipped: {checks['skipped']}."]
    lines = [f"Shape {checks['shape']}, {checks['gpus']} GPU(s), through prepare_data -> train_model -> "
             "predict_ledger.", "", "| check | result | what was seen |", "|---|---|---|"]  # fmt: skip
    for name in ("learns", "resumes", "peft_loads", "predicts"):
        seen = {k: v for k, v in checks.get(name, {}).items() if k not in ("ok", "run_dir")}
        verdict = {True: "ok", False: "**FAILED**", None: "-"}[checks.get(name, {}).get("ok")]
        lines.append(f"| {name} | {verdict} | `{seen}` |")
    return lines


def _throughput(runs: list[dict]) -> list[str]:
    lines = ["| shape | GPUs | variant | batch/GPU | samples/s | tokens/s per GPU real / padded | real share | "
             "MFU 6N / LoRA work | peak GB per GPU |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in runs:
        if "skipped" in r or "failed" in r:
            lines.append(
                f"| {r['shape']} | 1 | {r['variant']} | - | - | - | - | - | "
                f"{'skipped: ' + r['skipped'] if 'skipped' in r else 'FAILED: ' + r['failed'][-200:]} |"
            )
            continue  # fmt: skip
        mfu = r.get("mfu")
        shown = f"{mfu['six_n']:.1%} / {mfu['lora']:.1%}" if mfu else "no peak known for this GPU"
        per_gpu = f"{r['tokens_per_s_real'] / r['gpus']:,.0f} / {r['tokens_per_s_padded'] / r['gpus']:,.0f}"
        lines.append(f"| {r['shape']} | {r['gpus']} | {r['variant']} | {r['batch']} | {r['samples_per_s']:,.1f} | "
                     f"{per_gpu} | {r['real_share']:.3f} | {shown} | {_num(r.get('peak_gb'), '.1f')} |")  # fmt: skip
    return lines


def render(results: dict) -> str:
    title = "GPU readiness (`make gpu-check`)" + (" - CPU REHEARSAL, not a GPU figure" if results["rehearsal"] else "")
    libs = ", ".join(f"{k} {v}" for k, v in results["libraries"].items())
    lines = [f"# {title}", "", f"Written {results['date']} in {results.get('minutes', '?')} min.", "",
             f"- GPU: {results['gpu']} x {results['gpus']} (CUDA {results['cuda']})",
             f"- python {results['python']}; {libs}", "", "## Checks", "", *_checks(results.get("checks", {})), "",
             "## Throughput (the training program under the deepspeed launcher, ZeRO-2, bf16, product defaults)", "",
             *_throughput([*results.get("throughput", []), *results.get("kernels", [])]), "",
             "## Largest per-device batch at 256 tokens (forward + backward + AdamW step, one GPU)", "",
             "| shape | largest batch | peak GB | note |", "|---|---|---|---|"]  # fmt: skip
    for b in results.get("batch", []):
        note = b.get("note") or ("search ceiling reached" if b.get("ceiling_reached") else "")
        lines.append(f"| {b['shape']} | {_num(b.get('largest_batch'))} | {_num(b.get('peak_gb_at_largest'), '.1f')} "
                     f"| {note} |")  # fmt: skip
    lines += ["", "## How the figures are made", "", HOW]
    return "\n".join(lines) + "\n"


HOW = """\
- Timing: steps/s between the first logged step at or after a third of the run and the last (progress.jsonl
  times), so start-up, the launcher and compilation warm-up are outside it.
- Tokens: per micro-batch, the epoch averages of the length-grouped sampler's batches on the measuring dataset
  (training/batching.py): real = tokens of the rows, padded = batch x its longest row (what the GPU computes).
- MFU = padded tokens/s per GPU x FLOPs per token / the GPU's dense bf16 peak (conf/gpu_shapes.yaml). FLOPs per
  token, attention's sequence terms left out: "6N" = 6 x every matmul weight (the usual convention, a full
  fine-tune's work); "LoRA work" = 2N forward + 2N input gradients of the layers from the first LoRA layer up +
  2N weight gradients of the trainable weights only, i.e. what a LoRA-on-the-last-layers run really computes.
- Peak memory: torch.cuda.max_memory_allocated on rank 0 at each log (GpuMemoryCallback).
- Largest batch: doubling then bisection to within 1/16, one forward + backward + AdamW step each, no DeepSpeed.
"""
