"""Metrics and the class-weighted loss of the training program.

The slow test trains a tiny LoRA model twice, once as 2 micro-batches of 2 with gradient accumulation 2 and once as
1 batch of 4, and checks that losses and weights match: the seed project's gradient explosion came from the loss
being scaled a second time under accumulation, which this comparison catches.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch import nn
from transformers import EvalPrediction, TrainingArguments

from training.architecture import read_layout
from training.config import HeadSettings, LoraSettings
from training.model import apply_lora, new_module_names
from training.trainer import WeightedTrainer, compute_metrics

CLASS_WEIGHTS = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0])


# ---- compute_metrics ------------------------------------------------------------------------------------------

LABELS = np.array([0, 1, 2, 2, 3, 3, 3, 4])
PREDS = np.array([0, 2, 2, 2, 3, 3, 0, 0])  # class 1 and 4 never predicted: zero_division matters


def logits_for(preds: np.ndarray, num_labels: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(preds.size, num_labels)).astype("float32")
    logits[np.arange(preds.size), preds] = 10.0
    return logits


def expected_metrics() -> dict[str, float]:
    return {
        "accuracy": accuracy_score(LABELS, PREDS),
        "f1_weighted": f1_score(LABELS, PREDS, average="weighted", zero_division=0),
        "f1_macro": f1_score(LABELS, PREDS, average="macro", zero_division=0),
    }


@pytest.mark.parametrize(
    "eval_pred",
    [
        (logits_for(PREDS), LABELS),
        ((logits_for(PREDS), np.zeros(3)), LABELS),  # the model also returned something else: logits come first
        EvalPrediction(predictions=logits_for(PREDS), label_ids=LABELS),
        (PREDS, LABELS),  # already argmax-ed
    ],
    ids=["logits", "tuple", "eval-prediction", "class-ids"],
)
def test_compute_metrics_matches_sklearn(eval_pred):
    # given: known logits / labels; when
    metrics = compute_metrics(eval_pred)
    # then
    assert metrics == pytest.approx(expected_metrics(), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(5 / 8)
    assert all(isinstance(v, float) for v in metrics.values())


# ---- WeightedTrainer.compute_loss ------------------------------------------------------------------------------


class FixedLogits(nn.Module):
    """A fake classifier: returns given logits (as a parameter) in an object with `.logits`."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, input_ids=None, attention_mask=None):
        return SimpleNamespace(logits=self.logits[: input_ids.shape[0]])


@pytest.fixture
def fake_batch():
    torch.manual_seed(0)
    logits = torch.randn(6, 5)
    labels = torch.tensor([0, 4, 4, 1, 2, 3])
    inputs = {"input_ids": torch.zeros(6, 3, dtype=torch.long), "attention_mask": torch.ones(6, 3), "labels": labels}
    return FixedLogits(logits), inputs, logits, labels


def make_trainer(tmp_path, model, class_weights):
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", disable_tqdm=True)
    return WeightedTrainer(model=model, args=args, class_weights=class_weights)


def test_compute_loss_is_the_mean_of_weighted_per_example_cross_entropy(tmp_path, fake_batch):
    # given
    model, inputs, logits, labels = fake_batch
    trainer = make_trainer(tmp_path, model, CLASS_WEIGHTS)
    # when
    loss, outputs = trainer.compute_loss(model, dict(inputs), return_outputs=True)
    # then: mean_i w[y_i] * CE_i, not torch's sum_i w[y_i] CE_i / sum_i w[y_i]
    ce = nn.functional.cross_entropy(logits, labels, reduction="none")
    expected = (CLASS_WEIGHTS[labels] * ce).mean()
    torch_weighted_mean = nn.functional.cross_entropy(logits, labels, weight=CLASS_WEIGHTS)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    assert abs(loss.item() - torch_weighted_mean.item()) > 1e-3
    assert torch.equal(outputs.logits.detach(), logits)
    assert trainer.model_accepts_loss_kwargs is False


def test_compute_loss_without_weights_is_plain_cross_entropy(tmp_path, fake_batch):
    # given
    model, inputs, logits, labels = fake_batch
    trainer = make_trainer(tmp_path, model, None)
    # when
    loss = trainer.compute_loss(model, dict(inputs))
    # then
    assert loss.item() == pytest.approx(nn.functional.cross_entropy(logits, labels).item(), abs=1e-6)


# ---- loss scaling under gradient accumulation (slow) ----------------------------------------------------------

TEXTS = [
    "2024-01-05 | 쿠팡 | 사무용품 구입 | 11,000원 | 세금계산서",
    "2024-01-06 | GS25 | 야근 식대 | 5,500원 | 카드",
    "2024-02-09 | KT | 인터넷 요금 | 33,000원 | 전자세금계산서",
    "2024-03-01 | 한국전력공사 | 전기요금 | 110,000원",
    "2024-03-15 | 스타벅스 | 회의 다과 | 24,500원 | 카드",
    "2024-04-02 | 대한항공 | 출장 항공권 | 412,000원",
    "2024-04-20 | 교보문고 | 도서 구입 | 18,000원 | 현금영수증",
    "2024-05-11 | SK에너지 | 업무용 차량 주유 | 70,000원",
]
TRAIN_LABELS = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4]


