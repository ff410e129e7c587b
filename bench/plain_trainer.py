"""The parity check: a plain `transformers` Trainer on the product's tokenized dataset, nothing of ours.

    python -m bench.plain_trainer --dataset DATASET --model MODEL --steps 200 --lr 5e-5 --out plain.json

Full fine-tuning, the architecture's own head and pooling ([CLS] through BERT's pooler), unweighted
cross-entropy, linear schedule with 10% warm-up, no DeepSpeed, no LoRA. Evaluates on the first `--eval-rows`
valid rows every `--eval-every` steps and on the whole test split at the end; writes the curve as JSON.
"""

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, kind, default in (
        ("--dataset", str, None),
        ("--model", str, None),
        ("--out", str, None),
        ("--steps", int, 200),
        ("--lr", float, 5e-5),
        ("--batch", int, 16),
        ("--eval-every", int, 50),
        ("--eval-rows", int, 300),
        ("--seed", int, 42),
    ):
        parser.add_argument(name, type=kind, default=default, required=default is None and name != "--out")
    args = parser.parse_args()
    started = time.time()

    from datasets import load_from_disk
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    data = load_from_disk(args.dataset)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    slots = data["train"].features["label"].num_classes
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=slots)

    def metrics(pred) -> dict:
        guess = pred.predictions.argmax(-1)
        return {
            "accuracy": accuracy_score(pred.label_ids, guess),
            "f1_macro": f1_score(pred.label_ids, guess, average="macro", zero_division=0),
        }

    curve: list[dict] = []

    class Curve(TrainerCallback):
        def on_evaluate(self, args_, state, control, metrics=None, **kwargs):
            curve.append({"step": state.global_step, "seconds": round(time.time() - started, 1), **(metrics or {})})

    keep = ["input_ids", "label"]
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=args.out + ".trainer",
            max_steps=args.steps,
            per_device_train_batch_size=args.batch,
            per_device_eval_batch_size=64,
            learning_rate=args.lr,
            warmup_steps=int(0.1 * args.steps),
            lr_scheduler_type="linear",
            eval_strategy="steps",
            eval_steps=args.eval_every,
            save_strategy="no",
            logging_steps=10,
            report_to=[],
            seed=args.seed,
            use_cpu=True,
        ),
        train_dataset=data["train"].select_columns(keep),
        eval_dataset=data["valid"].select(range(min(args.eval_rows, len(data["valid"])))).select_columns(keep),
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=metrics,
        callbacks=[Curve()],
    )
    trainer.train()
    test = trainer.predict(data["test"].select_columns(keep)).metrics
    out = {"curve": curve, "test": test, "seconds": round(time.time() - started, 1), "args": vars(args)}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2, default=float)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    print(json.dumps({"test": test, "first_loss": losses[:1], "last_loss": losses[-1:]}, default=float))


if __name__ == "__main__":
    main()
