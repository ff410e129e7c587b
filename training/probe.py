"""A head that starts where a linear probe ends (LP-FT): one forward pass of the frozen base over a sample of
the train split, a logistic regression on what the head reads, its weights copied into the head.

Fine-tuning then starts from a classifier that already separates the accounts, instead of spending its first
steps learning label frequencies through a random head.
"""

import logging
import time

import numpy as np
import torch
from torch import nn

from training.architecture import ModelConfigError
from training.head import SAMPLE_ROWS, feature_rms
from training.model import HEAD_NAMES
from training.trainer import compute_metrics

LOGGER = logging.getLogger(__name__)
BATCH_SIZE = 32
UNSEEN_MARGIN = 10.0  # logits of label slots the probe never saw sit this far below the mean: they never win


def head_linear(model) -> nn.Linear:
    """The head's last Linear: the one under `score`/`classifier` with one output per label slot."""
    slots = model.config.num_labels
    found = []
    for name, module in model.named_modules():
        parts = name.split(".")
        parts = parts[2:] if parts[:2] == ["base_model", "model"] else parts  # under a peft wrapper
        # peft trains a copy of the head (modules_to_save.default) and keeps the original beside it, unused
        if isinstance(module, nn.Linear) and module.out_features == slots and parts[0] in HEAD_NAMES:
            found += [] if "original_module" in parts else [module]
    if len(found) != 1:
        raise ModelConfigError(f"cannot find one head Linear with {slots} outputs under {HEAD_NAMES}: {len(found)}")
    return found[0]


def last_real_token(input_ids: torch.Tensor, pad_id: int | None) -> torch.Tensor:
    """The position transformers' decoders pool at: the last token that is not padding."""
    if pad_id is None:
        return torch.full((input_ids.shape[0],), input_ids.shape[1] - 1, device=input_ids.device)
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device)
    return (positions * (input_ids != pad_id).int()).argmax(-1)


@torch.no_grad()
def head_inputs(model, input_ids: list[list[int]], collator, device: torch.device) -> np.ndarray:
    """What the head's last Linear reads, per text, with the model frozen (eval mode: no dropout)."""
    linear = head_linear(model)
    captured: list[torch.Tensor] = []
    hook = linear.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    was_training = model.training
    model.eval()
    order = np.argsort([len(ids) for ids in input_ids], kind="stable")  # similar lengths: little padding
    features = np.zeros((len(input_ids), linear.in_features), dtype="float32")
    try:
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            batch = collator([{"input_ids": input_ids[i]} for i in rows])
            ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            model(input_ids=ids, attention_mask=mask)
            x = captured.pop()
            if x.dim() == 3:  # decoders score every position, then keep the last real token's logits
                x = x[torch.arange(x.shape[0], device=device), last_real_token(ids, model.config.pad_token_id)]
            features[rows] = x.float().cpu().numpy()
    finally:
        hook.remove()
        model.train(was_training)
    return features


def sample_rows(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` rows at random with every class at least once (its first row in a shuffled order): more than
    `size` when the classes outnumber it."""
    order = np.random.default_rng(seed).permutation(len(labels))
    _, first = np.unique(labels[order], return_index=True)
    rest = np.setdiff1d(np.arange(len(order)), first)
    chosen = np.concatenate([first, rest[: max(0, size - len(first))]])
    return np.sort(order[chosen])


def fit_probe(x: np.ndarray, y: np.ndarray, class_weight: dict | None, c: float, bias: bool, seed: int):
    """Logistic regression on standardised features, folded back to weights on the raw features.

    Returns (classes, W [classes x features], b [classes]) with logits = x @ W.T + b. A head without a bias
    (decoders' `score`) gets a probe without an intercept, on features scaled but not centred.
    """
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0) if bias else np.zeros(x.shape[1], dtype=x.dtype)
    scale = x.std(axis=0) + 1e-6
    probe = LogisticRegression(C=c, max_iter=500, class_weight=class_weight, fit_intercept=bias, random_state=seed)
    probe.fit((x - mean) / scale, y)
    coef, intercept = probe.coef_, np.broadcast_to(probe.intercept_, (probe.coef_.shape[0],))
    if len(probe.classes_) == 2:  # sklearn keeps one row for two classes: split it symmetrically
        coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weights = coef / scale
    return probe.classes_, weights, intercept - weights @ mean


def copy_into_head(linear: nn.Linear, classes: np.ndarray, weights: np.ndarray, intercept: np.ndarray) -> None:
    """Probe rows into the head; slots the probe never saw get the mean row (and a low bias): they never win."""
    w = np.tile(weights.mean(axis=0), (linear.out_features, 1))
    w[classes] = weights
    linear.weight.data.copy_(torch.as_tensor(w, dtype=linear.weight.dtype))
    if linear.bias is not None:
        b = np.full(linear.out_features, intercept.mean() - UNSEEN_MARGIN)
        b[classes] = intercept
        linear.bias.data.copy_(torch.as_tensor(b, dtype=linear.bias.dtype))


def probe_logits(x: np.ndarray, classes: np.ndarray, w: np.ndarray, b: np.ndarray, slots: int) -> np.ndarray:
    """The probe's logits over every label slot (slots it never saw: -inf)."""
    full = np.full((len(x), slots), -np.inf, dtype="float64")
    full[:, classes] = x @ w.T + b
    return full


def init_head_from_probe(model, splits: dict, collator, settings, class_weights: np.ndarray | None, seed: int):
    """Fit the probe on a train sample and copy it into the head; its own metrics on valid, logits on test.

    Returns (report, test logits or None): the probe is a model in itself, evaluated on the same test split.
    """
    started = time.monotonic()
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    model.to(device)
    train = splits["train"]
    labels = np.asarray(train["label"], dtype="int64")
    rows = sample_rows(labels, settings.probe_samples, seed)
    x = head_inputs(model, train.select(rows)["input_ids"], collator, device)
    y = labels[rows]
    weight = None if class_weights is None else {int(k): float(class_weights[k]) for k in np.unique(y)}
    linear = head_linear(model)
    classes, w, b = fit_probe(x, y, weight, settings.probe_c, linear.bias is not None, seed)
    copy_into_head(linear, classes, w, b)
    report: dict = {"train_rows": int(len(rows)), "classes": int(len(classes)), "feature_rms": feature_rms(x)}
    test_logits = None
    for name in ("valid", "test"):
        part = splits.get(name)
        if part is None or not len(part):
            continue
        features = head_inputs(model, part["input_ids"], collator, device)
        logits = probe_logits(features, classes, w, b, linear.out_features)
        report[name] = compute_metrics((logits, np.asarray(part["label"])))
        test_logits = logits if name == "test" else test_logits
    report["seconds"] = round(time.monotonic() - started, 1)
    LOGGER.info("head from a linear probe on %d train rows: %s", len(rows), report)
    return report, test_logits


def measure_head_input(model, train, collator, seed: int) -> float:
    """RMS of what the head reads, on a sample of the train split (when no probe measured it)."""
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    model.to(device)
    rows = sample_rows(np.asarray(train["label"], dtype="int64"), SAMPLE_ROWS, seed)
    return feature_rms(head_inputs(model, train.select(rows)["input_ids"], collator, device))
