"""Did a model learn? Words for the summary, the log and the UI, from its test predictions and two floors:
always answering the most frequent account, and the linear probe the head started from."""

import numpy as np
from pydantic import BaseModel

MARGIN = 0.02  # within this of a floor is not above it (the probe: or within two standard errors, if more)
BARELY = 0.10  # accuracy gained over the majority class below which a model has not learned enough to use
CONSTANT_SHARE = 0.95  # one account for this share of the rows, where the truth is far more varied: constant
NOISE_DRAWS = 200  # bootstrap resamples of the test split for the standard error of its macro-F1


class Verdict(BaseModel):
    learned: bool
    text: str


def majority_floor(y_true: np.ndarray) -> tuple[float, float]:
    """Accuracy and macro-F1 of answering the test split's most frequent account for every row."""
    from sklearn.metrics import f1_score

    values, counts = np.unique(y_true, return_counts=True)
    majority = values[counts.argmax()]
    guess = np.full_like(y_true, majority)
    return float(counts.max() / len(y_true)), float(f1_score(y_true, guess, average="macro", zero_division=0))


def macro_f1_noise(y_true: np.ndarray, y_pred: np.ndarray, draws: int = NOISE_DRAWS, seed: int = 0) -> float:
    """Standard error of the test split's macro-F1 (bootstrap over its rows): how far it moves by chance alone."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(y_true), size=(draws, len(y_true)))
    scores = [f1_score(y_true[p], y_pred[p], average="macro", zero_division=0) for p in picks]
    return float(np.std(scores))


def fall_below_probe(y_true: np.ndarray, y_pred: np.ndarray, metrics: dict, probe: dict) -> str | None:
    """Where the model ended below the probe it started from by more than MARGIN and more than two standard errors
    of the test split (accuracy: binomial; macro-F1: bootstrap), in words; None when it did not."""
    falls = []
    accuracy_noise = 2 * float(np.sqrt(max(probe["accuracy"] * (1 - probe["accuracy"]), 1e-12) / len(y_true)))
    if metrics["accuracy"] < probe["accuracy"] - max(MARGIN, accuracy_noise):
        falls.append(f"accuracy {metrics['accuracy']:.3f} < {probe['accuracy']:.3f}")
    if metrics["f1_macro"] < probe["f1_macro"] - MARGIN:
        noise = 2 * macro_f1_noise(y_true, y_pred)
        if metrics["f1_macro"] < probe["f1_macro"] - max(MARGIN, noise):
            falls.append(f"macro-F1 {metrics['f1_macro']:.3f} < {probe['f1_macro']:.3f}")
    return ", ".join(falls) or None


def learning_verdict(
    name: str, y_true: np.ndarray, y_pred: np.ndarray, metrics: dict[str, float], probe: dict[str, float] | None
) -> Verdict:
    """Constant predictions, no better than the majority class, or worse than the probe: said in words."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return Verdict(learned=False, text=f"{name}: no test rows, nothing to judge")
    values, counts = np.unique(y_pred, return_counts=True)
    top_share, top = counts.max() / len(y_pred), values[counts.argmax()]
    true_share = np.unique(y_true, return_counts=True)[1].max() / len(y_true)
    accuracy, macro = majority_floor(y_true)
    if len(values) == 1 or (top_share >= CONSTANT_SHARE and true_share < CONSTANT_SHARE - 0.25):
        return Verdict(
            learned=False,
            text=f"{name} did NOT learn: it gives {top_share:.0%} of the test rows the same label slot ({top}); "
            "train longer (trainer.max_steps), check the learning rate, or use another base model",
        )
    if metrics["accuracy"] <= accuracy + MARGIN:
        return Verdict(
            learned=False,
            text=f"{name} did NOT learn: accuracy {metrics['accuracy']:.3f} is no better than always answering the "
            f"most frequent account ({accuracy:.3f})",
        )
    floor = f"majority-class accuracy {accuracy:.3f}, macro-F1 {macro:.3f}"
    if metrics["accuracy"] < accuracy + BARELY:
        return Verdict(
            learned=False,
            text=f"{name} barely learned: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['f1_macro']:.3f} "
            f"({floor}); train longer (trainer.max_steps) or start the head from a probe (head.init: probe)",
        )
    against_probe = f", probe macro-F1 {probe['f1_macro']:.3f} (accuracy {probe['accuracy']:.3f})" if probe else ""
    if probe and (fall := fall_below_probe(y_true, y_pred, metrics, probe)):
        return Verdict(
            learned=False,
            text=f"{name} fell below its starting linear probe: {fall} ({floor}); fine-tuning hurt: lower the "
            "learning rate or train longer",
        )
    if probe and metrics["f1_macro"] < probe["f1_macro"] - MARGIN:
        noise = 2 * macro_f1_noise(y_true, y_pred)
        against_probe += f", below it by less than the test split's noise of +/-{noise:.3f}"
    elif probe and metrics["accuracy"] < probe["accuracy"] - MARGIN:
        against_probe += ", accuracy below it by less than the test split's noise"
    return Verdict(
        learned=True,
        text=f"{name} learned: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['f1_macro']:.3f} "
        f"({floor}{against_probe})",
    )