class TorchWeightedMeanTrainer(WeightedTrainer):
    """The wrong loss: torch's weighted mean divides by each micro-batch's weight sum."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = nn.functional.cross_entropy(outputs.logits.float(), labels, weight=self.class_weights)
        return (loss, outputs) if return_outputs else loss


class DoubleScaledTrainer(WeightedTrainer):
    """The seed's bug: the loss divided by the accumulation steps here and again by the Trainer."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True)
        loss = loss / self.args.gradient_accumulation_steps
        return (loss, outputs) if return_outputs else loss


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny 2-layer qwen2 and its tokenizer (pad = eos), plus 16 tokenized ledger lines with 5 labels."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from synth.tiny_model import make_tiny_model

    path = make_tiny_model(tmp_path_factory.mktemp("tiny"), layers=2, hidden=32, vocab_size=600)
    lora = LoraSettings(r=4, alpha=8, dropout=0.0, layers_to_transform=None)  # q/k/v/o of both layers
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.pad_token = tokenizer.eos_token
    encoded = tokenizer(TEXTS * 2, truncation=True, max_length=64)
    dataset = Dataset.from_dict(
        {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "label": TRAIN_LABELS}
    )
    assert len({len(ids) for ids in encoded["input_ids"]}) > 1  # padding really differs between batch sizes
    # one intra-op thread: these matrices are tiny, and on a busy CPU two spinning threads run ~10x slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield SimpleNamespace(
        path=path,
        tokenizer=tokenizer,
        dataset=dataset,
        work=tmp_path_factory.mktemp("runs"),
        lora=lora,
        layout=read_layout(path, lora, HeadSettings()),
    )
    torch.set_num_threads(threads)


def train(tiny, trainer_class, batch_size: int, accumulation: int):
    """3 optimizer steps on the same data and seed; returns the logged losses and the trainable parameters."""
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

    torch.manual_seed(0)  # the head and LoRA A are random: the same seed gives both runs the same start
    model, info = AutoModelForSequenceClassification.from_pretrained(tiny.path, num_labels=5, output_loading_info=True)
    model.config.pad_token_id = tiny.tokenizer.pad_token_id
    model = apply_lora(model, tiny.lora, tiny.layout, new_module_names(info["missing_keys"]))
    args = TrainingArguments(
        output_dir=str(tiny.work / f"{trainer_class.__name__}-{batch_size}x{accumulation}"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        max_steps=3,
        logging_steps=1,
        learning_rate=1e-2,
        seed=0,
        use_cpu=True,
        report_to="none",
        lr_scheduler_type="constant",
        warmup_steps=0,
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
    )
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=tiny.dataset,
        processing_class=tiny.tokenizer,
        data_collator=DataCollatorWithPadding(tiny.tokenizer),
        class_weights=CLASS_WEIGHTS,
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    params = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    assert len(losses) == 3 and params
    return losses, params


@pytest.mark.slow
def test_accumulation_gives_the_same_losses_and_update_as_a_bigger_batch(tiny):
    # given / when: 2 x 2 with accumulation vs 4 x 1, same data, seed and weights
    losses_a, params_a = train(tiny, WeightedTrainer, batch_size=2, accumulation=2)
    losses_b, params_b = train(tiny, WeightedTrainer, batch_size=4, accumulation=1)
    # then: the same loss at every step and the same trained LoRA / head weights
    np.testing.assert_allclose(losses_a, losses_b, rtol=0, atol=1e-5)
    assert params_a.keys() == params_b.keys()
    assert any("lora_A" in name for name in params_a) and any("score" in name for name in params_a)
    for name in params_a:
        torch.testing.assert_close(params_a[name], params_b[name], rtol=0, atol=1e-5, msg=name)
    # and training moved the weights (the comparison is not between two untouched models)
    assert any(not torch.allclose(p, torch.zeros_like(p)) for n, p in params_a.items() if "lora_B" in n)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("wrong_trainer", "params_differ"), [(TorchWeightedMeanTrainer, True), (DoubleScaledTrainer, False)]
)
def test_the_comparison_catches_a_wrongly_scaled_loss(tiny, wrong_trainer, params_differ):
    # given / when: the same two runs with torch's weighted mean (weight-sum normalisation per micro-batch),
    # or with the loss divided by the accumulation steps twice
    losses_a, params_a = train(tiny, wrong_trainer, batch_size=2, accumulation=2)
    losses_b, params_b = train(tiny, wrong_trainer, batch_size=4, accumulation=1)
    # then: the logged losses differ, so the test above is sensitive to such scaling
    assert max(abs(a - b) for a, b in zip(losses_a, losses_b, strict=True)) > 1e-4
    # a constant factor (double scaling) leaves AdamW's update unchanged (and clipping rescales the gradient
    # anyway), so only the logged losses show it; the per-micro-batch normalisation changes the update too
    param_gap = max((params_a[n] - params_b[n]).abs().max().item() for n in params_a)
    assert (param_gap > 1e-4) is params_differ
