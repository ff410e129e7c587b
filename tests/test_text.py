"""Text serialization: one text per row from a template of conf/ (full or compact); only split, text and label leave."""

import math

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from ledger.conf import load_yaml
from ledger.frames import FrameValidationError, StageResult, read_frame, write_frame
from params.prepare import TextParams
from schemas import TextFrame, split_schema
from tasks.text import serialize, serialize_text, with_thousands

TEMPLATE = load_yaml("text_template.yaml")
ROW = {
    "date": pd.Timestamp("2024-01-05"),
    "vendor": "쿠팡",
    "description": "사무용품 구입",
    "amount": 11000.0,
    "supply_amount": 10000.0,
    "vat": 1000.0,
    "evidence_type": "세금계산서",
    "weekday": 4,
    "is_holiday": False,
    "holiday_name": np.nan,
    "amount_bucket": "10,000-50,000",
}
EXPECTED = (
    "일자: 2024-01-05 | 거래처: 쿠팡 | 적요: 사무용품 구입 | 금액: 11,000원 | 공급가액: 10,000원 | "
    "부가세: 1,000원 | 증빙: 세금계산서 | 요일: 금 | 공휴일: 아니오 | 금액대: 10,000-50,000"
)


def rows(*overrides: dict) -> pd.DataFrame:
    """Feature rows: ROW updated by each override (one row per override)."""
    return pd.DataFrame([{**ROW, **o} for o in overrides or [{}]])


# --- with_thousands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (5, "5"),
        (999, "999"),
        (1000, "1,000"),
        (1_002_003, "1,002,003"),
        (-5, "-5"),
        (-1000, "-1,000"),
        (-1_234_567, "-1,234,567"),
        (1e11, "100,000,000,000"),
        (999.6, "1,000"),  # rounded to whole units
        (1_000_000.0, "1,000,000"),
    ],
)
def test_with_thousands(value, text):
    assert with_thousands(pd.Series([value], dtype="float64")).tolist() == [text]


def test_with_thousands_keeps_missing_missing_and_formats_a_column_at_once():
    out = with_thousands(pd.Series([np.nan, 7.0, 12_345.0, None], dtype="float64"))
    assert out.iloc[1:3].tolist() == ["7", "12,345"]
    assert out.isna().tolist() == [True, False, False, True]


# --- serialize ------------------------------------------------------------------------------------


def test_serialize_known_row_gives_the_exact_text():
    # given one row of selected features with no holiday name
    # when serialized with the conf template, then fields come in template order and the blank one is left out
    assert serialize(rows(), TEMPLATE).tolist() == [EXPECTED]


def test_serialize_holiday_shows_flag_word_and_name():
    text = serialize(rows({"is_holiday": True, "holiday_name": "신정", "weekday": 0}), TEMPLATE).iloc[0]
    assert "| 요일: 월 | 공휴일: 예 | 휴일명: 신정 | 금액대:" in text


def test_serialize_negative_amount_and_month_end_flag():
    text = serialize(rows({"amount": -11000.0, "is_month_end": True}), TEMPLATE).iloc[0]
    assert "금액: -11,000원" in text and text.endswith("| 월말: 예 | 금액대: 10,000-50,000")


@pytest.mark.parametrize(
    ("column", "missing"),
    [("vendor", None), ("description", np.nan), ("supply_amount", np.nan), ("vat", np.nan)]
    + [("evidence_type", None), ("date", pd.NaT)],
)
def test_serialize_missing_value_leaves_its_field_out(column, missing):
    # given a row with one missing value (typed as the Parquet frames type it)
    text = serialize(rows({column: missing}), TEMPLATE).iloc[0]
    # then its field is gone, nothing like 'nan' or 'None' appears and the separators stay single
    label = next(f["label"] for f in TEMPLATE["fields"] if f["column"] == column)
    assert f"{label}:" not in text
    assert "nan" not in text.lower() and "none" not in text.lower() and "NaT" not in text
    assert "|  |" not in text and not text.startswith(" |") and not text.endswith("| ")


def test_serialize_rows_with_different_blanks_each_get_their_own_fields():
    df = rows({"vendor": None}, {}, {"description": None, "vat": np.nan})
    texts = serialize(df, TEMPLATE).tolist()
    assert ["거래처: 쿠팡" in t for t in texts] == [False, True, True]
    assert ["적요:" in t for t in texts] == [True, True, False]
    assert ["부가세:" in t for t in texts] == [True, True, False]


COMPACT = load_yaml("text_template_compact.yaml")


def test_compact_template_shows_values_alone_and_names_only_the_ambiguous_amounts():
    # given the known row / when serialized with the compact template
    text = serialize(rows(), COMPACT).iloc[0]
    # then values come alone in template order, the two amounts after the total keep a short name, no unit,
    # a false flag and a blank holiday name leave nothing
    assert text == "2024-01-05 | 금 | 쿠팡 | 사무용품 구입 | 11,000 | 공급: 10,000 | 부가세: 1,000 | 세금계산서"


