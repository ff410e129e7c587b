"""One synthetic company's history and its following calendar month: what `make run` trains on and predicts, and
what bench.mispostings measures the promise made at training against.

`history_and_next_month(20_000, 2_000, 80, seed=7)` draws ONE ledger (one set of accounts, vendors, amounts and
habits) over whole calendar months ending with the last month of synth.vocab.DATE_RANGE, about `month_rows` lines a
month: the last month is the next month, the months before it the history (about `history_rows` lines, so
round(history_rows / month_rows) months). The history is as written: its mis-postings and its export dirt. The next
month is the same company's following month with every line's true code and no dirt, so predictions on it can be
scored against the truth. Pure functions, nothing runs at import; same arguments, same frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.ledger import injected_mispostings, make_ledger
from synth.vocab import DATE_RANGE, LABEL_NOISE


def history_and_next_month(
    history_rows: int,
    month_rows: int,
    accounts: int = 80,
    seed: int = 0,
    mispostings: float = LABEL_NOISE,
    dirty: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, next month) of one make_ledger company; see the module's docstring.

    `injected_mispostings(history)` names the history's mis-posted rows (positions in the history); the next month has
    none left: its mis-posted lines carry their true code and name again."""
    if history_rows < 1 or month_rows < 1:
        raise ValueError(f"history_rows and month_rows must be >= 1, got {history_rows} and {month_rows}")
    history_months = max(1, round(history_rows / month_rows))
    last_month = np.datetime64(DATE_RANGE[1], "M")
    first_day = (last_month - history_months).astype("datetime64[D]")
    span = (str(first_day), DATE_RANGE[1])
    total = history_rows + month_rows
    written = make_ledger(total, accounts, seed, dirty=dirty, mispostings=mispostings, date_range=span)
    # dirt is drawn after every clean cell: the same call without it is the same company's clean lines
    clean = written if dirty == 0 else make_ledger(total, accounts, seed, mispostings=mispostings, date_range=span)
    start = int((clean["일자"] < str(last_month.astype("datetime64[D]"))).sum())  # lines are in date order
    truth = injected_mispostings(clean)
    month = clean.iloc[start:].copy()
    wrong = truth[truth["row"] >= start]
    month.loc[wrong["row"].to_numpy(), "계정코드"] = wrong["true_code"].to_numpy()
    month.loc[wrong["row"].to_numpy(), "계정과목"] = wrong["true_name"].to_numpy()
    month = month.reset_index(drop=True)
    month.attrs = {"dirt": {}, "mispostings": {"rows": [], "true_code": [], "true_name": []}}
    history = written.iloc[:start].reset_index(drop=True)
    kept = truth["row"] < start
    history.attrs = {
        "dirt": written.attrs.get("dirt", {}),  # counted over history and month alike
        "mispostings": {
            "rows": truth.loc[kept, "row"].tolist(),
            "true_code": truth.loc[kept, "true_code"].tolist(),
            "true_name": truth.loc[kept, "true_name"].tolist(),
        },
    }
    return history, month
