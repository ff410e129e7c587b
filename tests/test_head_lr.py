"""The head's learning rate: 1/RMS of what it reads (training/head.py), applied by WeightedTrainer's optimizer."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from training.head import MAX_MULTIPLIER, feature_rms, lr_multiplier, settle_head_lr
from training.trainer import WeightedTrainer, is_head

BASE_LR = 1e-3


def test_feature_rms_is_root_mean_square_without_float16_overflow():
    # given features whose squares overflow float16 (300**2 > 65504)
    features = np.full((4, 8), 300, dtype=np.float16)
    # when the RMS is measured, then it is exact
    assert feature_rms(features) == pytest.approx(300.0)
    # and on mixed signs it is sqrt(mean of squares)
    assert feature_rms(np.array([[3.0, -4.0]])) == pytest.approx(np.sqrt(12.5))


@pytest.mark.parametrize(
    ("rms", "expected"),
    [
        (0.07, 1 / 0.07),  # a sentence encoder's mean-pooled states: ~14x
        (0.5, 2.0),
        (1.0, 1.0),
        (3.0, 1.0),  # large features never slow the head below the trainer's rate
        (1e-4, MAX_MULTIPLIER),  # tiny features never push it past the cap
        (0.0, MAX_MULTIPLIER),  # a dead encoder: capped, no division by zero
    ],
)
def test_multiplier_is_inverse_rms_within_bounds(rms, expected):
    # given the RMS of the head's input and no requested multiplier
    # when the multiplier is decided, then it is 1/RMS clipped to [1, MAX_MULTIPLIER]
    assert lr_multiplier(rms, None) == pytest.approx(expected)


@pytest.mark.parametrize("requested", [0.5, 1.0, 3.0, 250.0])
def test_requested_multiplier_wins(requested):
    # given a multiplier the user asked for, even outside the automatic bounds
    # when decided for features of any scale, then the request is what is used
    assert lr_multiplier(0.07, requested) == requested
    assert lr_multiplier(5.0, requested) == requested


def test_settle_decides_from_a_new_rms(tmp_path):
    # given a saved decision from an earlier attempt, and a newly measured RMS
    path = tmp_path / "head_lr.json"
    path.write_text(json.dumps({"feature_rms": 0.05, "lr_multiplier": 20.0}))
    # when settled
    decided = settle_head_lr(path, 0.25, None)
    # then the new measurement decides
    assert decided == {"feature_rms": 0.25, "lr_multiplier": pytest.approx(4.0)}


def test_settle_reads_back_the_saved_decision_on_resume(tmp_path):
    # given a run that decided x20 and saved it
    path = tmp_path / "head_lr.json"
    path.write_text(json.dumps({"feature_rms": 0.05, "lr_multiplier": 20.0}))
    # when it resumes (no new measurement)
    decided = settle_head_lr(path, None, None)
    # then the saved decision is kept, not the x1 a missing RMS would give
    assert decided == {"feature_rms": 0.05, "lr_multiplier": 20.0}


def test_settle_without_file_or_rms_uses_the_request_or_one(tmp_path):
    # given no saved decision and no measurement
    path = tmp_path / "head_lr.json"
    # when settled, then the requested multiplier is used, or x1 without one
    assert settle_head_lr(path, None, 8.0) == {"feature_rms": None, "lr_multiplier": 8.0}
    assert settle_head_lr(path, None, None) == {"feature_rms": None, "lr_multiplier": 1.0}


def test_settle_with_rms_and_request_keeps_the_request(tmp_path):
    # given a measured RMS and a requested multiplier
    # when settled, then the RMS is recorded and the request is the multiplier
    assert settle_head_lr(tmp_path / "head_lr.json", 0.07, 5.0) == {"feature_rms": 0.07, "lr_multiplier": 5.0}


# --- WeightedTrainer.create_optimizer and is_head ---


@pytest.mark.parametrize(
    "name",
    [
        "classifier.weight",
        "classifier.bias",
        "base_model.model.classifier.modules_to_save.default.weight",
        "base_model.model.classifier.modules_to_save.default.bias",
        "base_model.model.score.modules_to_save.default.weight",
        "model.classifier.dense.weight",
    ],
)
def test_is_head_matches_head_parameters_wrapped_or_not(name):
    # given a parameter of a head module, plain or as peft's modules_to_save names it
    # when asked, then it is a head parameter
    assert is_head(name, ("classifier", "score"))


@pytest.mark.parametrize(
    "name",
    [
        "bert.encoder.layer.0.classifierish.weight",
        "bert.encoder.layer.0.my_classifier.weight",
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.default.weight",
        "scores.weight",
        "bert.pooler.dense.weight",
    ],
)
def test_is_head_rejects_lookalikes(name):
    # given parameters whose names only contain a head module's name as part of a component
    # when asked, then they are not head parameters
    assert not is_head(name, ("classifier", "score"))


class TinyClassifier(nn.Module):
    """A body, a frozen embedding, a lookalike of the head and the head itself."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.embed.weight.requires_grad_(False)
        self.body = nn.Linear(4, 4)
        self.classifierish = nn.Linear(4, 4)
        self.classifier = nn.Linear(4, 3)

    def forward(self, input_ids, labels=None):
        return self.classifier(self.classifierish(self.body(self.embed(input_ids).mean(1))))


