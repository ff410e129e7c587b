"""P3 training steps/s through the DeepSpeed launcher vs the same Trainer in-process; P5 prediction rows/s vs a
bare forward loop. Both on the tiny model and a small synthetic dataset prepared here."""

import json
import os
import time
from pathlib import Path

from bench.common import Table, child_env, prefect_server, run_child

P3_TARGET, P5_TARGET = 0.9, 0.9
PREDICT_ROWS = 5_000
STEPS, SKIP = 80, 10  # steps per run; the first SKIP are warm-up, left out of the steady rate
TRAINER = {
    "max_steps": STEPS,
    "per_device_train_batch_size": 16,
    "logging_steps": 1,
    "save_steps": 10_000,
    "eval_steps": 10_000,
    "learning_rate": 1e-3,
}


def steady_rate(progress: Path, started: float) -> dict:
    """Steps/s between the log at step SKIP and the last log; start-up = launch to the first logged step."""
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    logs = [e for e in events if e["event"] == "log" and "loss" in e.get("metrics", {})]
    first = next(e for e in logs if e["step"] >= SKIP)
    last = logs[-1]
    return {
        "steps_per_s": (last["step"] - first["step"]) / (last["time"] - first["time"]),
        "startup_s": logs[0]["time"] - started,
        "steps": last["step"],
    }


def train_launcher(spec: dict) -> dict:
    """The product path: train_model flow -> deepspeed launcher -> `-m training` subprocess."""
    from flows.train import train_model
    from params.train import TrainParams

    params = TrainParams(
        dataset=spec["dataset"],
        model=spec["model"],
        work_dir=spec["work_dir"],
        run_name="bench-launcher",
        max_eval_samples=64,
        trainer=TRAINER,
    )
    started = time.time()
    outcome = train_model(params)
    rate = steady_rate(Path(outcome.final_dir).parent / "progress.jsonl", started)
    return {**rate, "run_dir": str(Path(outcome.final_dir).parent), "flow_s": time.time() - started}


def train_inprocess(spec: dict) -> dict:
    """The same run.yaml (same DeepSpeed config, callbacks, data) run by the training program in this process
    (the program writes progress.jsonl only; MLflow is the flow's business)."""
    import yaml

    from training.__main__ import main
    from training.launcher import free_port

    config = yaml.safe_load((Path(spec["run_dir"]) / "run.yaml").read_text())
    out = Path(spec["work_dir"]) / "inprocess"
    config.update(output_dir=str(out), progress_file=str(out / "progress.jsonl"), resume_from=None)
    out.mkdir(parents=True)
    path = out / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    os.environ.update(
        {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    )
    started = time.time()
    main(["--config", str(path)])
    return steady_rate(out / "progress.jsonl", started)


def predict(spec: dict) -> dict:
    """Our Predictor.predict() (tokenize, length-sorted batches, top-k, progress) vs a bare forward loop, same model."""
    import pandas as pd
    import torch
    from prefect import flow

    from monitor.progress import ProgressArtifact
    from scoring.predictor import Predictor
    from tasks.predict import load_run

    run = load_run(spec["run_dir"])
    size, max_length = 32, 256
    predictor = Predictor.open(run.model_dir, max_length)  # the bare loop's cut, so both do the same work
    model, tokenizer = predictor.load()
    texts = pd.read_parquet(spec["texts"], columns=["text"])["text"].head(PREDICT_ROWS).tolist()

    def bare() -> None:
        with torch.inference_mode():
            for i in range(0, len(texts), size):
                batch = tokenizer(
                    texts[i : i + size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                )
                model(**batch).logits.argmax(-1)

    @flow(name="bench_classify")
    def ours() -> None:
        progress = ProgressArtifact("bench-predict-progress", len(texts), "rows classified")
        predictor.predict(texts, 3, size, progress.update)

    timings = {"bare": [], "ours": []}
    for _ in range(2):  # alternate, keep the best of each: the two share the machine's noise
        for name, fn in (("bare", bare), ("ours", ours)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in timings.items()}
    return {
        "rows": len(texts),
        "bare_rows_per_s": len(texts) / best["bare"],
        "ours_rows_per_s": len(texts) / best["ours"],
        "timings_s": timings,
    }


KINDS = {"train_launcher": train_launcher, "train_inprocess": train_inprocess, "predict": predict}


def bench_model(root: Path, model: str, table: Table) -> dict:
    """Prepare a 10k-row ledger, train it both ways, then predict its texts both ways."""
    # a running server for both ways: an ephemeral one would add its background work to the launcher side only
    with prefect_server(root / "prefect-model", root / "logs" / "prefect-model-server.log") as api:
        return measure_model(root, model, table, child_env(root / "prefect-model", api))


def measure_model(root: Path, model: str, table: Table, env: dict[str, str]) -> dict:
    from bench.data_flow import write_bench_ledger

    logs, work = root / "logs", str(root / "work-model")
    ledger = write_bench_ledger(root, 10_000)
    prepared = run_child(
        {"kind": "prepare", "input": ledger, "work_dir": work, "model": model}, env, logs / "model-prepare.log"
    ).report
    spec = {"dataset": prepared["dataset"], "model": model, "work_dir": work}
    launched = run_child({"kind": "train_launcher", **spec}, env, logs / "train-launcher.log").report
    inproc = run_child(
        {"kind": "train_inprocess", **spec, "run_dir": launched["run_dir"]}, env, logs / "train-inprocess.log"
    ).report
    p3 = launched["steps_per_s"] / inproc["steps_per_s"]
    table.add(
        "P3 training steps/s, launcher vs in-process",
        f"{launched['steps_per_s']:.2f} vs {inproc['steps_per_s']:.2f} steps/s (batch 16, steps {SKIP}-{STEPS}); "
        f"start-up to first step {launched['startup_s']:.1f} s (flow + launcher) vs {inproc['startup_s']:.1f} s",
        p3,
        f">= {P3_TARGET}x",
        p3 >= P3_TARGET,
    )
    pred = run_child(
        {"kind": "predict", "run_dir": launched["run_dir"], "texts": prepared["texts"]}, env, logs / "predict.log"
    ).report
    p5 = pred["ours_rows_per_s"] / pred["bare_rows_per_s"]
    table.add(
        "P5 batch prediction rows/s vs bare forward loop",
        f"{pred['ours_rows_per_s']:.0f} vs {pred['bare_rows_per_s']:.0f} rows/s ({pred['rows']:,} texts, batch 32)",
        p5,
        f">= {P5_TARGET}x",
        p5 >= P5_TARGET,
    )
    return {"train_launcher": launched, "train_inprocess": inproc, "predict": pred}
