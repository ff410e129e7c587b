"""Mis-postings in synthetic ledgers (synth/ledger.py): recorded with their true accounts, plausible, and never in
the rare tail."""

from synth.ledger import load_chart, make_ledger


def test_mispostings_are_recorded_plausible_and_spare_the_rare_tail():
    from synth.ledger import injected_mispostings

    # given ledgers with 8% and with no mis-postings
    chart = load_chart().set_index("code")
    df = make_ledger(5000, 80, seed=2, mispostings=0.08)
    truth = injected_mispostings(df)
    # then about 8% of the lines carry another code than their own, recorded with the true one
    assert 0.06 < len(truth) / len(df) < 0.10
    assert (truth["written_code"] != truth["true_code"]).all()
    assert (df["계정코드"].to_numpy()[truth["row"]] == truth["written_code"].to_numpy()).all()
    # each booked to an account of the same category (a plausible neighbour)
    written_category = chart.loc[truth["written_code"], "category"].to_numpy()
    assert (written_category == chart.loc[truth["true_code"], "category"].to_numpy()).all()
    # the rare tail (accounts of 1-3 lines) neither loses nor receives a line
    counts = df["계정코드"].value_counts()
    rare = set(counts[counts <= 3].index)
    assert rare and not (set(truth["written_code"]) | set(truth["true_code"])) & rare
    # and a ledger asked for none has none, over the same accounts
    clean = make_ledger(5000, 80, seed=2, mispostings=0.0)
    assert injected_mispostings(clean).empty
    assert set(clean["계정코드"]) == set(df["계정코드"])
