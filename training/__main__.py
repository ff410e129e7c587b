"""The training program DeepSpeed launches. Everything comes from one YAML file the flow writes.

    deepspeed --num_gpus 2 -m training --config runs/NAME/run.yaml
    torchrun --nproc_per_node 2 -m training --config runs/NAME/run.yaml
    python -m training --config runs/NAME/run.yaml          (one process, no DeepSpeed: debugging)

Progress and metrics: JSON lines in `progress_file` (rank 0), nothing else. This program has no MLflow
client: the flow logs the metrics from that file into its run, so a tracking server that goes away cannot
kill a rank.
"""

import argparse
import json
import logging
import os
import shutil
import sys

LOGGER = logging.getLogger("training")
CONFIGURATION_ERROR = 3  # exit status of a run whose model or settings cannot work (the flow does not retry it)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--config", required=True, help="run.yaml written by the training flow")
    parser.add_argument("--local_rank", type=int, default=-1, help="set by the deepspeed launcher")
    return parser.parse_args(argv)


def setup_logging() -> None:
    """Our INFO lines on rank 0; transformers only warns (its INFO is the whole model config, label by label)."""
    from transformers.utils import logging as hf_logging

    from training.callbacks import is_rank_zero

    level = logging.INFO if is_rank_zero() else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    hf_logging.set_verbosity_warning() if is_rank_zero() else hf_logging.set_verbosity_error()


def start_watchdog(interval: float = 2.0) -> None:
    """Kill this process group when the flow that launched it is gone (a SIGKILLed flow leaves no orphans)."""
    import signal
    import threading
    import time

    parent = int(os.environ.get("ACCOUNT_TAX_PARENT_PID", "0"))
    if parent <= 0:
        return

    def watch() -> None:
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            time.sleep(interval)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _logits(output):
    """The head's outputs of a Trainer.predict (a tuple when the model returns more than logits)."""
    return output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions


