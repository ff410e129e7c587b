"""Three months through the real flows: a history trains the first models; month A is predicted by the champion; a
simulated review fills 확정 계정코드 (some review lines left empty); the reviewed file goes back in through
monthly_cycle, warm-started from the champion, which predicts month B. A vendor and an account first seen in A's
review are predicted right on B."""

from pathlib import Path

import pandas as pd
import pytest

NEW_VENDOR, NEW_NOTE, NEW_CODE, NEW_NAME = "한빛문고", "업무용 도서 구입", "826", "도서인쇄비"
SETTINGS = {"max_steps": 6, "eval_steps": 6, "save_steps": 6, "logging_steps": 2, "per_device_train_batch_size": 16}
LEFT_EMPTY = 8  # review lines the accountant did not get to


def three_months(tmp_path: Path) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(history file, month A, month B) of one synthetic company; A and B carry a new vendor booked to a new code."""
    from synth.ledger import write_ledger
    from synth.months import history_and_next_month

    earlier, month_b = history_and_next_month(1800, 300, 12, seed=4, mispostings=0.0)
    last = earlier["일자"].str[:7].max()
    history, month_a = earlier[earlier["일자"].str[:7] < last], earlier[earlier["일자"].str[:7] == last].copy()
    assert NEW_CODE not in set(history["계정코드"])
    for month, every in ((month_a, 12), (month_b, 20)):
        rows = month.index[::every]
        month.loc[rows, ["거래처", "적요", "계정코드", "계정과목"]] = [NEW_VENDOR, NEW_NOTE, NEW_CODE, NEW_NAME]
    return write_ledger(history, str(tmp_path / "history.csv")), month_a, month_b


def without_codes(month: pd.DataFrame, path: Path) -> str:
    """The month as it arrives: no account codes yet."""
    from synth.ledger import write_ledger

    return write_ledger(month.drop(columns=["계정코드", "계정과목"]), str(path))


def review(predictions: Path, truth: pd.DataFrame, out: Path) -> int:
    """The accountant's pass over the 전체 sheet: every line's true code in 확정 계정코드, but LEFT_EMPTY review
    lines left empty; returns how many lines were left empty."""
    sheet = pd.read_excel(predictions, sheet_name="전체", dtype=str)
    codes = truth.set_index("전표번호")["계정코드"]
    sheet["확정 계정코드"] = sheet["전표번호"].map(codes)
    review_lines = sheet.index[sheet["처리"] != "자동"]
    sheet.loc[review_lines[:LEFT_EMPTY], "확정 계정코드"] = None
    sheet.to_excel(out, sheet_name="전체", index=False)
    return int(sheet["확정 계정코드"].isna().sum())


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_three_months_the_reviewed_month_teaches_the_next(tmp_path):
    from flows.monthly import monthly_cycle
    from flows.pipeline import pipeline
    from flows.predict import predict_ledger
    from monitor.registry import alias_target, move_alias, tracking_uri
    from params.monthly import MonthlyParams
    from params.pipeline import PipelineParams
    from params.predict import PredictParams
    from synth.tiny_model import make_tiny_model

    work, model = str(tmp_path / "work"), str(make_tiny_model(tmp_path / "tiny"))
    history, month_a, month_b = three_months(tmp_path)
    train = {"max_eval_samples": 40, "trainer": SETTINGS}
    # given the models of the history, the LLM run holding the champion alias (the team's model in use)
    first = pipeline(PipelineParams(prepare={"input": history, "work_dir": work, "model": model}, train=train))
    store = tracking_uri(None, work)
    move_alias(store, first.training.registered, "champion", {})
    # and month A predicted by the champion, then reviewed: true codes, some review lines left empty
    predictions_a = tmp_path / "predictions-a.xlsx"
    predict_ledger(PredictParams(model="models:/account-tax@champion", input=without_codes(month_a, tmp_path / "a.csv"),
                                 out=str(predictions_a), work_dir=work))  # fmt: skip
    reviewed = tmp_path / "reviewed-a.xlsx"
    empty = review(predictions_a, month_a, reviewed)
    # when the monthly cycle takes the reviewed file and month B
    result = monthly_cycle(
        MonthlyParams(reviewed=str(reviewed), new_month=without_codes(month_b, tmp_path / "b.csv"), model=model,
                      work_dir=work, train={**train, "replay": 0.5}, resamples=100)
    )  # fmt: skip
    # then the challenger started from the champion's version, knew the new code as new, and replayed the history
    training = result.pipeline.training
    assert result.parent == first.training.registered.uri
    assert training.new_codes == [NEW_CODE] and training.replayed > 0
    # and the lines left empty were counted and left out, never guessed
    prepared = result.pipeline.prepared.summary
    assert prepared.rejected_by_rule.get("not_reviewed") == empty >= 1
    # and the alias names whichever won, with the reason recorded
    promotion = result.pipeline.promotion
    holder = promotion.challenger if promotion.moved else promotion.champion
    assert alias_target(store, "account-tax", "champion") == holder and promotion.verdict.reason
    # and month B was predicted by that champion: the vendor and account first seen in A's review come out right
    predicted = pd.read_excel(result.prediction.output, sheet_name="전체", dtype=str)
    new_lines = predicted[predicted["거래처"] == NEW_VENDOR]
    assert len(new_lines) == len(month_b.index[::20])
    assert (new_lines["예측1 계정코드"] == NEW_CODE).all(), new_lines.iloc[:, -12:].to_string()
