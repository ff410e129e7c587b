"""`predict_ledger`'s parameters (the user's): which run, which ledger, where the predictions go."""

from pydantic import Field

from params.base import Section


class PredictParams(Section):
    """A finished training run classifies a new ledger."""

    model: str = Field(..., description="a training run folder (runs/<name> or its final/)")
    input: str = Field(..., description="ledger file, folder or glob to classify (labels not needed)")
    out: str = Field(..., description="output file: .csv or .xlsx")
    work_dir: str = "data"
    top_k: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