def configuration_failed(progress, err: Exception) -> int:
    """A setting that cannot work: said once in the progress file (the flow shows it) and the log, never retried."""
    progress.write("fatal", kind="configuration", message=str(err))
    LOGGER.error("%s", err)
    return CONFIGURATION_ERROR


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_watchdog()
    setup_logging()
    import numpy as np
    import torch
    from datasets import load_from_disk
    from transformers import AutoTokenizer, DataCollatorWithPadding, set_seed

    from contracts.calibration import TEST_LOGITS_FILE, VALID_LOGITS_FILE, save_logits
    from contracts.label_map import LABEL_MAP_FILE, LabelMap
    from contracts.predictions import TEST_PREDICTIONS_FILE, save_test_predictions
    from contracts.run_folder import CLASS_WEIGHTS_FILE, HEAD_CONFIG_DIR, RUN_CONFIG_FILE, TEST_METRICS_FILE
    from training.architecture import ModelConfigError
    from training.arguments import check_kernels, training_arguments
    from training.callbacks import GpuMemoryCallback, ProgressCallback, ProgressFile, is_rank_zero
    from training.checkpoints import resolve_resume
    from training.config import read_run_config
    from training.head import settle_head_lr
    from training.model import HEAD_NAMES, load_base, plain_model, wrap_for_training
    from training.probe import init_head_from_probe, measure_head_input
    from training.trainer import WeightedTrainer, compute_metrics
    from training.warm_start import load_parent, new_codes, parent_label_map, with_replay
    from training.weights import compute_class_weights

    config = read_run_config(args.config)
    progress = ProgressFile(config.progress_file)

    # data: the tokenized DatasetDict the flow built; the text column is dropped by the Trainer
    dataset, replayed = load_from_disk(config.dataset_path), 0
    if config.warm_start and config.replay > 0:  # the months before, so the new one does not make them forgotten
        try:
            dataset["train"], replayed = with_replay(
                dataset["train"], config.warm_start, config.replay, config.trainer.seed
            )
        except ModelConfigError as err:
            return configuration_failed(progress, err)
        LOGGER.info(
            "replay: %d lines of the parent's train split beside the new %d", replayed, len(dataset["train"]) - replayed
        )
    evaluation = dataset.get("valid", None)
    if evaluation is not None and config.max_eval_samples:
        evaluation = evaluation.select(range(min(config.max_eval_samples, len(evaluation))))

    # tokenizer: the one saved with the dataset (pad token already set there)
    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer_path)
    collator = DataCollatorWithPadding(tokenizer)

    # class weights from the train split; dummy slots get a fixed weight
    label_map = LabelMap.read(config.label_map)
    weights, report = None, {}
    if config.loss.class_weights:
        labels = np.asarray(dataset["train"]["label"], dtype="int64")
        weights, report = compute_class_weights(labels, label_map.used_ids(), label_map.num_slots, config.loss)

    # model: head over every label slot, the family's pooling; a setting that cannot work ends here, unretried.
    # Seeded first: the random head and the LoRA matrices are drawn while the model is built, and torch's default
    # seed differs per process (a tiny batch overfit one launch and collapsed to the class prior the next)
    seed = config.trainer.seed
    set_seed(seed)
    resume = resolve_resume(config.resume_from, config.checkpoint_dir)
    try:
        model, layout, new_modules = load_base(config, tokenizer)
        check_kernels(config, torch.cuda.is_available())
    except ModelConfigError as err:
        return configuration_failed(progress, err)

    # warm start: the parent run's label slots must hold the same codes (its head rows score them)
    warm = resume is None and config.warm_start is not None
    if warm:
        try:
            added = new_codes(parent_label_map(config.warm_start), label_map)
        except ModelConfigError as err:
            return configuration_failed(progress, err)
        LOGGER.info("warm start from %s; %d new codes: %s", config.warm_start, len(added), ", ".join(added[:10]))
    # head: from a linear probe on the frozen base (LP-FT), or the parent's when warm; a resumed run has its
    # trained head in the checkpoint
    probe = None
    if config.head.init == "probe" and resume is None and not warm:
        splits = {"train": dataset["train"], "valid": evaluation, "test": dataset.get("test")}
        probe, probe_test = init_head_from_probe(model, splits, collator, config.head, weights, seed)
        progress.write("probe", step=0, metrics={f"probe/{k}": v for k, v in probe.get("valid", {}).items()})
        if is_rank_zero():
            config.folder.probe.write_text(json.dumps(probe, indent=2))
            if probe_test is not None:
                save_test_predictions(probe_test, np.asarray(dataset["test"]["label"]), config.folder.probe_predictions)
    # the head's learning rate, matched to the scale of what it reads (training/head.py); kept on resume
    rms = None
    if resume is None and config.head.lr_multiplier is None:
        rms = probe["feature_rms"] if probe else measure_head_input(model, dataset["train"], collator, seed)
    head_lr = settle_head_lr(config.folder.head_lr, rms, config.head.lr_multiplier, resume)
    if is_rank_zero():
        config.folder.head_lr.write_text(json.dumps(head_lr))
    LOGGER.info("head learning rate: x%.3g of the trainer's (feature RMS %s)", head_lr["lr_multiplier"], rms)
    model = wrap_for_training(model, config, layout, new_modules)
    if warm:
        try:
            LOGGER.info("warm start: %d adapter and head tensors loaded", load_parent(model, config.warm_start))
        except ModelConfigError as err:
            return configuration_failed(progress, err)
        progress.write("warm_start", parent=config.warm_start, new_codes=added, replayed=replayed)

    # trainer
    callbacks = [ProgressCallback(progress)]
    if torch.cuda.is_available():
        callbacks.append(GpuMemoryCallback())
    trainer = WeightedTrainer(
        model=model,
        args=training_arguments(config, has_eval=evaluation is not None),
        train_dataset=dataset["train"],
        eval_dataset=evaluation,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        class_weights=None if weights is None else torch.tensor(weights, dtype=torch.float32),
        head_modules=(*HEAD_NAMES, *new_modules),
        head_lr_multiplier=head_lr["lr_multiplier"],
    )

    # train (resuming continues the global step and the learning-rate schedule)
    progress.write("resume", checkpoint=resume)
    trainer.train(resume_from_checkpoint=resume)

    # save: every rank takes part (ZeRO gathers), rank 0 writes; barriers on both sides (the seed's deadlock fix)
    barrier()
    trainer.save_model(str(config.final_dir))
    barrier()
    if is_rank_zero():
        # the Trainer pickles its arguments beside the weights; final/ is loaded from buckets, so it holds no pickle
        (config.final_dir / "training_args.bin").unlink(missing_ok=True)
        tokenizer.save_pretrained(str(config.final_dir))
        # the head's config (num_labels, id2label, pad id): the base model is rebuilt from it to load the adapter
        plain_model(trainer.model).config.save_pretrained(str(config.final_dir / HEAD_CONFIG_DIR))
        shutil.copy(config.label_map, config.final_dir / LABEL_MAP_FILE)
        shutil.copy(args.config, config.final_dir / RUN_CONFIG_FILE)
        (config.final_dir / CLASS_WEIGHTS_FILE).write_text(
            json.dumps(
                {"weights": None if weights is None else [float(w) for w in weights], "report": report}, indent=2
            )
        )
        if config.folder.probe.exists():
            shutil.copy(config.folder.probe, config.final_dir / config.folder.probe.name)
    progress.write("saved", path=str(config.final_dir), step=trainer.state.global_step)

    # the whole valid split's logits: the flow fits the temperature and the auto / review threshold on them
    if "valid" in dataset and len(dataset["valid"]):
        output = trainer.predict(dataset["valid"], metric_key_prefix="valid")
        if is_rank_zero():
            save_logits(_logits(output), output.label_ids, config.final_dir / VALID_LOGITS_FILE)

    # evaluate on the test split; rank 0 keeps the predictions for the per-class report
    if "test" in dataset:
        output = trainer.predict(dataset["test"], metric_key_prefix="test")
        trainer.log(output.metrics)  # through the callbacks: a `log` event the flow logs to MLflow
        progress.write("test", step=trainer.state.global_step, metrics=output.metrics)
        if is_rank_zero():
            save_test_predictions(_logits(output), output.label_ids, config.final_dir / TEST_PREDICTIONS_FILE)
            save_logits(_logits(output), output.label_ids, config.final_dir / TEST_LOGITS_FILE)
            (config.final_dir / TEST_METRICS_FILE).write_text(json.dumps(output.metrics, indent=2))
    barrier()
    progress.write("done", step=trainer.state.global_step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
