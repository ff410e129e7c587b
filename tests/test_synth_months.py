"""synth.months: one company's history and its following calendar month (the demo's and bench.mispostings')."""

import pandas as pd

from synth.ledger import injected_mispostings, make_ledger
from synth.months import history_and_next_month


def test_the_next_month_is_the_calendar_month_after_the_history_of_the_same_company():
    # given a company booking about 1,000 lines a month, 5% of its history mis-posted, 3% of it dirty
    history, month = history_and_next_month(3000, 1000, 30, seed=4, mispostings=0.05, dirty=0.03)
    # then the history is 3 whole calendar months and the next month the one after, at the same pace
    months = pd.to_datetime(history["일자"], errors="coerce").dt.to_period("M")
    assert sorted(months.dropna().unique().astype(str)) == ["2024-09", "2024-10", "2024-11"]
    assert month["일자"].str.startswith("2024-12-").all()
    assert 2700 < len(history) < 3300 and 850 < len(month) < 1150
    # and both have every column, the month every code from the history's accounts
    assert list(month.columns) == list(history.columns)
    assert set(month["계정코드"]) <= set(history["계정코드"])
    assert len(injected_mispostings(history)) > 0 and injected_mispostings(month).empty


def test_the_next_month_carries_the_true_codes_and_no_dirt():
    # given the same company drawn as one clean ledger, its mis-posted lines known
    history, month = history_and_next_month(3000, 1000, 30, seed=4, mispostings=0.05, dirty=0.03)
    whole = make_ledger(len(history) + len(month), 30, 4, mispostings=0.05, date_range=("2024-09-01", "2024-12-31"))
    truth = injected_mispostings(whole)
    start = len(whole) - len(month)
    late = truth[truth["row"] >= start]
    assert len(late) > 0
    # then the month's lines are the clean lines with every mis-posting booked back to its true account
    expected = whole.iloc[start:].reset_index(drop=True).copy()
    expected.loc[late["row"].to_numpy() - start, "계정코드"] = late["true_code"].to_numpy()
    expected.loc[late["row"].to_numpy() - start, "계정과목"] = late["true_name"].to_numpy()
    pd.testing.assert_frame_equal(month, expected, check_like=False)
    # and the history is the written (dirty) lines, its mis-posted rows named within it
    assert (injected_mispostings(history)["row"] < len(history)).all()
