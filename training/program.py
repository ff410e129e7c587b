"""The steps of the training program: training/__main__.py's main() calls them in order, one phase each.

Every step runs on every rank (ZeRO and DDP need them all); files are written and INFO lines logged on rank 0
only (`is_rank_zero`, and the logging level `setup_logging` sets). torch, transformers and datasets are
imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset, DatasetDict
    from transformers import DataCollatorWithPadding, PreTrainedModel, PreTrainedTokenizerBase

    from contracts.label_map import LabelMap
    from training.architecture import ModelLayout
    from training.callbacks import ProgressFile
    from training.config import RunConfig
    from training.trainer import WeightedTrainer

LOGGER = logging.getLogger("training")


def barrier() -> None:
    """Wait for every rank (nothing to wait for in one process without torch.distributed)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def load_data(config: RunConfig) -> tuple[DatasetDict, int]:
    """The tokenized DatasetDict the flow built and how many of the parent's train lines were replayed into it."""
    from datasets import load_from_disk

    from training.warm_start import with_replay

    dataset, replayed = load_from_disk(config.dataset_path), 0
    if config.warm_start and config.replay > 0:  # the months before, so the new one does not make them forgotten
        seed = config.trainer.seed
        dataset["train"], replayed = with_replay(dataset["train"], config.warm_start, config.replay, seed)
        LOGGER.info(
            "replay: %d lines of the parent's train split beside the new %d", replayed, len(dataset["train"]) - replayed
        )
    return dataset, replayed


def evaluation_split(dataset: DatasetDict, max_samples: int | None) -> Dataset | None:
    """The valid split the Trainer evaluates on during training, its first `max_samples` rows when set."""
    evaluation = dataset.get("valid", None)
    if evaluation is not None and max_samples:
        evaluation = evaluation.select(range(min(max_samples, len(evaluation))))
    return evaluation


def load_tokenizer(path: str) -> tuple[PreTrainedTokenizerBase, DataCollatorWithPadding]:
    """The tokenizer saved with the dataset (pad token already set there) and the collator padding with it."""
    from transformers import AutoTokenizer, DataCollatorWithPadding

    tokenizer = AutoTokenizer.from_pretrained(path)
    return tokenizer, DataCollatorWithPadding(tokenizer)


def class_weights(train: Dataset, label_map: LabelMap, config: RunConfig) -> tuple[np.ndarray | None, dict]:
    """Per-slot loss weights from the train split's labels and their report; (None, {}) when turned off."""
    import numpy as np

    from training.weights import compute_class_weights

    if not config.loss.class_weights:
        return None, {}
    labels = np.asarray(train["label"], dtype="int64")
    return compute_class_weights(labels, label_map.used_ids(), label_map.num_slots, config.loss)


def load_model(config: RunConfig, tokenizer: PreTrainedTokenizerBase) -> tuple[PreTrainedModel, ModelLayout, list[str]]:
    """The base model, its layout and new modules; ModelConfigError when the model or the kernels cannot work."""
    import torch

    from training.arguments import check_kernels
    from training.model import load_base

    model, layout, new_modules = load_base(config, tokenizer)
    check_kernels(config, torch.cuda.is_available())
    return model, layout, new_modules


def warm_start_codes(config: RunConfig, label_map: LabelMap) -> list[str]:
    """The codes new since the parent run; ModelConfigError when its label slots hold other codes."""
    from training.warm_start import new_codes, parent_label_map

    added = new_codes(parent_label_map(config.warm_start), label_map)
    LOGGER.info("warm start from %s; %d new codes: %s", config.warm_start, len(added), ", ".join(added[:10]))
    return added


