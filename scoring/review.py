"""Per predicted line: `auto` or `review`, and why. Vectorised over the whole ledger."""

import numpy as np
import pandas as pd

from contracts.train_profile import normalize_vendors

# reason code -> when it applies (the words an accountant reads are in conf/prediction_output.yaml)
REASONS = {
    "low_confidence": "the calibrated probability of the top code is below the threshold chosen on validation",
    "no_threshold": "validation never reached the target accuracy at any threshold: no line is coded automatically",
    "new_vendor": "the line's vendor never appeared in the training ledger",
    "code_differs": "the ledger already carries an account code and the model predicts another",
    "code_unknown": "the ledger carries an account code the model never trained on",
}
SEPARATOR = ";"


def review_reasons(
    confidence: np.ndarray,
    threshold: float,
    vendor: pd.Series | None = None,
    known_vendors: set[str] | None = None,
    label_check: pd.Series | None = None,
) -> pd.DataFrame:
    """decision (auto / review) and review_reason (codes joined by ';', empty for auto) per line."""
    confidence = np.asarray(confidence, dtype="float64")
    n = len(confidence)
    flags = {
        "no_threshold": np.full(n, threshold > 1.0),
        "low_confidence": (confidence < threshold) & (threshold <= 1.0),
    }
    if vendor is not None and known_vendors is not None:
        normalized = normalize_vendors(pd.Series(vendor).reset_index(drop=True))
        flags["new_vendor"] = (normalized.notna() & ~normalized.isin(known_vendors)).to_numpy()
    if label_check is not None:
        check = pd.Series(label_check).reset_index(drop=True)
        flags["code_differs"] = check.eq("differs").to_numpy()
        flags["code_unknown"] = check.eq("unknown to the model").to_numpy()
    reason = pd.Series([""] * n, dtype="str")
    for code in REASONS:
        if code in flags:
            hit = pd.Series(flags[code])
            joined = reason.where(reason.eq(""), reason + SEPARATOR) + code
            reason = reason.mask(hit, joined)
    decision = pd.Series(np.where(reason.eq(""), "auto", "review"), dtype="str")
    return pd.DataFrame({"decision": decision, "review_reason": reason})


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    """Lines per reason (a line with two reasons counts under both)."""
    split = reasons[reasons.ne("")].str.split(SEPARATOR).explode()
    return {str(k): int(v) for k, v in split.value_counts().items()}


def label_check(given: pd.Series, top: pd.Series, known: set[str]) -> pd.Series:
    """Per row with a given code: match, differs, or unknown to the model (a code it never trained on)."""
    given = given.reset_index(drop=True).astype("str").where(given.notna().to_numpy())
    check = pd.Series(np.where(given.to_numpy() == top.to_numpy(), "match", "differs"), dtype="str")
    check = check.mask(~given.isin(known), "unknown to the model")
    return check.where(given.notna())
