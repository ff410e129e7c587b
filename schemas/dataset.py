"""Schemas of the dataset stage: labelled, split rows and the (text, label) pairs the model sees."""

import pandera.pandas as pa
from pandera.typing import Series

from schemas.base import StrictModel

SPLITS = ["train", "valid", "test"]


class SplitColumns(pa.DataFrameModel):
    """What the split stage adds to the selected feature columns."""

    label: Series[int] = pa.Field(ge=0)
    split: Series[str] = pa.Field(isin=SPLITS)


class TextFrame(StrictModel):
    """One text per row and its label slot: the only columns that leave the text stage."""

    split: Series[str] = pa.Field(isin=SPLITS)
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    label: Series[int] = pa.Field(ge=0)
    suspected: Series[bool] = pa.Field(required=False)  # a suspected mis-posting (valid / test: not calibrated on)
