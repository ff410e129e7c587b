"""`make gpu-check`'s measurements, Prefect-free: the training program under the `deepspeed` launcher on a run.yaml
written here (as the flow writes it), and the largest batch that fits, found in this process.

The measuring dataset is the synthetic ledger's rows as text (values joined by " | ", the account columns left
out), tokenized by the shape's tokenizer: its tokens per line are close to the compact template's. Content does
not matter for speed, lengths do; padding follows the product's default length-grouped batches.
"""

import json
from pathlib import Path

import numpy as np

from training.config import RunConfig, write_run_config

LABEL_COLUMNS = ("계정코드", "계정과목")


def build_dataset(tokenizer_dir: Path, out: Path, rows: int, max_length: int, seed: int = 0) -> Path:
    """<out>/data (train split), <out>/label_map.json, <out>/tokenizer: what run.yaml points at."""
    from datasets import Dataset, DatasetDict
    from transformers import AutoTokenizer

    from contracts.label_map import LabelMap, LabelSlot
    from synth.ledger import make_ledger

    if (out / "data" / "dataset_dict.json").exists():
        return out
    ledger = make_ledger(rows, accounts=80, seed=seed)
    codes = ledger["계정코드"].astype("str")
    texts = ledger.drop(columns=list(LABEL_COLUMNS)).astype("str").agg(" | ".join, axis=1).tolist()
    names = sorted(codes.unique())
    slots = [LabelSlot(id=i, code=c, name=c) for i, c in enumerate(names)]
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    full = tokenizer(texts, add_special_tokens=True)["input_ids"]
    ids = {c: i for i, c in enumerate(names)}
    cut, labels = [x[:max_length] for x in full], [ids[c] for c in codes]
    train = Dataset.from_dict({"input_ids": cut, "label": labels, "length": [len(x) for x in full]})
    out.mkdir(parents=True, exist_ok=True)
    DatasetDict({"train": train}).save_to_disk(str(out / "data"))
    LabelMap(num_slots=len(names), dummy_prefix="__unused_", labels=slots).write(out / "label_map.json")
    tokenizer.save_pretrained(out / "tokenizer")
    return out


def run_config(model: Path, data: Path, run_dir: Path, steps: int, batch: int, **trainer) -> RunConfig:
    """The product's defaults (LoRA on the last 6 layers' attention, class-weighted loss, ZeRO-2, grouped batches);
    a random head (no probe: the first step comes sooner) and no evaluation or checkpoint inside the measured steps."""
    from ledger.conf import conf_path

    return RunConfig(
        model_path=str(model),
        dataset_path=str(data / "data"),
        label_map=str(data / "label_map.json"),
        tokenizer_path=str(data / "tokenizer"),
        output_dir=str(run_dir),
        progress_file=str(run_dir / "progress.jsonl"),
        deepspeed_config=str(conf_path("deepspeed_zero2.json")),
        head={"init": "random"},
        trainer={"max_steps": steps, "per_device_train_batch_size": batch, "logging_steps": 5,
                 "save_steps": 10**9, "eval_steps": 10**9, "warmup_steps": 0.0, **trainer},
    )  # fmt: skip


def launch(config: RunConfig, gpus: int, log: Path, timeout: float) -> list[dict]:
    """`deepspeed --num_gpus N -m training --config run.yaml` to the end; its progress events."""
    from training.launcher import free_port, launcher_command, launcher_env, process_group

    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = write_run_config(config, run_dir / "run.yaml")
    port = free_port()
    cmd = launcher_command("deepspeed", gpus, None, str(path), port)
    env = launcher_env("deepspeed", port, {})
    with log.open("w") as out, process_group(cmd, env, lambda line: out.write(line + "\n"), port) as proc:
        proc.wait(timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"launcher exited {proc.returncode} ({' '.join(cmd)}); log {log}:\n{tail}")
    return [json.loads(line) for line in Path(config.progress_file).read_text().splitlines()]


