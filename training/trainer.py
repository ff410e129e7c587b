"""The Trainer subclass with a class-weighted loss that gradient accumulation does not rescale twice."""

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
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

    def __init__(self, *args, class_weights: torch.Tensor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        per_example = nn.functional.cross_entropy(logits, labels, weight=weight, reduction="none")
        loss = per_example.mean()
        return (loss, outputs) if return_outputs else loss


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
