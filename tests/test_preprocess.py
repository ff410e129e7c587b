"""Preprocess stages: clean, filter, normalize, validate; every row is accepted or rejected with a reason."""

import unicodedata

import pandas as pd
import pytest

from params.prepare import CleanParams, FilterParams, IngestParams, NormalizeParams, ValidateParams
from tasks.preprocess import clean_ledger, filter_ledger, normalize_values, validate_ledger
from tests._stages import assert_rows_accounted, frames, ingest, ledger_stage
from tests.conftest import HEADER, ROWS, write_csv

INGEST = IngestParams()


def clean(work_dir, rows, **params):
    return clean_ledger.fn(ledger_stage(work_dir, rows), CleanParams(**params), work_dir)


def filtered(work_dir, rows, **params):
    return filter_ledger.fn(ledger_stage(work_dir, rows, "clean"), FilterParams(**params), INGEST, work_dir)


def validated(work_dir, rows, labels_required=False, **params):
    stage = ledger_stage(work_dir, rows, "normalize")
    return validate_ledger.fn(stage, ValidateParams(**params), IngestParams(), labels_required, work_dir)


def only_reject(result, rows_in):
    """The one rejected row of a stage (and the rows accounting holds)."""
    assert_rows_accounted(result, rows_in)
    _, rejects = frames(result)
    assert len(rejects) == 1
    return rejects.iloc[0]


# --- clean_ledger ---------------------------------------------------------------------------------


def test_clean_rejects_blank_repeated_header_and_duplicate_rows_from_a_csv(tmp_path, work_dir):
    # given a CSV with an all-blank row, the header repeated mid-file and a duplicate of row 1
    path = write_csv(tmp_path / "l.csv", [HEADER, ROWS[0], ",,,,,,,,,", HEADER, ROWS[1], ROWS[0]])
    _, standardized = ingest(path, work_dir)
    # when cleaned
    result = clean_ledger.fn(standardized, CleanParams(), work_dir)
    # then each goes to rejects under its own rule, and nothing is lost
    assert_rows_accounted(result, rows_in=5)
    accepted, rejects = frames(result)
    assert accepted["vendor"].tolist() == ["쿠팡", "GS25"]
    assert dict(zip(rejects["rule"], rejects["source_row"], strict=True)) == {
        "blank_row": 3,
        "repeated_header": 4,
        "duplicate": 6,
    }
    assert result.report["rules"] == {"blank_row": 1, "repeated_header": 1, "duplicate": 1}
    assert result.report["duplicates"] == 1


def test_clean_duplicate_detail_names_the_row_it_repeats(work_dir):
    result = clean(work_dir, [{}, {"vendor": "KT"}, {}])
    reject = only_reject(result, rows_in=3)
    assert (reject["rule"], reject["stage"], reject["row_id"]) == ("duplicate", "clean", 2)
    assert reject["detail"].startswith("duplicate of row_id 0 (line ")
    assert reject["vendor"] == "쿠팡"  # the row's text travels with it


def test_clean_rows_differing_only_in_spacing_are_duplicates(work_dir):
    result = clean(work_dir, [{"description": "사무용품 구입"}, {"description": "  사무용품\u3000 구입 "}])
    assert only_reject(result, rows_in=2)["rule"] == "duplicate"


def test_clean_keeps_duplicates_when_asked_to(work_dir):
    result = clean(work_dir, [{}, {}], drop_duplicates=False)
    assert_rows_accounted(result, rows_in=2)
    assert result.data.rows == 2 and result.report["rules"] == {}


def test_clean_rejects_a_row_of_whitespace_cells_as_blank(work_dir):
    blank = {"date": " ", "vendor": "\u3000", "description": "", "amount": None}
    assert only_reject(clean(work_dir, [{}, blank]), rows_in=2)["rule"] == "blank_row"


def test_clean_tidies_text_to_nfc_and_single_spaces(work_dir):
    decomposed = unicodedata.normalize("NFD", "쿠팡")
    accepted, _ = frames(clean(work_dir, [{"vendor": f" {decomposed} ", "description": "야근   식대"}]))
    assert accepted.loc[0, "vendor"] == "쿠팡" and accepted.loc[0, "description"] == "야근 식대"


# --- filter_ledger --------------------------------------------------------------------------------

CODES = [{"account_code": "830"}, {"account_code": "811"}, {"account_code": None}]


def test_filter_include_codes_keeps_listed_codes_and_unlabeled_rows(work_dir):
    result = filtered(work_dir, CODES, include_account_codes=["830"])
    reject = only_reject(result, rows_in=3)
    assert (reject["account_code"], reject["rule"]) == ("811", "filtered:include_account_codes")
    assert reject["stage"] == "filter" and reject["detail"] == "left out by filter.include_account_codes"


