"""How a flow's parameters are built: code defaults, then a YAML file, then CLI overrides."""

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from ledger.errors import ParameterError

M = TypeVar("M", bound=BaseModel)


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def parse_assignments(pairs: list[str]) -> dict:
    """['features.holiday_country=KR', 'preprocess.clean.drop_duplicates=false'] -> nested dict (YAML values)."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ParameterError(f"--set {pair!r}: expected KEY=VALUE, e.g. features.holiday_country=KR")
        node = nested
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return nested


def load_params(model: type[M], config: str | Path | None = None, overrides: dict | None = None) -> M:
    """Build a flow's parameters: code defaults, then the YAML file, then explicit overrides."""
    values: dict = {}
    if config:
        loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{config}: expected a mapping of parameter sections")
        values = loaded
    return model.model_validate(deep_merge(values, overrides or {}))
