"""A model keeps what its training lines looked like; a prediction names the columns it learned from and the new
ledger lacks (issue 29: a poorer next month is said, not only felt as fewer lines coded automatically)."""

import json

import numpy as np
import pandas as pd
import pytest

from contracts.train_profile import (
    TRAIN_COLUMNS_FILE,
    columns_lost,
    copy_train_profile,
    fill_shares,
    read_train_columns,
    write_train_columns,
)


def test_a_blank_text_or_a_missing_value_is_no_value_and_bookkeeping_columns_are_left_out():
    # given lines with a description twice blank (spaces, missing), amounts once missing, and the split and label
    frame = pd.DataFrame(
        {
            "description": pd.Series(["사무용품", "  ", None, "택시"], dtype="string"),
            "amount": [1000.0, np.nan, 3.0, 4.0],
            "is_holiday": [True, False, False, True],
            "split": ["train"] * 4,
            "label": [0, 1, 0, 1],
        }
    )
    # when the fill shares are taken
    shares = fill_shares(frame)
    # then a flag false is a value, blank text is not, and split / label are no feature
    assert shares == {"description": 0.5, "amount": 0.75, "is_holiday": 1.0}


def test_the_columns_lost_are_the_ones_most_training_lines_held_and_the_new_lines_hold_half_as_often():
    trained = {"description": 1.0, "vendor": 0.9, "department": 0.3, "vat": 0.6}
    found = {"description": 0.0, "vendor": 0.8, "vat": 0.31}  # department: absent from the new file
    # when compared over the text's columns in its order (department is rare in training: not expected)
    lost = columns_lost(trained, found, ["vendor", "description", "vat", "department"])
    # then description (gone) is named; vat at just over half of its training share is not
    assert lost == [("description", 1.0, 0.0)]


def test_the_profile_travels_whole_and_a_model_without_one_reads_as_none(tmp_path):
    # given a profile folder without a vendors file (a ledger without a vendor column)
    source, model = tmp_path / "profile", tmp_path / "model"
    source.mkdir(), model.mkdir()
    write_train_columns(pd.DataFrame({"amount": [1.0, None]}), source)
    # then a model folder saved before profiles has none, and a copy carries what there is
    assert read_train_columns(model) is None
    copy_train_profile(source, model)
    assert read_train_columns(model) == {"amount": 0.5}
    assert sorted(p.name for p in model.iterdir()) == [TRAIN_COLUMNS_FILE]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_next_month_without_its_description_column_is_named_in_the_prediction(tmp_path, work_dir, capsys):
    from flows.baseline import baseline
    from flows.predict import predict_ledger
    from flows.summaries import print_prediction
    from params.baseline import BaselineFlowParams
    from params.predict import PredictParams
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger
    from tasks.predict_output import summary_markdown

    # given a baseline trained on a history whose every line has its 적요
    history = write_ledger(make_ledger(1200, 12, seed=3), str(tmp_path / "history.csv"))
    report = baseline(BaselineFlowParams(prepare=PrepareParams(input=history, work_dir=work_dir)))
    trained = json.loads((tmp_path / report.model_dir / TRAIN_COLUMNS_FILE).read_text(encoding="utf-8"))
    assert trained["description"] == 1.0
    # and a next month exported without the 적요 column
    month = make_ledger(200, 12, seed=4).drop(columns=["적요"])
    path = write_ledger(month, str(tmp_path / "next.csv"))
    out = tmp_path / "out" / "next.xlsx"
    # when it is predicted
    summary = predict_ledger(PredictParams(model=report.model_dir, input=path, out=str(out), work_dir=work_dir))
    # then the summary names the column, its training share and this file's, once
    assert len(summary.column_warnings) == 1, summary.column_warnings
    warning = summary.column_warnings[0]
    assert "적요 (description): 100% of training lines, 0% here" in warning
    assert "vendor" not in warning  # the vendor column is still there
    # and the terminal, the xlsx summary sheet and the UI's artifact lead with it
    print_prediction(summary)
    assert f"WARNING      {warning}" in capsys.readouterr().out
    sheet = pd.read_excel(out, sheet_name=None, header=None)
    first_rows = [row for frame in sheet.values() for row in frame.astype(str).values.tolist()[:3]]
    assert any(warning in row for row in first_rows), first_rows
    assert f"**Warning**: {warning}" in summary_markdown(summary)
    # and a month with every column gets no such warning
    full = write_ledger(make_ledger(200, 12, seed=5), str(tmp_path / "full.csv"))
    again = predict_ledger(
        PredictParams(model=report.model_dir, input=full, out=str(tmp_path / "out" / "full.csv"), work_dir=work_dir)
    )
    assert again.column_warnings == []
