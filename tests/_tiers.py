"""The fast tier's share of a parametrized family: every case runs in `make test`, a few in `make test-fast`."""

import pytest


def fast_sample(cases, fast: set[str]) -> list:
    """The cases (pytest params, or plain values that are their own ids) as pytest params, those whose id is not
    in `fast` marked slow (each runs a whole prepare flow)."""
    params = [c if hasattr(c, "values") else pytest.param(c, id=str(c)) for c in cases]
    unknown = fast - {p.id for p in params}
    if unknown:  # a renamed case must not leave the fast tier silently empty
        raise ValueError(f"fast_sample: no case named {sorted(unknown)}")
    return [p if p.id in fast else pytest.param(*p.values, id=p.id, marks=[*p.marks, pytest.mark.slow]) for p in params]
