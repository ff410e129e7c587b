"""Which rows share a training batch and what padding costs (training/batching.py), and the Trainer's samplers."""

import numpy as np
import pytest

from training.batching import batch_order, epoch_padding, padding_cost, token_lengths


def test_padding_cost_pads_every_batch_to_its_longest_row():
    # given five rows in two batches of 3 and 2
    lengths = np.array([2, 5, 3, 4, 4])
    # when costed in this order
    cost = padding_cost(lengths, np.arange(5), batch_size=3)
    # then real = 18 tokens, padded = 3 x 5 + 2 x 4 = 23
    assert cost == {"real_tokens": 18, "padded_tokens": 23, "real_share": 18 / 23, "batches": 2}


def test_padding_cost_of_nothing_is_no_waste():
    assert padding_cost(np.array([], dtype=int), np.array([], dtype=int), 8)["real_share"] == 1.0


def test_grouped_batches_waste_less_than_random_and_keep_every_row():
    # given a spread of lengths like a ledger's (50-200 tokens)
    lengths = np.random.default_rng(0).integers(50, 200, size=5000)
    # when one epoch is drawn each way
    random, grouped = (epoch_padding(lengths, 16, s, seed=1) for s in ("random", "group_by_length"))
    order = batch_order(lengths, 16, "group_by_length", seed=1)
    # then grouping pads far less, and the grouped epoch still visits every row exactly once
    assert random["real_share"] < 0.8 < 0.95 <= grouped["real_share"]
    assert sorted(order.tolist()) == list(range(5000))
    assert random["real_tokens"] == grouped["real_tokens"] == lengths.sum()


def test_grouped_batches_come_in_a_shuffled_order_not_a_length_sweep():
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    # given a ledger's spread of lengths, 4,000 rows in batches of 16 (five mega-batches of 50 batches)
    lengths = np.random.default_rng(0).integers(50, 200, size=4000)
    order = batch_order(lengths, 16, "group_by_length", seed=1)
    sweep = np.asarray(get_length_grouped_indices(lengths.tolist(), 16, generator=torch.Generator().manual_seed(1)))
    # then it is transformers' batches, each as short of padding, the longest first ...
    assert padding_cost(lengths, order, 16) == padding_cost(lengths, sweep, 16)
    assert sorted(map(sorted, order.reshape(-1, 16).tolist())) == sorted(map(sorted, sweep.reshape(-1, 16).tolist()))
    assert (order[:16] == sweep[:16]).all()

    # ... visited in a random order: a batch's length no longer predicts the next one's (transformers' sweep does)
    def neighbours(o):
        means = lengths[o].reshape(-1, 16).mean(axis=1)
        return np.corrcoef(means[1:-1], means[2:])[0, 1]

    assert neighbours(sweep) > 0.9 and abs(neighbours(order)) < 0.2


def test_token_lengths_are_read_from_arrow_as_stored():
    from datasets import Dataset

    # given a split whose input_ids were cut at 4 (its `length` column keeps the full length)
    split = Dataset.from_dict({"input_ids": [[1, 2], [1, 2, 3, 4], [5]], "length": [2, 9, 1]})
    # when / then: the lengths a batch pads are the stored ids', not the untruncated ones
    assert token_lengths(split).tolist() == [2, 4, 1]
    assert token_lengths(split.select([2, 0])).tolist() == [1, 2]


@pytest.fixture(scope="module")
def trainer_for():
    """A WeightedTrainer over a 1-layer model and a 40-row split, for a sampling strategy."""
    import torch
    from datasets import Dataset
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

    from training.trainer import WeightedTrainer

    lengths = [3 + (i * 7) % 20 for i in range(40)]
    split = Dataset.from_dict({"input_ids": [[1] * n for n in lengths], "label": [i % 2 for i in range(40)]})
    config = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)

    def build(strategy: str, tmp_path):
        args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4,
                                 train_sampling_strategy=strategy, report_to="none")  # fmt: skip
        return WeightedTrainer(model=model, args=args, train_dataset=split, eval_dataset=split), lengths

    return build


def test_group_by_length_trains_on_length_grouped_batches(trainer_for, tmp_path):
    # given a trainer asked for length-grouped batches
    trainer, lengths = trainer_for("group_by_length", tmp_path)
    # when its train sampler is built and an epoch drawn
    sampler = trainer._get_train_sampler()
    order = list(sampler)
    # then it groups by the stored lengths (read from Arrow, not row by row) and visits every row once
    assert sampler.lengths == lengths and sorted(order) == list(range(40))
    batches = [[lengths[i] for i in order[k : k + 4]] for k in range(0, 40, 4)]
    assert sum(4 * max(b) for b in batches) < sum(4 * max(lengths[k : k + 4]) for k in range(0, 40, 4))


def test_grouped_epoch_order_depends_on_seed_and_epoch_only(trainer_for, tmp_path):
    # given the sampler of a run and the sampler of the same run resumed in a new process
    trainer, _ = trainer_for("group_by_length", tmp_path)
    first, resumed = trainer._get_train_sampler(), trainer._get_train_sampler()
    # when both are set to epoch 3 (the Trainer does so before each epoch), after other draws from torch's generator
    first.set_epoch(3)
    import torch

    torch.manual_seed(1234)
    resumed.set_epoch(3)
    # then they draw the same order (a resumed run skips exactly the batches it trained on), and epochs differ
    assert list(first) == list(resumed)
    resumed.set_epoch(4)
    assert list(first) != list(resumed)


def test_evaluation_keeps_row_order_whatever_the_training_sampler(trainer_for, tmp_path):
    from torch.utils.data import SequentialSampler

    # given a trainer with length-grouped training batches
    trainer, _ = trainer_for("group_by_length", tmp_path)
    # when the evaluation / prediction sampler is built
    sampler = trainer._get_eval_sampler(trainer.eval_dataset)
    # then it reads the split in order (test predictions line up with the test rows)
    assert isinstance(sampler, SequentialSampler) and list(sampler) == list(range(40))


def test_random_strategy_keeps_the_trainers_own_sampler(trainer_for, tmp_path):
    from torch.utils.data import RandomSampler

    trainer, _ = trainer_for("random", tmp_path)
    assert isinstance(trainer._get_train_sampler(), RandomSampler)


def test_shm_buffers_of_the_finished_run_are_removed_and_no_others(tmp_path):
    import os

    from training.launcher import remove_shm_buffers

    # given DeepSpeed's CPU all-reduce buffers of two ranks of our run (port 29500), of another run and another user
    uid = os.getuid()
    ours = [f"deepspeed_allreduce_buffer_{uid}_127.0.0.1_29500_{rank}" for rank in (0, 1)]
    others = [f"deepspeed_allreduce_buffer_{uid}_127.0.0.1_29501_0", f"deepspeed_allreduce_buffer_{uid + 1}_x_29500_0",
              f"deepspeed_allreduce_buffer_{uid}_127.0.0.1_129500_0"]  # fmt: skip
    for name in ours + others:
        (tmp_path / name).write_bytes(b"x")
    # when our run's buffers are removed
    removed = remove_shm_buffers(29500, tmp_path)
    # then exactly ours are gone
    assert sorted(removed) == ours and sorted(p.name for p in tmp_path.iterdir()) == sorted(others)
