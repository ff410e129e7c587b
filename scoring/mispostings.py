"""Suspected mis-postings: the labelled lines whose written code is unlikely under out-of-sample probabilities.

Every line is scored by a model that never saw it (K folds), then cleanlab's confident learning
(`cleanlab.filter.find_label_issues`) picks the lines whose given code disagrees with what the other lines say
about lines like it. It finds a slip that goes against the ledger's habit; it cannot find a habit that is wrong
(an account always booked to the same wrong code looks right), nor judge codes with too few lines.
No prefect, no pandas I/O: arrays in, a frame out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

PREDICT_BLOCK = 50_000  # held-out lines scored at once
KEPT_WHOLE = 50  # a sampled fold still fits on every line of a code up to this many, so rare codes keep a score


def out_of_sample_probs(
    texts: pd.Series,
    labels: np.ndarray,
    fit: Callable,
    folds: int,
    seed: int,
    progress: Callable | None = None,
    fit_lines: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [lines, classes], classes): each line scored by a model fitted on the other folds.

    `labels` may be any ints (label slots); columns follow `classes` (sorted). A class absent from a fold's training
    part gets probability 0 on that fold's lines, which is why rare codes are not judged (find_suspects).
    With `fit_lines`, each fold's model is fitted on at most about that many of the other folds' lines
    (`sample_for_fit`); every line is still scored.
    """
    from sklearn.model_selection import StratifiedKFold

    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    probs = np.zeros((len(y), len(classes)), dtype="float32")  # 1M lines x 120 codes: 0.5 GB, not 1
    # stratified on the codes that can be; the rare ones only ever fall where the folds put them
    strata = np.where(np.bincount(y)[y] >= folds, y, -1)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rng = np.random.default_rng(seed)
    for done, (train, held) in enumerate(splitter.split(np.zeros(len(y)), strata), start=1):
        if fit_lines is not None:
            train = sample_for_fit(train, y, fit_lines, rng)
        model = fit(texts.iloc[train], y[train])
        for start in range(0, len(held), PREDICT_BLOCK):  # a block's features and probabilities, not a fold's
            block = held[start : start + PREDICT_BLOCK]
            probs[np.ix_(block, model.classes_)] = model.predict_proba(texts.iloc[block])
        if progress is not None:
            progress(done)
    return probs, classes


def folds_for(lines: int, folds: int, fit_lines: int) -> int:
    """The fewest folds (2 to `folds`) whose models are as large as `folds` folds would fit under `fit_lines`: once
    every fold's other lines exceed the sample, more folds only add fits of the same size."""
    wanted = min(fit_lines, other_lines(lines, folds))
    return next(k for k in range(2, folds + 1) if other_lines(lines, k) >= wanted or k == folds)


def other_lines(lines: int, folds: int) -> int:
    """How many lines a fold's model can fit on: those of the other folds."""
    return lines * (folds - 1) // folds


def sample_for_fit(positions: np.ndarray, y: np.ndarray, lines: int, rng: np.random.Generator) -> np.ndarray:
    """At most about `lines` of `positions` (sorted), each code in proportion to its lines but never below
    min(its lines, KEPT_WHOLE): the fit's cost grows with its lines (lbfgs over every code), the scoring's does not.
    """
    if len(positions) <= lines:
        return positions
    codes = y[positions]
    counts = np.bincount(codes)
    quota = np.maximum(np.minimum(counts, KEPT_WHOLE), np.floor(counts * (lines / len(positions))).astype("int64"))
    order = np.lexsort((rng.random(len(positions)), codes))  # by code, shuffled within each code
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(positions), dtype="int64")
    rank[order] = np.arange(len(positions)) - starts[codes[order]]
    return np.sort(positions[rank < quota[codes]])