def test_compact_template_shows_a_true_flag_as_its_word():
    # given a holiday at month end
    text = serialize(rows({"is_holiday": True, "holiday_name": "설날", "is_month_end": True}), COMPACT).iloc[0]
    # then each true flag is one word, beside the holiday's name
    assert text.endswith("| 세금계산서 | 휴일 | 설날 | 월말")


def test_an_empty_value_leaves_its_field_out_like_a_missing_one():
    # given a description that is an empty string (not missing)
    text = serialize(rows({"description": ""}), TEMPLATE).iloc[0]
    # then the field is gone, not shown as '적요: '
    assert "적요" not in text and "|  |" not in text


def test_compact_template_is_about_half_as_long_for_the_same_fields():
    # given a row with every template field filled
    full_row = {"payment_method": "법인카드", "department": "영업팀", "side": "차변", "business_no": "120-81-12345",
                "is_month_end": False}  # fmt: skip
    # when serialized both ways / then the compact text is at most 60% of the full one's characters
    full, compact = (serialize(rows(full_row), t).str.len().iloc[0] for t in (TEMPLATE, COMPACT))
    assert compact <= 0.6 * full


def test_serialize_skips_template_fields_the_frame_lacks():
    text = serialize(pd.DataFrame({"vendor": ["KT"], "amount": [33000.0]}), TEMPLATE).iloc[0]
    assert text == "거래처: KT | 금액: 33,000원"


# --- serialize_text -------------------------------------------------------------------------------


def split_stage(work_dir: str, df: pd.DataFrame) -> StageResult:
    """The split stage's output, written with the schema split_dataset writes it with."""
    return StageResult(data=write_frame(df, split_schema(list(df.columns)), work_dir, "split"))


def split_frame() -> pd.DataFrame:
    df = rows({}, {"vendor": "GS25", "description": "야근 식대", "amount": 5500.0, "vat": None, "supply_amount": None})
    df["account_code"], df["account_name"] = ["830", "811"], ["소모품비", "복리후생비"]
    df["label"], df["split"] = [2, 0], ["train", "test"]
    return df


def test_serialize_text_keeps_only_split_text_and_label(work_dir):
    # given two split rows with feature and label columns
    params = TextParams(template="text_template.yaml")
    result = serialize_text.fn(split_stage(work_dir, split_frame()), params, work_dir)
    # when read back, then only split, text and label are there, and the text is the template's
    out = read_frame(result.data, TextFrame)
    assert list(out.columns) == ["split", "text", "label"]
    assert out["split"].tolist() == ["train", "test"] and out["label"].tolist() == [2, 0]
    assert out["text"].iloc[0] == EXPECTED
    assert out["text"].iloc[1].startswith("일자: 2024-01-05 | 거래처: GS25 | 적요: 야근 식대 | 금액: 5,500원 | 증빙:")
    assert "830" not in out["text"].iloc[0] and "소모품비" not in out["text"].iloc[0]
    assert result.report["example"] == EXPECTED and result.report["chars_max"] == len(EXPECTED)
    assert math.isclose(result.report["chars_p50"], out["text"].str.len().median())


def test_a_split_output_that_breaks_its_schema_is_refused_on_read(work_dir):
    # given a split stage file written without its schema: a split the dataset does not know, a typed amount as text
    df = split_frame()
    df["split"], df["amount"] = ["train", "holdout"], ["5,500", "12,000"]
    stage = StageResult(data=write_frame(df, pa.DataFrameSchema(), work_dir, "split"))
    # when the text stage reads it, then it stops naming the stage file, the column and the rule
    with pytest.raises(FrameValidationError, match=r"split output(.|\n)*split(.|\n)*isin"):
        serialize_text.fn(stage, TextParams(template="text_template.yaml"), work_dir)


@pytest.mark.parametrize("column", ["account_code", "account_name", "label"])
def test_template_showing_a_label_column_is_refused(tmp_path, work_dir, column):
    # given a template that would show the answer
    template = {**TEMPLATE, "fields": [*TEMPLATE["fields"], {"column": column, "label": "계정", "kind": "text"}]}
    path = tmp_path / "leaky.yaml"
    path.write_text(yaml.safe_dump(template, allow_unicode=True), encoding="utf-8")
    # when serializing, then it fails naming the label leak
    with pytest.raises(ValueError, match=rf"shows label columns \['{column}'\]: the model would see the answer"):
        serialize_text.fn(split_stage(work_dir, split_frame()), TextParams(template=str(path)), work_dir)


def test_template_giving_empty_texts_is_refused(tmp_path, work_dir):
    path = tmp_path / "empty.yaml"
    path.write_text(
        yaml.safe_dump({**TEMPLATE, "fields": [{"column": "department", "label": "부서", "kind": "text"}]}),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="produced empty texts for 2 rows"):
        serialize_text.fn(split_stage(work_dir, split_frame()), TextParams(template=str(path)), work_dir)
