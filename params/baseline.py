"""`baseline`'s parameters, and the baseline section the pipeline shares."""

from pydantic import Field

from params.base import FlowParams, Section, target_accuracy_field
from params.prepare import PrepareParams


class BaselineParams(Section):
    """TF-IDF over character n-grams + logistic regression, on the same split and texts as the LLM."""

    ngram_min: int = Field(2, ge=1)
    ngram_max: int = Field(3, ge=1, description="character n-grams suit Korean (no word segmentation needed)")
    max_features: int = Field(50_000, ge=1)
    max_df: float = Field(0.9, gt=0, le=1, description="drops n-grams of the template's field names (in every row)")
    C: float = Field(4.0, gt=0)
    max_iter: int = Field(40, ge=1, description="lbfgs iterations: more converges further, slower")


class BaselineFlowParams(FlowParams):
    """`baseline`: prepare_data (no model) and the baseline's own section."""

    prepare: PrepareParams
    baseline: BaselineParams = BaselineParams()
    target_accuracy: float = target_accuracy_field()
