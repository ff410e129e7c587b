"""Flow parameters: one pydantic model per flow; defaults in code < YAML file < CLI overrides."""

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasks.baseline import BaselineParams
from tasks.params import (  # noqa: F401  (TrainParams re-exported for the flows)
    FeatureParams,
    IngestParams,
    LabelParams,
    PreprocessParams,
    SplitParams,
    TextParams,
    TokenizeParams,
    TrainOptions,
    TrainParams,
)

M = TypeVar("M", bound=BaseModel)


class PrepareParams(BaseModel):
    """Everything `prepare_data` takes: the input ledger(s) and one section per stage."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(..., description="ledger file, folder or glob; any fsspec URL")
    work_dir: str = Field("data", description="where stage outputs and reports are written")
    labels_required: bool = Field(True, description="training data: a row without an account code is rejected")
    ingest: IngestParams = IngestParams()
    preprocess: PreprocessParams = PreprocessParams()
    features: FeatureParams = FeatureParams()
    model: str | None = Field(
        None, description="model folder whose tokenizer builds the dataset; none: stop after features"
    )
    labels: LabelParams = LabelParams()
    split: SplitParams = SplitParams()
    text: TextParams = TextParams()
    tokenize: TokenizeParams = TokenizeParams()


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
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE, e.g. features.holiday_country=KR")
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
            raise ValueError(f"{config}: expected a mapping of parameter sections")
        values = loaded
    return model.model_validate(deep_merge(values, overrides or {}))


class PipelineParams(BaseModel):
    """`pipeline`: prepare_data then train_model; the model and work dir are shared by both."""

    model_config = ConfigDict(extra="forbid")

    prepare: PrepareParams
    train: TrainOptions = TrainOptions()
    baseline: BaselineParams = BaselineParams()

    def training(self, dataset: str) -> TrainParams:
        """train_model's parameters for the dataset prepare_data built."""
        return TrainParams(
            dataset=dataset, model=self.prepare.model, work_dir=self.prepare.work_dir, **self.train.model_dump()
        )

    @model_validator(mode="after")
    def _model_given(self):
        if not self.prepare.model:
            raise ValueError("pipeline: prepare.model (the base model folder) is required to build and train")
        return self
