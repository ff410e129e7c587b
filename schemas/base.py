"""The strict base every boundary schema inherits from."""

import pandera.pandas as pa


class StrictModel(pa.DataFrameModel):
    """Coerce dtypes and refuse columns the stage does not declare."""

    class Config:
        coerce = True
        strict = True