def find_suspects(
    labels: np.ndarray,
    probs: np.ndarray,
    classes: np.ndarray,
    min_class_rows: int,
    max_written_probability: float,
    trusted: np.ndarray | None = None,
) -> pd.DataFrame:
    """The suspected lines, most suspicious first: position, label (written), suggested, p_written, p_suggested,
    rank (1 = most suspicious).

    A line is suspected when confident learning flags it AND its written code had at most
    `max_written_probability` out of sample: confident learning alone also flags the lines of two accounts a ledger
    tells apart only weakly (a 제조 and a 판관 twin), where the written code is plausible, only not the likeliest.
    Lines of codes with fewer than `min_class_rows` lines, and `trusted` lines (confirmed by an accountant), are
    never suspected.
    """
    from cleanlab.filter import find_label_issues

    columns = ["position", "label", "suggested", "p_written", "p_suggested", "rank"]
    y = np.searchsorted(classes, np.asarray(labels))
    judged = np.bincount(y, minlength=len(classes))[y] >= min_class_rows
    if trusted is not None:
        judged &= ~np.asarray(trusted, dtype=bool)
    if len(classes) < 2 or judged.sum() == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c.startswith("p_") else "int64") for c in columns})
    with warnings.catch_warnings():  # "too few examples in class": those lines are not judged (`judged`)
        warnings.filterwarnings("ignore", message="May not flag all label issues", category=UserWarning)
        flagged = find_label_issues(y, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    p_written = probs[np.arange(len(y)), y]
    suspected = np.flatnonzero(flagged & judged & (p_written <= max_written_probability))
    others = probs[suspected].copy()
    others[np.arange(len(suspected)), y[suspected]] = -1.0  # the suggestion is never the written code
    suggested = others.argmax(axis=1)
    p_suggested = probs[suspected, suggested]
    out = pd.DataFrame(
        {
            "position": suspected.astype("int64"),
            "label": classes[y[suspected]].astype("int64"),
            "suggested": classes[suggested].astype("int64"),
            "p_written": p_written[suspected].astype("float64"),
            "p_suggested": p_suggested.astype("float64"),
        }
    )
    # most suspicious first: the widest gap between the suggestion and the written code (log odds)
    gap = np.log(out["p_suggested"] + 1e-9) - np.log(out["p_written"] + 1e-9)
    out = out.assign(gap=gap).sort_values(["gap", "position"], ascending=[False, True]).drop(columns="gap")
    out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    return out.reset_index(drop=True)[columns]


def model_second_opinion(
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    earlier: dict[str, np.ndarray],
    min_class_rows: int,
    max_written_probability: float,
) -> pd.DataFrame:
    """The trained model's own suspects among the lines it never trained on (valid and test): `splits` maps a split
    to (probabilities over every label slot, written labels). Columns: split, position (into the split), label,
    suggested, p_written, p_suggested, rank, and `earlier`: whether the prepare-time K-fold suspected it too
    (`earlier` maps a split to that mask).

    A second opinion only: the model judging the lines its own promise is scored on would leave out its confident
    mistakes with the mis-postings, and promise more than it delivers (README, "Mis-postings").
    """
    names = [name for name, part in splits.items() if part is not None and len(part[1])]
    if not names:
        return find_suspects(np.zeros(0, "int64"), np.zeros((0, 1)), np.arange(1), 1, 1.0).assign(
            split=pd.Series(dtype="str"), earlier=pd.Series(dtype="bool")
        )
    probs = np.concatenate([splits[n][0] for n in names])
    labels = np.concatenate([splits[n][1] for n in names]).astype("int64")
    # only the slots these lines were written with or point to: cleanlab needs examples of every class it is given
    slots = np.union1d(labels, probs.argmax(axis=1))
    kept = probs[:, slots] / np.clip(probs[:, slots].sum(axis=1, keepdims=True), 1e-12, None)
    found = find_suspects(labels, kept, slots, min_class_rows, max_written_probability)
    sizes = [len(splits[n][1]) for n in names]
    before = np.concatenate([_mask(earlier.get(n), size) for n, size in zip(names, sizes, strict=True)])
    at = found["position"].to_numpy()
    starts = np.cumsum([0] + sizes)
    which = np.searchsorted(starts, at, side="right") - 1
    return found.assign(split=np.asarray(names, dtype=object)[which], position=at - starts[which], earlier=before[at])


def _mask(mask: np.ndarray | None, rows: int) -> np.ndarray:
    out = np.zeros(rows, dtype=bool)
    if mask is not None:
        out[: min(rows, len(mask))] = np.asarray(mask, dtype=bool)[:rows]
    return out
