"""Schemas of the dataset stage: labelled, split rows and the (text, label) pairs the model sees."""

import pandera.pandas as pa
from pandera.typing import Series

from schemas.base import StrictModel
from schemas.ledger import selected_schema

SPLITS = ["train", "valid", "test"]


class SplitColumns(pa.DataFrameModel):
    """What the split stage adds to the selected feature columns."""

    label: Series[int] = pa.Field(ge=0)
    split: Series[str] = pa.Field(isin=SPLITS)


def split_schema(columns: list[str]) -> pa.DataFrameSchema:
    """The selected feature columns (typed as FeatureFrame types them) plus label and split: the split stage's
    output, strict, whatever columns conf selected."""
    features = [c for c in columns if c not in SplitColumns.to_schema().columns]
    return selected_schema(features).add_columns(SplitColumns.to_schema().columns)


class TextFrame(StrictModel):
    """One text per row and its label slot: the only columns that leave the text stage."""

    split: Series[str] = pa.Field(isin=SPLITS)
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    label: Series[int] = pa.Field(ge=0)
    suspected: Series[bool] = pa.Field(required=False)  # a suspected mis-posting (valid / test: not calibrated on)
