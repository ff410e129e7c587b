"""Schema of batch predictions: top-k codes, names and calibrated probabilities, the decision and its reasons."""

import pandera.pandas as pa

LABEL_CHECKS = {
    "match": "the top prediction is the given code",
    "differs": "the top prediction is another code",
    "unknown to the model": "the given code was not a training label: the model cannot predict it",
}
DECISIONS = ["auto", "review"]


def prediction_schema(k: int) -> pa.DataFrameSchema:
    """row_id plus pred1..predk code / name / probability; probabilities in [0, 1]; auto lines give no reason."""
    columns = {"row_id": pa.Column(int, unique=True)}
    for rank in range(1, k + 1):
        columns[f"pred{rank}_code"] = pa.Column(str)
        columns[f"pred{rank}_name"] = pa.Column(str)
        columns[f"pred{rank}_prob"] = pa.Column(float, pa.Check.in_range(0.0, 1.0))
    # when the ledger carries an account code: does the top prediction agree, or can the model not know it
    columns["label_check"] = pa.Column(str, pa.Check.isin(list(LABEL_CHECKS)), nullable=True, required=False)
    columns["decision"] = pa.Column(str, pa.Check.isin(DECISIONS))
    columns["review_reason"] = pa.Column(str)
    reason_given = pa.Check(
        lambda df: df["decision"].eq("review") == df["review_reason"].ne(""), name="review_lines_have_a_reason"
    )
    return pa.DataFrameSchema(columns, strict=True, coerce=True, checks=[reason_given])
