"""The time-ordered split (tasks/split.py: time_holdout, time_splits, split_basis): earlier months train, the newest
months valid and test, so the promise made at training is made on months the model did not see."""

import numpy as np
import pandas as pd
import pytest

from ledger.frames import StageResult, read_frame, write_frame
from params.prepare import LabelParams, SplitParams
from schemas import selected_schema
from tasks.split import assign_label_slots, split_basis, split_dataset, time_holdout, time_splits


def monthly_dates(per_month: list[int], year: int = 2024) -> pd.Series:
    """per_month[i] lines dated in month i + 1 of `year`."""
    return pd.Series([pd.Timestamp(year, m + 1, 10) for m, n in enumerate(per_month) for _ in range(n)])


def test_the_newest_months_are_held_out_until_they_hold_enough_lines():
    # given twelve months of 100 lines
    dates = monthly_dates([100] * 12)
    # when the holdout is chosen for 250 lines
    holdout, how = time_holdout(dates, SplitParams(holdout_min_rows=250))
    # then the newest three months are held out and every train line is older than every held-out line
    assert how["by"] == "time" and how["holdout_months"] == ["2024-10", "2024-11", "2024-12"]
    assert how["train_months"] == ["2024-01", "2024-09"] and int(holdout.sum()) == 300
    assert dates[~holdout].max() < dates[holdout].min()


def test_the_default_split_is_auto():
    # the promise is made on months the model did not see wherever the ledger allows it (issue 27)
    assert SplitParams().by == "auto"


def test_auto_splits_at_random_below_min_months_and_says_why():
    # given two months of lines, when auto decides, then random, with the reason
    holdout, how = time_holdout(monthly_dates([300, 300]), SplitParams())
    assert holdout is None and how["by"] == "random" and "2 month(s)" in how["reason"]
    assert "at random" in split_basis(how)


def test_auto_splits_at_random_when_the_holdout_would_be_over_half():
    # given four months where the newest holds most lines, when auto decides, then random
    holdout, how = time_holdout(monthly_dates([10, 10, 10, 500]), SplitParams(holdout_min_rows=400))
    assert holdout is None and "over half" in how["reason"]


@pytest.mark.parametrize("dates", [monthly_dates([50]), None])
def test_asking_for_time_without_months_is_a_clear_error(dates):
    # given one month (or no date column), when split.by=time is asked, then an error says what to set
    with pytest.raises(ValueError, match="split.by=random"):
        time_holdout(dates, SplitParams(by="time"))


def test_random_is_kept_when_asked():
    holdout, how = time_holdout(monthly_dates([100] * 12), SplitParams(by="random"))
    assert holdout is None and how == {"by": "random", "reason": "split.by=random"}


def test_held_out_lines_go_to_valid_and_test_by_code_and_seed():
    # given 400 held-out lines of four codes and 600 earlier ones
    labels = pd.Series(np.arange(1000) % 4)
    holdout = pd.Series(np.arange(1000) >= 600)
    # when split with valid : test = 1 : 1
    split = time_splits(labels, holdout, SplitParams())
    # then earlier lines train, held-out lines valid or test, half each per code, the same for the same seed
    assert set(split[~holdout]) == {"train"} and set(split[holdout]) == {"valid", "test"}
    assert (split[holdout].groupby(labels[holdout]).value_counts().unstack() == 50).all().all()
    assert split.equals(time_splits(labels, holdout, SplitParams()))
    assert not split.equals(time_splits(labels, holdout, SplitParams(seed=1)))


def test_split_dataset_splits_by_time_and_reports_the_months(work_dir):
    # given selected rows over twelve months, two codes
    dates = monthly_dates([40] * 12)
    n = len(dates)
    df = pd.DataFrame({"row_id": range(n), "source_file": "file:///l.csv", "source_row": range(2, n + 2),
                       "date": dates, "vendor": "쿠팡", "description": "사무용품", "amount": 1000.0,
                       "account_code": np.where(np.arange(n) % 2 == 0, "830", "811"), "account_name": "x"})  # fmt: skip
    stage = StageResult(data=write_frame(df, selected_schema(list(df.columns)), work_dir, "select"))
    labels = assign_label_slots.fn(stage, LabelParams(num_slots=4), work_dir)
    # when split with the defaults
    result = split_dataset.fn(stage, labels, SplitParams(holdout_min_rows=100), work_dir)
    out = read_frame(result.data, None)
    # then the newest three months are valid and test, reported
    assert result.report["by"]["holdout_months"] == ["2024-10", "2024-11", "2024-12"]
    assert set(out.loc[out["date"] >= "2024-10-01", "split"]) == {"valid", "test"}
    assert set(out.loc[out["date"] < "2024-10-01", "split"]) == {"train"}
