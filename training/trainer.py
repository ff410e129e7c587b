"""The Trainer subclass with a class-weighted loss that gradient accumulation does not rescale twice."""

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from torch.utils.data import SequentialSampler
from transformers import Trainer


class WeightedTrainer(Trainer):
    """Cross-entropy weighted per class, averaged over the examples of the micro-batch.

    The seed project's gradient explosion came from the loss being scaled a second time under gradient
    accumulation. Here the model never sees `num_items_in_batch` (model_accepts_loss_kwargs = False) and the
    loss is a per-example mean, so the Trainer's single division by the accumulation steps makes
    accumulation 2 x batch b give the same loss and update as accumulation 1 x batch 2b.
    (torch's weighted `reduction="mean"` divides by the batch's weight sum instead, which differs per
    micro-batch and would break that equality.)
    """

    def __init__(
        self,
        *args,
        class_weights: torch.Tensor | None = None,
        head_modules: tuple[str, ...] = (),
        head_lr_multiplier: float = 1.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.model_accepts_loss_kwargs = False
        self.head_modules, self.head_lr_multiplier = head_modules, head_lr_multiplier

    def create_optimizer(self, model=None):
        """The Trainer's optimizer, with the head's parameters in groups of their own at lr x head_lr_multiplier.

        A head reads features whose scale is the base model's business (a sentence encoder's mean-pooled
        states are ~15x smaller than a decoder's normalised ones); one Adam step moves its logits in
        proportion to that scale, so its learning rate is divided by it (training/head.py).
        """
        fresh = self.optimizer is None  # DeepSpeed's set-up and the Trainer's both ask: split the groups once
        optimizer = super().create_optimizer(model)
        if not fresh or self.head_lr_multiplier == 1.0 or not self.head_modules:
            return optimizer
        opt_model = self.model if model is None else model
        head = {id(p) for n, p in opt_model.named_parameters() if p.requires_grad and is_head(n, self.head_modules)}
        for group in list(optimizer.param_groups):
            moved = [p for p in group["params"] if id(p) in head]
            if moved:
                group["params"] = [p for p in group["params"] if id(p) not in head]
                extra = {k: v for k, v in group.items() if k != "params"}
                optimizer.add_param_group({**extra, "params": moved, "lr": group["lr"] * self.head_lr_multiplier})
        optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
        return optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        per_example = nn.functional.cross_entropy(logits, labels, weight=weight, reduction="none")
        loss = per_example.mean()
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset=None):
        """group_by_length: length-grouped batches, lengths from Arrow, the order a function of seed and epoch
        (training/batching.py)."""
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not hasattr(dataset, "select_columns"):
            return super()._get_train_sampler(train_dataset)
        from training.batching import length_grouped_sampler

        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return length_grouped_sampler(dataset, batch, seed)

    def _get_eval_sampler(self, eval_dataset):
        """Evaluation and prediction read the split in its row order, whatever the training sampler (the Trainer
        would shuffle them under group_by_length, and the test predictions must line up with the test rows)."""
        if eval_dataset is None or self.args.world_size > 1:
            return None  # accelerate shards the split in order across ranks
        return SequentialSampler(eval_dataset)


def is_head(name: str, modules: tuple[str, ...]) -> bool:
    """A parameter of one of the head modules (`classifier`, `score`, newly initialised ones), peft-wrapped or not."""
    dotted = f".{name}."
    return any(f".{module}." in dotted for module in modules)


def compute_metrics(eval_pred) -> dict[str, float]:
    """Accuracy, F1 weighted and F1 macro (zero_division=0: classes never predicted count as 0)."""
    predictions, labels = eval_pred
    logits = predictions[0] if isinstance(predictions, tuple) else predictions
    preds = logits.argmax(axis=-1) if np.ndim(logits) > 1 else logits
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "f1_weighted": float(f1_score(labels, preds, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(labels, preds, average="macro", zero_division=0)),
    }