def throughput(events: list[dict], lengths: np.ndarray, batch: int, gpus: int, warm_step: int) -> dict:
    """Steps/s between the first log at or after `warm_step` and the last, turned into samples and tokens per
    second per GPU with the epoch's real and padded tokens per micro-batch (training/batching.py)."""
    from training.batching import epoch_padding

    logs = [e for e in events if e["event"] == "log" and "loss" in e.get("metrics", {})]
    timed = [e for e in logs if e["step"] >= warm_step]
    if len(timed) < 2:
        raise RuntimeError(f"too few logged steps after step {warm_step} to time ({len(timed)})")
    steps = timed[-1]["step"] - timed[0]["step"]
    steps_per_s = steps / (timed[-1]["time"] - timed[0]["time"])
    padding = epoch_padding(lengths, batch, "group_by_length", seed=42)
    per_batch_real = padding["real_tokens"] / padding["batches"]
    per_batch_padded = padding["padded_tokens"] / padding["batches"]
    peaks = [e["metrics"].get("gpu_mem_peak_gb") for e in logs if "gpu_mem_peak_gb" in e["metrics"]]
    losses = [e["metrics"]["loss"] for e in logs]
    return {
        "steps_per_s": steps_per_s,
        "samples_per_s": steps_per_s * batch * gpus,
        "tokens_per_s_real": steps_per_s * per_batch_real * gpus,
        "tokens_per_s_padded": steps_per_s * per_batch_padded * gpus,
        "real_share": padding["real_share"],
        "peak_gb": max(peaks) if peaks else None,
        "loss_first_last": [losses[0], losses[-1]],
        "timed_steps": steps,
    }


def largest_batch(model_dir: Path, data: Path, max_length: int, ceiling: int = 4096) -> dict:
    """Largest per-device batch of max_length-token rows whose forward, backward and AdamW step fit on one GPU,
    with the product's model (LoRA, bf16, class-weighted loss); doubling, then bisection. Without DeepSpeed: ZeRO-2
    partitions only the trainable (LoRA, head) states, a few MB here. On a CPU (rehearsal): one step of 8 rows."""
    import torch

    cuda = torch.cuda.is_available()
    model = _training_model(model_dir, data, "cuda" if cuda else "cpu")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    device = next(model.parameters()).device

    def fits(batch: int) -> float | None:
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            ids = torch.randint(0, min(model.config.vocab_size, 30_000), (batch, max_length), device=device)
            labels = torch.zeros(batch, dtype=torch.long, device=device)
            loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits.float(), labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if not cuda:
                return 0.0
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**30
        except torch.cuda.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            return None

    if not cuda:
        fits(8)
        note = "CPU rehearsal: one step of 8 rows ran, no search"
        return {"largest_batch": None, "note": note, "max_length": max_length}
    good, peak, batch = 0, None, 8
    while batch <= ceiling and (used := fits(batch)) is not None:
        good, peak, batch = batch, used, batch * 2
    bad = batch if batch <= ceiling else None
    while bad is not None and bad - good > max(8, good // 16):
        middle = (good + bad) // 2
        used = fits(middle)
        good, peak, bad = (middle, used, bad) if used is not None else (good, peak, middle)
    return {"largest_batch": good, "peak_gb_at_largest": peak, "ceiling_reached": bad is None,
            "max_length": max_length}  # fmt: skip


def _training_model(model_dir: Path, data: Path, device: str):
    """The classifier as the training program builds it (training/model.py), on the GPU."""
    from transformers import AutoTokenizer

    from training.model import load_base, wrap_for_training

    config = run_config(model_dir, data, data / "unused-run", steps=1, batch=1)
    tokenizer = AutoTokenizer.from_pretrained(data / "tokenizer")
    model, layout, new_modules = load_base(config, tokenizer)
    return wrap_for_training(model, config, layout, new_modules).to(device).train()


def measured_counts(model_dir: Path, data: Path) -> dict[str, int]:
    """parameter_counts of the LoRA-wrapped classifier, built on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from bench.gpu_models import parameter_counts
    from contracts.label_map import LabelMap
    from training.architecture import read_layout
    from training.model import apply_lora

    config = run_config(model_dir, data, data / "unused-run", steps=1, batch=1)
    layout = read_layout(model_dir, config.lora, config.head)
    hf = AutoConfig.from_pretrained(model_dir, num_labels=LabelMap.read(config.label_map).num_slots)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(hf)
    return parameter_counts(apply_lora(model, config.lora, layout, []))
