"""Boundary schemas (one rejection each) and the frame store: messages, round trip, fingerprints."""

import os

import pandas as pd
import pytest

from ledger.columns import column_spec, required_columns
from ledger.frames import FrameValidationError, read_frame, validate, write_frame
from params.prepare import FeatureParams, IngestParams
from schemas import CleanLedger, FeatureFrame, Ledger, RawLedger, Rejects, selected_schema, with_required
from tasks.features import add_features
from tests._stages import clean_frame, text_frame


def rejected(schema, df):
    with pytest.raises(FrameValidationError) as info:
        validate(df, schema, "test")
    return str(info.value)


def feature_frame() -> pd.DataFrame:
    return add_features(clean_frame(["2024-01-05", "2024-02-12"]), FeatureParams())


# --- one rejection per schema ---------------------------------------------------------------------


def test_raw_ledger_accepts_any_file_headers_but_rejects_a_duplicate_row_id():
    raw = pd.DataFrame(
        {"row_id": [0, 0], "source_file": "a.csv", "source_row": [2, 3], "row_digest": [7, 8], "일자": ["x", "y"]}
    )
    assert "row_id" in rejected(RawLedger, raw)
    validate(raw.assign(row_id=[0, 1]), RawLedger, "test")  # the file's own 일자 header is fine


def test_raw_ledger_rejects_a_source_row_above_the_first_line():
    raw = pd.DataFrame({"row_id": [0], "source_file": "a.csv", "source_row": [0], "row_digest": [7]})
    assert "source_row" in rejected(RawLedger, raw)


def test_ledger_is_strict_an_unknown_column_is_rejected():
    message = rejected(Ledger, text_frame([{}]).assign(담당자="김"))
    assert "담당자" in message


def test_ledger_requires_the_required_columns():
    assert "'amount'" in rejected(Ledger, text_frame([{}]).drop(columns=["amount"]))


@pytest.mark.parametrize(("column", "cell"), [("date", "2024년 1월 5일"), ("amount", "₩1,200")])
def test_clean_ledger_rejects_unparsed_text(column, cell):
    # given a clean-stage frame whose date or amount is still the raw text
    df = clean_frame(["2024-01-05"]).astype({column: "object"})
    df.loc[0, column] = cell
    # then the typed schema refuses it, naming the column
    assert f"'{column}'" in rejected(CleanLedger, df)


# the clean schema with the required columns of the default conf/columns.yaml, as validate_ledger builds it
CLEAN_AS_CONFIGURED = with_required(
    CleanLedger.to_schema(), required_columns(column_spec(IngestParams().columns_conf), False)
)


def test_clean_ledger_rejects_a_blank_date():
    assert "date" in rejected(CLEAN_AS_CONFIGURED, clean_frame(["2024-01-05"]).assign(date=pd.NaT))


def test_feature_frame_accepts_built_features():
    validate(feature_frame(), FeatureFrame, "test")


def test_feature_frame_rejects_month_13():
    message = rejected(FeatureFrame, feature_frame().assign(month=[1, 13]))
    assert "'month'" in message and "rows [1]" in message


def test_rejects_schema_requires_a_rule():
    rejects = text_frame([{}]).assign(stage="validate", detail="why")
    assert "rule" in rejected(Rejects, rejects)
    validate(rejects.assign(rule="amount_unparsable"), Rejects, "test")


def test_labeled_schema_rejects_a_missing_label():
    schema = with_required(CleanLedger.to_schema(), ["account_code"])
    df = clean_frame(["2024-01-05", "2024-01-06"])
    df.loc[1, "account_code"] = None
    assert "account_code" in rejected(schema, df)


def test_labeled_schema_rejects_a_frame_without_the_label_column():
    schema = with_required(CleanLedger.to_schema(), ["account_code"])
    assert "account_code" in rejected(schema, clean_frame(["2024-01-05"]).drop(columns=["account_code"]))


@pytest.mark.parametrize("blank", ["", "   "])
def test_labeled_schema_rejects_an_empty_string_label(blank):
    df = clean_frame(["2024-01-05"]).assign(account_code=blank)
    rejected(with_required(CleanLedger.to_schema(), ["account_code"]), df)


def test_unlabeled_clean_ledger_allows_a_missing_label():
    validate(clean_frame(["2024-01-05"]).assign(account_code=None), CleanLedger, "test")


def test_selected_schema_keeps_only_the_selected_columns_strictly():
    columns = ["row_id", "source_file", "source_row", "month", "account_code"]
    schema = selected_schema(columns)
    validate(feature_frame()[columns], schema, "test")
    assert "weekday" in rejected(schema, feature_frame()[[*columns, "weekday"]])
    assert "'month'" in rejected(schema, feature_frame()[columns].assign(month=[0, 1]))


# --- ledger.frames ----------------------------------------------------------------------------------


def test_validation_error_names_the_stage_column_check_and_rows():
    df = clean_frame(["2024-01-05"] * 3).assign(row_id=[0, 1, 1])
    message = rejected(CleanLedger, df)
    assert message.startswith("test: ")
    assert "column 'row_id'" in message and "field_uniqueness" in message and "rows [1, 2]" in message


def test_validation_error_lists_every_failure_at_once():
    df = clean_frame(["2024-01-05"]).assign(date=pd.NaT, amount=None)
    message = rejected(CLEAN_AS_CONFIGURED, df)
    assert "'date'" in message and "'amount'" in message


def test_write_then_read_round_trips_the_frame(work_dir):
    df = clean_frame(["2024-01-05", "2024-02-12"], supply_amount=[10000.0, None])
    frame = write_frame(df, CleanLedger, work_dir, "validate")
    assert frame.rows == 2 and frame.path.endswith(f"data-{frame.fingerprint}.parquet")
    pd.testing.assert_frame_equal(read_frame(frame, CleanLedger), validate(df, CleanLedger, "x"))


def test_write_frame_refuses_an_invalid_frame_and_writes_nothing(work_dir, tmp_path):
    with pytest.raises(FrameValidationError, match="validate/data"):
        write_frame(clean_frame(["2024-01-05"]).assign(date=pd.NaT), CLEAN_AS_CONFIGURED, work_dir, "validate")
    assert not list((tmp_path / "work").rglob("*.parquet"))


def test_fingerprint_is_stable_for_the_same_data_and_changes_with_it(work_dir):
    first = write_frame(clean_frame(["2024-01-05"]), CleanLedger, work_dir, "validate")
    again = write_frame(clean_frame(["2024-01-05"]), CleanLedger, work_dir, "validate")
    other = write_frame(clean_frame(["2024-01-06"]), CleanLedger, work_dir, "validate")
    assert first.fingerprint == again.fingerprint and first.path == again.path
    assert other.fingerprint != first.fingerprint


def test_read_frame_of_a_deleted_file_says_how_to_recover(work_dir):
    frame = write_frame(clean_frame(["2024-01-05"]), CleanLedger, work_dir, "validate")
    os.remove(frame.path)
    with pytest.raises(FileNotFoundError, match="--refresh-cache"):
        read_frame(frame, CleanLedger, "validate output")