def probe_head(
    model: PreTrainedModel,
    dataset: DatasetDict,
    evaluation: Dataset | None,
    collator: DataCollatorWithPadding,
    config: RunConfig,
    weights: np.ndarray | None,
    progress: ProgressFile,
) -> dict:
    """The head from a linear probe on the frozen base (LP-FT); its report and test predictions kept on rank 0."""
    import numpy as np

    from contracts.predictions import save_test_predictions
    from training.callbacks import is_rank_zero
    from training.probe import init_head_from_probe

    splits = {"train": dataset["train"], "valid": evaluation, "test": dataset.get("test")}
    probe, probe_test = init_head_from_probe(model, splits, collator, config.head, weights, config.trainer.seed)
    progress.write("probe", step=0, metrics={f"probe/{k}": v for k, v in probe.get("valid", {}).items()})
    if is_rank_zero():
        config.folder.probe.write_text(json.dumps(probe, indent=2))
        if probe_test is not None:
            save_test_predictions(probe_test, np.asarray(dataset["test"]["label"]), config.folder.probe_predictions)
    return probe


def probe_warm_head(
    model: PreTrainedModel,
    dataset: DatasetDict,
    evaluation: Dataset | None,
    collator: DataCollatorWithPadding,
    config: RunConfig,
    weights: np.ndarray | None,
    progress: ProgressFile,
) -> dict:
    """A warm start's head re-fitted by a probe on the parent's tuned features (head.warm_init=probe): over the new
    train lines and every parent train line, so that no code is fitted on the few lines a replay share holds."""
    from datasets import DatasetDict, load_from_disk

    from training.architecture import ModelConfigError
    from training.warm_start import parent_train_path, with_replay

    if not (parent_train_path(config.warm_start) / "train").is_dir():
        raise ModelConfigError(
            f"head.warm_init=probe fits the head on the parent's train lines too, and they are not at "
            f"{parent_train_path(config.warm_start)}/train (another host's work dir, or removed): set head.warm_init "
            "to parent (and replay to 0) to start from the parent's head as it is"
        )
    new_lines = load_from_disk(config.dataset_path)["train"]  # without the replay draw: no line counted twice
    every_line, _ = with_replay(new_lines, config.warm_start, 1.0, config.trainer.seed)
    lines = DatasetDict({**dataset, "train": every_line})
    return probe_head(model, lines, evaluation, collator, config, weights, progress)


def head_lr_multiplier(
    model: PreTrainedModel,
    train: Dataset,
    collator: DataCollatorWithPadding,
    config: RunConfig,
    probe: dict | None,
    resume: str | None,
) -> float:
    """The head's learning rate over the trainer's, matched to what it reads (training/head.py); kept on resume."""
    from training.callbacks import is_rank_zero
    from training.head import settle_head_lr
    from training.probe import measure_head_input

    rms = None
    if resume is None and config.head.lr_multiplier is None:
        rms = probe["feature_rms"] if probe else measure_head_input(model, train, collator, config.trainer.seed)
    head_lr = settle_head_lr(config.folder.head_lr, rms, config.head.lr_multiplier, resume)
    if is_rank_zero():
        config.folder.head_lr.write_text(json.dumps(head_lr))
    LOGGER.info("head learning rate: x%.3g of the trainer's (feature RMS %s)", head_lr["lr_multiplier"], rms)
    return head_lr["lr_multiplier"]


def load_warm_start(model: PreTrainedModel, parent_final: str) -> None:
    """The parent run's adapter and head tensors into the wrapped model; ModelConfigError when they do not fit."""
    from training.warm_start import load_parent

    LOGGER.info("warm start: %d adapter and head tensors loaded", load_parent(model, parent_final))