def test_filter_exclude_codes_leaves_out_listed_codes(work_dir):
    reject = only_reject(filtered(work_dir, CODES, exclude_account_codes=["830"]), rows_in=3)
    assert (reject["account_code"], reject["rule"]) == ("830", "filtered:exclude_account_codes")


def test_filter_include_codes_matches_codes_a_spreadsheet_wrote_as_numbers(work_dir):
    result = filtered(work_dir, [{"account_code": "830.0"}], include_account_codes=["830"])
    assert result.data.rows == 1


def test_filter_exclude_vendors(work_dir):
    result = filtered(work_dir, [{"vendor": "쿠팡"}, {"vendor": "KT"}], exclude_vendors=["KT"])
    assert only_reject(result, rows_in=2)["rule"] == "filtered:exclude_vendors"


def test_filter_date_range_is_inclusive_and_leaves_unparsable_dates_to_validate(work_dir):
    # given dates before, on both bounds of, after the range, and one that is not a date
    days = ["2023-12-31", "2024.01.01", "2024-01-31", "2024-02-01", "모름"]
    result = filtered(work_dir, [{"date": d} for d in days], date_from="2024-01-01", date_to="2024-01-31")
    # when filtered, then only the rows outside the range are left out, each with its bound's name
    assert_rows_accounted(result, rows_in=5)
    accepted, rejects = frames(result)
    assert accepted["date"].tolist() == ["2024.01.01", "2024-01-31", "모름"]
    assert rejects["rule"].tolist() == ["filtered:date_from", "filtered:date_to"]


def test_filter_a_row_matching_two_filters_is_rejected_once(work_dir):
    rows = [{"vendor": "KT", "account_code": "830"}]
    result = filtered(work_dir, rows, exclude_account_codes=["830"], exclude_vendors=["KT"])
    assert only_reject(result, rows_in=1)["rule"] == "filtered:exclude_account_codes"


def test_filter_drops_optional_columns(work_dir):
    accepted, _ = frames(
        filtered(work_dir, [{"vat": "1000", "department": "총무"}], drop_columns=["vat", "department"])
    )
    assert "vat" not in accepted.columns and "department" not in accepted.columns


def test_filter_dropping_a_required_column_is_an_error(work_dir):
    with pytest.raises(ValueError, match="'amount'.*required"):
        filtered(work_dir, [{}], drop_columns=["amount", "vat"])


# --- normalize_values -----------------------------------------------------------------------------


def test_normalize_maps_evidence_spellings_and_reports_unknown_ones(work_dir):
    # given evidence types as real exports spell them
    spellings = ["전자세금계산서", "세금 계산서", "법인카드", "현영", "간이영수증", "미수취", "상품권"]
    stage = ledger_stage(work_dir, [{"evidence_type": s} for s in spellings], "filter")
    # when normalized
    result = normalize_values.fn(stage, NormalizeParams(), INGEST, work_dir)
    # then each becomes its canonical value, and the unknown one becomes 기타 and is reported
    accepted = frames(result)[0]
    assert accepted["evidence_type"].tolist() == [
        "세금계산서",
        "세금계산서",
        "신용카드",
        "현금영수증",
        "영수증",
        "없음",
        "기타",
    ]
    assert result.report["unmapped_values"] == {"evidence_type": {"상품권": 1}}


def test_normalize_formats_business_numbers_codes_side_and_payment(work_dir):
    row = {"business_no": "1208112345", "account_code": "830.0", "side": "DR", "payment_method": "인터넷뱅킹"}
    stage = ledger_stage(work_dir, [row], "filter")
    accepted = frames(normalize_values.fn(stage, NormalizeParams(), INGEST, work_dir))[0]
    assert accepted.loc[0, ["business_no", "account_code", "side", "payment_method"]].tolist() == [
        "120-81-12345",
        "830",
        "차변",
        "계좌이체",
    ]


# --- validate_ledger ------------------------------------------------------------------------------


def test_validate_accepts_a_good_row_typed(work_dir):
    result = validated(work_dir, [{"amount": "₩11,000", "date": "2024년 1월 5일"}])
    assert_rows_accounted(result, rows_in=1)
    accepted = frames(result)[0]
    assert accepted.loc[0, "date"] == pd.Timestamp("2024-01-05") and accepted.loc[0, "amount"] == 11000.0


