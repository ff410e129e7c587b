"""Which rows share a training batch, and what padding that costs. No prefect here.

Every batch is padded to its longest row, so a GPU-hour pays for padded tokens, not ledger tokens. Grouping rows
of similar length (transformers' LengthGroupedSampler: shuffle, cut into mega-batches of 50 batches, sort each by
length) makes the padding within a batch small. Its batches then come longest to shortest within each mega-batch,
a sweep of 50 steps: since a ledger line's length follows its account (taxable lines carry 공급가액 and 부가세),
consecutive steps trained on drifting groups of accounts and valid accuracy swung with that period (bench/
PROBE-START.md). The batches are therefore visited in a shuffled order: the same batches, the same padding, no
sweep.
"""

from typing import Literal

import numpy as np

SamplingStrategy = Literal["random", "group_by_length"]


def token_lengths(dataset) -> np.ndarray:
    """Tokens per row of a tokenized split (its input_ids as stored, i.e. already cut to max_length), from Arrow."""
    import pyarrow.compute as pc

    table = dataset.select_columns(["input_ids"]).with_format("arrow")[:]
    return pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False).astype("int64")


def batch_order(lengths: np.ndarray, batch_size: int, strategy: SamplingStrategy, seed: int = 0) -> np.ndarray:
    """The row order one epoch visits, as the Trainer's sampler for `strategy` draws it."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    if strategy == "random":
        return torch.randperm(len(lengths), generator=generator).numpy()
    return np.asarray(length_grouped_order(lengths.tolist(), batch_size, generator), dtype="int64")


def length_grouped_order(lengths: list[int], batch_size: int, generator) -> list[int]:
    """transformers' length-grouped indices with their batches visited in a random order. The longest batch stays
    first (a batch that does not fit in memory fails at the first step, as transformers intends) and a short last
    batch stays last: the data loader cuts the order into batches from the start, so a short one in the middle
    would split every batch after it in two."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    indices = get_length_grouped_indices(lengths, batch_size, generator=generator)
    full = len(indices) // batch_size
    batches = [indices[b * batch_size : (b + 1) * batch_size] for b in range(full)]
    if full <= 2:
        return indices
    middle = [batches[1 + i] for i in torch.randperm(full - 1, generator=generator).tolist()]
    return [i for batch in [batches[0], *middle] for i in batch] + indices[full * batch_size :]


def padding_cost(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> dict[str, float]:
    """Real tokens, padded tokens (every batch padded to its longest row) and their ratio over one epoch."""
    ordered = np.asarray(lengths, dtype="int64")[order]
    if ordered.size == 0:
        return {"real_tokens": 0, "padded_tokens": 0, "real_share": 1.0, "batches": 0}
    starts = np.arange(0, ordered.size, batch_size)
    longest = np.maximum.reduceat(ordered, starts)
    sizes = np.diff(np.append(starts, ordered.size))
    real, padded = int(ordered.sum()), int((longest * sizes).sum())
    return {"real_tokens": real, "padded_tokens": padded, "real_share": real / padded, "batches": int(starts.size)}


def epoch_padding(lengths: np.ndarray, batch_size: int, strategy: SamplingStrategy, seed: int = 0) -> dict[str, float]:
    """padding_cost of one epoch drawn the way the Trainer draws it."""
    return padding_cost(lengths, batch_order(lengths, batch_size, strategy, seed), batch_size)


def length_grouped_sampler(dataset, batch_size: int, seed: int):
    """Length-grouped batches over a split, lengths read from Arrow (the Trainer's own fallback reads every row's
    input_ids through Python: minutes on a million-line ledger)."""
    return EpochSeededLengthGroupedSampler(batch_size, token_lengths(dataset).tolist(), seed)


class EpochSeededLengthGroupedSampler:
    """The Trainer's length grouping (shuffle, mega-batches, sort) drawn from seed + epoch.

    The Trainer calls set_epoch before each epoch, so an epoch's order is a function of the seed and the epoch
    only: a run resumed mid-epoch draws the same order and skips exactly the batches it trained on (as accelerate's
    seedable random sampler does for random batches). transformers' own LengthGroupedSampler draws from torch's
    global generator, whose state at a resume is the checkpoint's, not the epoch start's.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        self.batch_size, self.lengths, self.seed, self.epoch = batch_size, lengths, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(length_grouped_order(self.lengths, self.batch_size, generator))