def build_trainer(
    config: RunConfig,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    collator: DataCollatorWithPadding,
    train: Dataset,
    evaluation: Dataset | None,
    weights: np.ndarray | None,
    new_modules: list[str],
    head_lr: float,
    progress: ProgressFile,
) -> WeightedTrainer:
    """The class-weighted Trainer: progress events (and GPU memory on CUDA) in its logs, the head's own LR."""
    import torch

    from training.arguments import training_arguments
    from training.callbacks import GpuMemoryCallback, ProgressCallback
    from training.model import HEAD_NAMES
    from training.trainer import WeightedTrainer, compute_metrics

    callbacks = [ProgressCallback(progress)]
    if torch.cuda.is_available():
        callbacks.append(GpuMemoryCallback())
    return WeightedTrainer(
        model=model,
        args=training_arguments(config, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        class_weights=None if weights is None else torch.tensor(weights, dtype=torch.float32),
        head_modules=(*HEAD_NAMES, *new_modules),
        head_lr_multiplier=head_lr,
    )


def save_final(
    trainer: WeightedTrainer,
    tokenizer: PreTrainedTokenizerBase,
    config: RunConfig,
    run_yaml: str,
    weights: np.ndarray | None,
    report: dict,
) -> None:
    """final/: every rank takes part in the save (ZeRO gathers), rank 0 writes; barriers on both sides."""
    from contracts.label_map import LABEL_MAP_FILE
    from contracts.run_folder import CLASS_WEIGHTS_FILE, HEAD_CONFIG_DIR, RUN_CONFIG_FILE
    from training.callbacks import is_rank_zero
    from training.model import plain_model

    final = config.final_dir
    barrier()  # the seed's deadlock fix
    trainer.save_model(str(final))
    barrier()
    if not is_rank_zero():
        return
    # the Trainer pickles its arguments beside the weights; final/ is loaded from buckets, so it holds no pickle
    (final / "training_args.bin").unlink(missing_ok=True)
    tokenizer.save_pretrained(str(final))
    # the head's config (num_labels, id2label, pad id): the base model is rebuilt from it to load the adapter
    plain_model(trainer.model).config.save_pretrained(str(final / HEAD_CONFIG_DIR))
    shutil.copy(config.label_map, final / LABEL_MAP_FILE)
    shutil.copy(run_yaml, final / RUN_CONFIG_FILE)
    (final / CLASS_WEIGHTS_FILE).write_text(
        json.dumps({"weights": None if weights is None else [float(w) for w in weights], "report": report}, indent=2)
    )
    if config.folder.probe.exists():
        shutil.copy(config.folder.probe, final / config.folder.probe.name)


def _logits(output) -> np.ndarray:
    """The head's outputs of a Trainer.predict (a tuple when the model returns more than logits)."""
    return output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions


def save_valid_logits(trainer: WeightedTrainer, dataset: DatasetDict, final: Path) -> None:
    """The whole valid split's logits in final/: the flow fits the temperature and the auto / review threshold."""
    from contracts.calibration import VALID_LOGITS_FILE, save_logits
    from training.callbacks import is_rank_zero

    if "valid" in dataset and len(dataset["valid"]):
        output = trainer.predict(dataset["valid"], metric_key_prefix="valid")
        if is_rank_zero():
            save_logits(_logits(output), output.label_ids, final / VALID_LOGITS_FILE)


def evaluate_test(trainer: WeightedTrainer, dataset: DatasetDict, final: Path, progress: ProgressFile) -> None:
    """Metrics on the test split as events; rank 0 keeps its predictions (the per-class report), logits, metrics."""
    from contracts.calibration import TEST_LOGITS_FILE, save_logits
    from contracts.predictions import TEST_PREDICTIONS_FILE, save_test_predictions
    from contracts.run_folder import TEST_METRICS_FILE
    from training.callbacks import is_rank_zero

    if "test" not in dataset:
        return
    output = trainer.predict(dataset["test"], metric_key_prefix="test")
    trainer.log(output.metrics)  # through the callbacks: a `log` event the flow logs to MLflow
    progress.write("test", step=trainer.state.global_step, metrics=output.metrics)
    if is_rank_zero():
        save_test_predictions(_logits(output), output.label_ids, final / TEST_PREDICTIONS_FILE)
        save_logits(_logits(output), output.label_ids, final / TEST_LOGITS_FILE)
        (final / TEST_METRICS_FILE).write_text(json.dumps(output.metrics, indent=2))