@pytest.mark.parametrize(
    ("cells", "rule", "shown"),
    [
        ({"amount": "일만원"}, "amount_unparsable", "amount='일만원'"),
        ({"supply_amount": "십만"}, "amount_unparsable", "supply_amount='십만'"),
        ({"date": "2024-02-30"}, "date_unparsable", "date='2024-02-30'"),
        ({"date": "1999-12-31"}, "date_out_of_range", "date='1999-12-31'"),
        ({"date": "2036-01-01"}, "date_out_of_range", "date='2036-01-01'"),
        ({"vendor": None, "description": None}, "required_blank", "vendor=''"),  # one of the two is needed
    ],
)
def test_validate_rejects_a_broken_rule_with_the_original_text(work_dir, cells, rule, shown):
    # given a good row and a row that breaks one rule
    result = validated(work_dir, [{}, cells])
    # when validated, then the bad row is rejected with its rule, detail and its cells as text
    reject = only_reject(result, rows_in=2)
    assert (reject["stage"], reject["rule"], reject["row_id"]) == ("validate", rule, 1)
    assert shown in reject["detail"]
    for column, value in cells.items():
        assert reject[column] == value or (value is None and pd.isna(reject[column]))


def test_validate_vat_within_tolerance_is_accepted(work_dir):
    # 10,000 + 1,000 vs 11,008: off by 8, inside the 10 KRW tolerance
    result = validated(work_dir, [{"amount": "11008", "supply_amount": "10000", "vat": "1000"}])
    assert result.data.rows == 1 and result.rejects.rows == 0


def test_validate_vat_outside_tolerance_is_rejected(work_dir):
    # 10,000 + 1,000 vs 11,050: off by 50, more than max(10, 0.1% of 11,050)
    reject = only_reject(validated(work_dir, [{"amount": "11050", "supply_amount": "10000", "vat": "1000"}]), 1)
    assert reject["rule"] == "vat_mismatch" and "vat='1000'" in reject["detail"]


def test_validate_vat_tolerance_grows_with_the_amount(work_dir):
    # 0.1% of 11,000,000 is 11,000: an 8,000 gap is still rounding
    row = {"amount": "11000000", "supply_amount": "10000000", "vat": "992000"}
    assert validated(work_dir, [row]).data.rows == 1


def test_validate_label_blank_is_rejected_only_when_labels_are_required(work_dir):
    rows = [{"account_code": "830"}, {"account_code": None}]
    assert validated(work_dir, rows, labels_required=False).data.rows == 2
    reject = only_reject(validated(work_dir, rows, labels_required=True), rows_in=2)
    assert reject["rule"] == "required_blank" and "account_code" in reject["detail"]


def test_validate_negative_amounts_are_allowed_by_default(work_dir):
    result = validated(work_dir, [{"amount": "(1,200)"}, {"amount": "△500"}])
    assert frames(result)[0]["amount"].tolist() == [-1200.0, -500.0]


def test_validate_negative_amounts_rejected_when_not_allowed(work_dir):
    result = validated(work_dir, [{}, {"amount": "(1,200)"}], allow_negative_amounts=False)
    reject = only_reject(result, rows_in=2)
    assert (reject["rule"], reject["amount"]) == ("negative_amount", "(1,200)")


def test_validate_a_row_breaking_two_rules_names_both_in_the_detail(work_dir):
    reject = only_reject(validated(work_dir, [{"vendor": None, "description": None, "amount": "abc"}]), rows_in=1)
    assert reject["rule"] == "required_blank"
    assert "required_blank(vendor=''" in reject["detail"] and "amount_unparsable(amount='abc')" in reject["detail"]


def test_required_values_come_from_the_columns_conf(work_dir, tmp_path):
    # given a row without a vendor, and a columns conf where the vendor is required (this user's books name one)
    import yaml

    from ledger.conf import conf_path

    spec = yaml.safe_load(conf_path("columns.yaml").read_text(encoding="utf-8"))
    spec["columns"]["vendor"]["required"] = True
    required_vendor = tmp_path / "columns.yaml"
    required_vendor.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    rows = [{"vendor": None}]
    # when validated with the default conf / then the row is accepted (its 적요 is enough: salary lines have no 거래처)
    accepted, rejects = frames(validated(work_dir, rows))
    assert len(accepted) == 1 and rejects.empty
    # when validated with the conf that makes the vendor required / then it is rejected as required_blank
    stage = ledger_stage(work_dir, rows, "normalize")
    ingest = IngestParams(columns_conf=str(required_vendor))
    result = validate_ledger.fn(stage, ValidateParams(), ingest, False, work_dir)
    _, rejects = frames(result)
    assert rejects["rule"].tolist() == ["required_blank"]


def test_a_columns_conf_cannot_make_date_or_amount_optional(work_dir, tmp_path):
    # given a conf that marks the amount optional / when validating / then a clear error names it
    import yaml

    from ledger.conf import conf_path

    spec = yaml.safe_load(conf_path("columns.yaml").read_text(encoding="utf-8"))
    spec["columns"]["amount"]["required"] = False
    conf = tmp_path / "columns.yaml"
    conf.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    stage = ledger_stage(work_dir, [{}], "normalize")
    with pytest.raises(ValueError, match=r"\['amount'\] must be `required: true`"):
        validate_ledger.fn(stage, ValidateParams(), IngestParams(columns_conf=str(conf)), False, work_dir)