def make_trainer(tmp_path, multiplier: float, modules: tuple[str, ...] = ("classifier",)):
    from transformers import TrainingArguments

    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), learning_rate=BASE_LR, report_to=[], use_cpu=True, weight_decay=0.01
    )
    return WeightedTrainer(model=TinyClassifier(), args=args, head_modules=modules, head_lr_multiplier=multiplier)


def lr_of(optimizer) -> dict[str, float]:
    """The lr of every parameter's group by parameter name; fails if a parameter is in two groups."""
    seen: dict[int, float] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            assert id(p) not in seen, "a parameter is in two optimizer groups"
            seen[id(p)] = group["lr"]
    return seen


def test_head_parameters_get_their_own_groups_at_the_multiplied_rate(tmp_path):
    # given a trainer whose head (`classifier`) learns 10x faster than the rest
    trainer = make_trainer(tmp_path, 10.0)
    model = trainer.model
    # when the optimizer is created
    optimizer = trainer.create_optimizer()
    by_id = lr_of(optimizer)
    # then every classifier parameter is in a group at 1e-2, every other trainable one at 1e-3
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert id(p) not in by_id, name
        elif name.startswith("classifier."):
            assert by_id[id(p)] == pytest.approx(BASE_LR * 10), name
        else:
            assert by_id[id(p)] == pytest.approx(BASE_LR), name
    # and every trainable parameter is optimised, no group is empty
    assert len(by_id) == sum(p.requires_grad for p in model.parameters())
    assert all(group["params"] for group in optimizer.param_groups)
    # and the head keeps the weight decay split (weight decayed, bias not), the Trainer's own groups intact
    head_groups = [g for g in optimizer.param_groups if g["lr"] == pytest.approx(BASE_LR * 10)]
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay[id(model.classifier.weight)] == 0.01 and decay[id(model.classifier.bias)] == 0.0
    assert decay[id(model.body.weight)] == 0.01 and decay[id(model.body.bias)] == 0.0
    assert len(head_groups) == 2
    # and the Trainer keeps this optimizer
    assert trainer.optimizer is optimizer


def test_multiplier_one_leaves_the_trainers_optimizer(tmp_path):
    # given a multiplier of 1 (or no head modules)
    for trainer in (make_trainer(tmp_path, 1.0), make_trainer(tmp_path, 10.0, modules=())):
        # when the optimizer is created
        optimizer = trainer.create_optimizer()
        # then it is the Trainer's own: its two groups (decay, no decay), all at the trainer's rate
        assert len(optimizer.param_groups) == 2
        assert {g["lr"] for g in optimizer.param_groups} == {BASE_LR}
        assert len(lr_of(optimizer)) == sum(p.requires_grad for p in trainer.model.parameters())


def test_creating_the_optimizer_again_does_not_multiply_the_head_rate_twice(tmp_path):
    # given a trainer whose optimizer was already created: under DeepSpeed, deepspeed_init() calls
    # create_optimizer() and Trainer._prepare_for_training() calls it again (transformers returns the existing one)
    trainer = make_trainer(tmp_path, 10.0)
    trainer.create_optimizer()
    # when it is created a second time
    optimizer = trainer.create_optimizer()
    # then the head is still at 10x the trainer's rate, not 100x
    by_id = lr_of(optimizer)
    assert by_id[id(trainer.model.classifier.weight)] == pytest.approx(BASE_LR * 10)
    assert by_id[id(trainer.model.body.weight)] == pytest.approx(BASE_LR)


def test_a_multiplier_close_to_one_keeps_the_trainers_rate_and_groups():
    # given features of RMS 0.95 (a decoder's normalised states): 1/RMS = 1.05
    # when the multiplier is decided / then it is exactly 1 (no separate head group for a 5% difference)
    assert lr_multiplier(0.95, None) == 1.0 and lr_multiplier(0.5, None) == 2.0


def test_a_resume_reads_the_multiplier_of_the_checkpoint_it_resumes(tmp_path):
    # given a run folder without head_lr.json (a copied run) and a checkpoint that carries its own
    checkpoint = tmp_path / "checkpoints" / "checkpoint-8"
    checkpoint.mkdir(parents=True)
    (checkpoint / "head_lr.json").write_text(json.dumps({"feature_rms": 0.08, "lr_multiplier": 12.5}))
    # when the resumed run settles its head rate without measuring
    decided = settle_head_lr(tmp_path / "head_lr.json", None, None, str(checkpoint))
    # then it is the checkpoint's: the optimizer state there has the head's groups
    assert decided["lr_multiplier"] == 12.5
