"""Which model to deploy: the one that codes more lines automatically at the target accuracy on the valid split;
when that is close, the better macro-F1. The test split only confirms (it never chooses)."""

from pydantic import BaseModel

from contracts.calibration import Calibration

COVERAGE_MARGIN = 0.02  # coverages closer than this are a tie: macro-F1 decides


class Candidate(BaseModel):
    name: str
    model_dir: str
    valid_f1_macro: float
    valid_coverage: float
    test_coverage: float | None
    test_auto_accuracy: float | None
    test_f1_macro: float | None


class ModelChoice(BaseModel):
    chosen: str
    model_dir: str
    reason: str
    confirmed_on_test: bool | None  # None: no test split to confirm with
    candidates: list[Candidate]


def candidate(name: str, model_dir: str, calibration: Calibration) -> Candidate:
    valid, test = calibration.valid, calibration.test
    return Candidate(
        name=name,
        model_dir=model_dir,
        valid_f1_macro=valid.f1_macro if valid else 0.0,
        valid_coverage=valid.coverage if valid else 0.0,
        test_coverage=test.coverage if test else None,
        test_auto_accuracy=test.auto_accuracy if test else None,
        test_f1_macro=test.f1_macro if test else None,
    )


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(coverage, macro-F1) a over b: more coverage by at least the margin, else (a tie) the higher macro-F1."""
    if abs(a[0] - b[0]) >= COVERAGE_MARGIN:
        return a[0] > b[0]
    return a[1] >= b[1]


def _on_valid(c: Candidate) -> tuple[float, float]:
    return (c.valid_coverage, c.valid_f1_macro)


def _on_test(c: Candidate) -> tuple[float, float]:
    return (c.test_coverage or 0.0, c.test_f1_macro or 0.0)


def choose_model(candidates: list[Candidate], target: float) -> ModelChoice:
    """The best candidate on valid, the reason in words, and whether test agrees with the order."""
    best = candidates[0]
    for other in candidates[1:]:
        if not _better(_on_valid(best), _on_valid(other)):
            best = other
    ranked = [best, *[c for c in candidates if c is not best]]
    if len(ranked) == 1:
        return ModelChoice(
            chosen=best.name, model_dir=best.model_dir, reason="the only model", confirmed_on_test=None,
            candidates=candidates,
        )  # fmt: skip
    other = max(ranked[1:], key=lambda c: (c.valid_coverage, c.valid_f1_macro))  # the runner-up named in the reason
    if abs(best.valid_coverage - other.valid_coverage) >= COVERAGE_MARGIN:
        why = (
            f"codes {best.valid_coverage:.1%} of valid lines automatically at {target:.0%} accuracy against "
            f"{other.valid_coverage:.1%} for {other.name}"
        )
    else:
        why = (
            f"automatic coverage at {target:.0%} is within {COVERAGE_MARGIN:.0%} ({best.valid_coverage:.1%} vs "
            f"{other.valid_coverage:.1%}); macro-F1 on valid {best.valid_f1_macro:.3f} vs {other.valid_f1_macro:.3f}"
        )
    confirmed = None
    if best.test_coverage is not None and other.test_coverage is not None:
        confirmed = _better(_on_test(best), _on_test(other))
        why += "; the test split confirms it" if confirmed else "; the test split does not confirm it (close call)"
    return ModelChoice(
        chosen=best.name, model_dir=best.model_dir, reason=f"{best.name} {why}", confirmed_on_test=confirmed,
        candidates=candidates,
    )  # fmt: skip
