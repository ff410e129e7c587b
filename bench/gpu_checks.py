"""`make gpu-check`'s checks through the product's own path: prepare_data, then the train_model flow launching the
training program with `deepspeed` (bf16 and ZeRO-2 on a GPU), then predict_ledger. Each check returns what it saw.

  learns:      loss finite and falling on a learnable synthetic ledger (product defaults: LoRA on the last layers,
               class-weighted loss; a random head), a checkpoint saved by every rank, no hang.
  resumes:     a run with every default (the head from a probe) SIGKILLed (launcher and ranks) after its first
               checkpoint, then resume_from=latest: it ends at the first run's global step and learning rate.
  peft_loads:  final/ loads with plain peft (AutoModelForSequenceClassification + PeftModel) and gives logits.
  predicts:    predict_ledger with the run on the GPU (the Predictor's default device when CUDA is there).
"""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np

CHECK_STEPS = 60


def prepare(root: Path, model: Path, rows: int) -> str:
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger

    ledger = write_ledger(make_ledger(rows, 40, 11, dirty=0.02), str(root / "ledger.csv"), "csv", "utf-8")
    result = prepare_data(PrepareParams(input=ledger, work_dir=str(root), model=str(model)))
    return str(Path(result.dataset.path).parent)


def params(root: Path, dataset: str, model: Path, name: str, gpus: int, steps: int, **extra):
    from params.train import TrainParams

    # one schedule for both runs (the resumed one ends where the learning one did); 3e-3 lets 64 rows be fitted
    trainer = {"max_steps": steps, "per_device_train_batch_size": 16, "learning_rate": 3e-3, "logging_steps": 2,
               "save_steps": steps // 3, "eval_steps": steps, "save_total_limit": 2}  # fmt: skip
    return TrainParams(dataset=dataset, model=str(model), work_dir=str(root), run_name=name, num_gpus=gpus,
                       max_eval_samples=200, retries=0, trainer=trainer, **extra)  # fmt: skip


def events(run_dir: Path) -> list[dict]:
    path = run_dir / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_log(run_dir: Path, key: str) -> dict:
    logs = [e for e in events(run_dir) if e["event"] == "log" and key in e.get("metrics", {})]
    return logs[-1] if logs else {}


def check_learns(root: Path, dataset: str, model: Path, gpus: int, steps: int = CHECK_STEPS) -> dict:
    """A 64-row batch of 8 accounts (train = test) the model must fit: the first check an ML engineer runs.
    A random head, so the loss starts at the top (the probe's start would leave it little to fall)."""
    from bench.sanity import tiny_batch_dataset
    from flows.train import train_model

    shutil.rmtree(Path(root) / "runs" / "check-learns", ignore_errors=True)  # a check starts from nothing
    tiny = tiny_batch_dataset(dataset, Path(root) / "tiny-batch", rows=64, classes=8)
    outcome = train_model(params(root, tiny, model, "check-learns", gpus, steps, head={"init": "random"}))
    run_dir = Path(outcome.run_dir)
    losses = [e["metrics"]["loss"] for e in events(run_dir) if e["event"] == "log" and "loss" in e["metrics"]]
    shards = {c.name: rank_shards(c) for c in sorted((run_dir / "checkpoints").glob("checkpoint-*"))}
    finite = bool(losses) and bool(np.isfinite(losses).all())
    window = max(1, len(losses) // 3)  # single batches' losses are noisy: compare the first and last thirds
    falling = len(losses) >= 3 and np.mean(losses[-window:]) < 0.7 * np.mean(losses[:window])
    return {
        "ok": finite and falling and bool(shards) and all(n == gpus for n in shards.values()),
        "losses": [round(x, 4) for x in losses],
        "train_accuracy": outcome.metrics.get("test_accuracy"),  # the test split is the train batch
        "rank_shards_per_checkpoint": shards,
        "global_step": outcome.global_step,
        "run_dir": str(run_dir),
    }


def rank_shards(checkpoint: Path) -> int:
    """Optimizer-state files DeepSpeed wrote in this checkpoint: one per data-parallel rank under ZeRO."""
    return len(list(checkpoint.glob("global_step*/*zero_pp_rank_*_optim_states.pt")))


def check_resumes(root: Path, dataset: str, model: Path, gpus: int, reference: dict, steps: int = CHECK_STEPS):
    """SIGKILL the launcher's process group after the first checkpoint, then resume_from=latest."""
    from flows.train import train_model
    from tasks.train import TrainingFailed

    name = "check-resumes"
    run_dir = Path(root).resolve() / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    killed: dict = {}
    threading.Thread(target=_kill_after_checkpoint, args=(run_dir, killed), daemon=True).start()
    try:
        train_model(params(root, dataset, model, name, gpus, steps))
        interrupted = "ran to the end before it could be killed"
    except TrainingFailed as err:  # the flow fails: its launcher died
        interrupted = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    outcome = train_model(params(root, dataset, model, name, gpus, steps, resume_from="latest"))
    resumed = [e for e in events(run_dir) if e["event"] == "resume"]
    lr_ref = last_log(Path(reference["run_dir"]), "learning_rate")
    lr_res = last_log(run_dir, "learning_rate")
    same_lr = (
        bool(lr_ref)
        and lr_ref.get("step") == lr_res.get("step")
        and np.isclose(lr_ref["metrics"]["learning_rate"], lr_res["metrics"]["learning_rate"], rtol=1e-6, atol=1e-12)
    )
    resumed_from = resumed[-1].get("checkpoint") if resumed else None
    same_end = outcome.global_step == reference["global_step"] and bool(same_lr)
    return {
        "ok": bool(killed) and interrupted.startswith("TrainingFailed") and same_end and resumed_from is not None,
        "killed_after": killed.get("checkpoint"),
        "interrupted_run": interrupted,
        "resumed_from": resumed_from,
        "global_step": [outcome.global_step, reference["global_step"]],
        "last_learning_rate": [lr_res.get("metrics", {}).get("learning_rate"),
                               lr_ref.get("metrics", {}).get("learning_rate")],
        "run_dir": str(run_dir),
    }  # fmt: skip


def _kill_after_checkpoint(run_dir: Path, killed: dict, timeout: float = 1800) -> None:
    from training.launcher import processes_naming

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["event"] == "checkpoint" for e in events(run_dir)):
            time.sleep(1.0)  # the rank-0 event comes once every rank has written its shard
            for pid in processes_naming(str(run_dir / "run.yaml")):
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except ProcessLookupError:
                    continue
            killed["checkpoint"] = [e for e in events(run_dir) if e["event"] == "checkpoint"][-1]["path"]
            return
        time.sleep(0.2)


def check_peft_loads(model: Path, run_dir: str) -> dict:
    """final/ with plain transformers + peft, the way a user outside this project would load it."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    final = Path(run_dir) / "final"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    head = AutoConfig.from_pretrained(final / "head_config")
    base = AutoModelForSequenceClassification.from_pretrained(model, config=head)
    tuned = PeftModel.from_pretrained(base, final).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(final)
    batch = tokenizer(["2024-03-05 | 쿠팡 | 사무용품 | 11,000"], return_tensors="pt").to(device)
    with torch.no_grad():
        logits = tuned(**batch).logits
    trained_b = [p.abs().sum().item() for n, p in tuned.named_parameters() if "lora_B" in n]
    return {"ok": logits.shape[-1] == head.num_labels and bool(torch.isfinite(logits).all()) and any(trained_b),
            "logits_shape": list(logits.shape), "device": device}  # fmt: skip


def check_predicts(root: Path, run_dir: str, rows: int = 500) -> dict:
    import torch

    from flows.predict import predict_ledger
    from params.predict import PredictParams
    from synth.ledger import make_ledger, write_ledger

    ledger = write_ledger(make_ledger(rows, 40, 12), str(root / "next.csv"), "csv", "utf-8")
    started = time.perf_counter()
    summary = predict_ledger(PredictParams(model=run_dir, input=ledger, out=str(root / "predictions.csv"),
                                           work_dir=str(root)))  # fmt: skip
    seconds = time.perf_counter() - started
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"ok": summary.rows_predicted + summary.rows_rejected == rows and summary.rows_predicted > 0,
            "rows_predicted": summary.rows_predicted, "seconds": round(seconds, 1), "device": device}  # fmt: skip
