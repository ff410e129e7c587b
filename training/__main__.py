"""The training program DeepSpeed launches. Everything comes from one YAML file the flow writes.

    deepspeed --num_gpus 2 -m training --config runs/NAME/run.yaml
    torchrun --nproc_per_node 2 -m training --config runs/NAME/run.yaml
    python -m training --config runs/NAME/run.yaml          (one process, no DeepSpeed: debugging)

Progress and metrics: JSON lines in `progress_file` (rank 0), nothing else. This program has no MLflow
client: the flow logs the metrics from that file into its run, so a tracking server that goes away cannot
kill a rank.
"""

import argparse
import logging
import os
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


def configuration_failed(progress, err: Exception) -> int:
    """A setting that cannot work: said once in the progress file (the flow shows it) and the log, never retried."""
    progress.write("fatal", kind="configuration", message=str(err))
    LOGGER.error("%s", err)
    return CONFIGURATION_ERROR


def main(argv: list[str] | None = None) -> int:
    """One training run: the phases below, each a step of training/program.py; 0, or CONFIGURATION_ERROR."""
    args = parse_args(argv)
    start_watchdog()
    setup_logging()
    from transformers import set_seed

    from contracts.label_map import LabelMap
    from training import program
    from training.architecture import ModelConfigError
    from training.callbacks import ProgressFile
    from training.checkpoints import resolve_resume
    from training.config import read_run_config
    from training.model import wrap_for_training

    # config: the run.yaml the flow wrote; events go to its progress file (rank 0)
    config = read_run_config(args.config)
    progress = ProgressFile(config.progress_file)

    # data: the tokenized DatasetDict the flow built (the Trainer drops its text column), with the parent's
    # train lines replayed on a warm start
    try:
        dataset, replayed = program.load_data(config)
    except ModelConfigError as err:
        return configuration_failed(progress, err)
    evaluation = program.evaluation_split(dataset, config.max_eval_samples)

    # tokenizer: the one saved with the dataset
    tokenizer, collator = program.load_tokenizer(config.tokenizer_path)

    # class weights from the train split; dummy slots get a fixed weight
    label_map = LabelMap.read(config.label_map)
    weights, report = program.class_weights(dataset["train"], label_map, config)

    # model: head over every label slot, the family's pooling; a setting that cannot work ends here, unretried.
    # Seeded first: the random head and the LoRA matrices are drawn while the model is built, and torch's default
    # seed differs per process (a tiny batch overfit one launch and collapsed to the class prior the next)
    set_seed(config.trainer.seed)
    resume = resolve_resume(config.resume_from, config.checkpoint_dir)
    warm = resume is None and config.warm_start is not None
    try:
        model, layout, new_modules = program.load_model(config, tokenizer)
        # warm start: the parent run's label slots must hold the same codes (its head rows score them)
        added = program.warm_start_codes(config, label_map) if warm else []
    except ModelConfigError as err:
        return configuration_failed(progress, err)

    # head: from a linear probe on the frozen base (LP-FT), or the parent's when warm (re-fitted by a probe on its
    # tuned features with head.warm_init=probe); a resumed run has its trained head in the checkpoint. Its
    # learning rate is matched to the scale of what it reads
    probe = None
    if config.head.init == "probe" and resume is None and not warm:
        probe = program.probe_head(model, dataset, evaluation, collator, config, weights, progress)
    head_lr = program.head_lr_multiplier(model, dataset["train"], collator, config, probe, resume)
    model = wrap_for_training(model, config, layout, new_modules)
    if warm:
        try:
            program.load_warm_start(model, config.warm_start)
        except ModelConfigError as err:
            return configuration_failed(progress, err)
        progress.write("warm_start", parent=config.warm_start, new_codes=added, replayed=replayed)
        if config.head.warm_init == "probe":  # the month's lines and codes scored from step 0 (bench/WARM-START.md)
            try:
                program.probe_warm_head(model, dataset, evaluation, collator, config, weights, progress)
            except ModelConfigError as err:
                return configuration_failed(progress, err)

    # trainer: progress events from its callbacks, the class-weighted loss, the head's own learning rate
    trainer = program.build_trainer(
        config, model, tokenizer, collator, dataset["train"], evaluation, weights, new_modules, head_lr, progress
    )

    # train (resuming continues the global step and the learning-rate schedule)
    progress.write("resume", checkpoint=resume)
    trainer.train(resume_from_checkpoint=resume)

    # save final/: weights, tokenizer, head config, label map, run.yaml, class weights (rank 0 writes)
    program.save_final(trainer, tokenizer, config, args.config, weights, report)
    progress.write("saved", path=str(config.final_dir), step=trainer.state.global_step)

    # evaluate: the valid split's logits for calibration, the test split's metrics and predictions
    program.save_valid_logits(trainer, dataset, config.final_dir)
    program.evaluate_test(trainer, dataset, config.final_dir, progress)
    program.barrier()
    progress.write("done", step=trainer.state.global_step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
