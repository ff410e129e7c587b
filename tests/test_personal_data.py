"""Personal data detectors and masks (ledger.personal_data, ledger.checksums): pure, on tiny frames."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ledger import checksums
from ledger.personal_data import PersonalDataConf, load_personal_data, mask_frame, mask_text
from tests._personal import business_no, card_no, off_by_one, registration_no

CONF = load_personal_data()
RNG = np.random.default_rng(17)
RRN, FRN, CARD = registration_no(RNG), registration_no(RNG, foreigner=True), card_no(RNG)
COMPANY, SOLE = business_no(RNG, 81), business_no(RNG, 12)


def digits(*numbers: str) -> pd.Series:
    return pd.Series(["".join(c for c in n if c.isdigit()) for n in numbers], dtype="str")


def masked(cells: list[str | None], **options) -> tuple[list, dict]:
    df = pd.DataFrame({"적요": pd.Series(cells, dtype="str")})
    out, report = mask_frame(df, ["적요"], CONF, **options)
    counts = report.columns["적요"].cells if "적요" in report.columns else {}
    return out["적요"].tolist(), counts


def test_checksums_accept_valid_numbers_and_refuse_one_digit_off_or_a_wrong_length():
    # given valid numbers of each kind and the same numbers with the last digit changed
    cases = [(checksums.rrn, RRN), (checksums.foreigner_rn, FRN), (checksums.luhn, CARD),
             (checksums.business_no, COMPANY)]  # fmt: skip
    for check, number in cases:
        # when checked, then only the valid one passes, and a short or non-digit string never does
        assert check(digits(number, off_by_one(number))).tolist() == [True, False], number
        assert not check(pd.Series(["12345", "85010a1234566"], dtype="str")).any()
    # and a Korean's number is no foreigner's and the reverse (their formulas differ)
    assert checksums.foreigner_rn(digits(RRN)).tolist() == [False]
    assert checksums.rrn(digits(FRN)).tolist() == [False]


def test_a_sole_proprietors_business_number_is_told_from_a_companys():
    assert checksums.brn_sole_proprietor(digits(SOLE, COMPANY, off_by_one(SOLE))).tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        (f"급여 원천징수 {RRN}", "rrn", f"급여 원천징수 {RRN[:8]}******"),
        (f"외국인 근로자 {FRN} 급여", "foreigner_rn", f"외국인 근로자 {FRN[:8]}****** 급여"),
        (f"카드 {CARD} 결제", "card", f"카드 {CARD[:4]}-****-****-{CARD[-4:]} 결제"),
        (f"카드 {CARD.replace('-', '')} 결제", "card", f"카드 {CARD[:4]}********{CARD[-4:]} 결제"),
        ("연락 010-2345-6789 부탁", "phone", "연락 010-****-6789 부탁"),
        ("연락 01023456789", "phone", "연락 010****6789"),
        ("대표 02-123-4567", "phone", "대표 02-***-4567"),
        ("이체 110-123-456789 급여", "account", "이체 ***-***-**6789 급여"),
        ("카카오 3333-01-1234567", "account", "카카오 ****-**-***4567"),
        ("입금 계좌 11012345678901", "account", "입금 계좌 **********8901"),
        ("청구서 kim.minsu@example.co.kr 발송", "email", "청구서 k***@example.co.kr 발송"),
    ],
)
def test_each_kind_in_free_text_is_masked_to_a_form_that_keeps_what_it_is(text, kind, expected):
    # when a 적요 carrying one value of the kind is masked
    cells, counts = masked([text])
    # then the value keeps its shape and kind-telling digits only, and the cell is counted under its kind
    assert cells == [expected] and counts == {kind: 1}


def test_lookalikes_that_fail_a_checksum_and_ordinary_numbers_are_left_alone():
    # given numbers that look like personal data but fail the checksum, and the numbers ledgers are full of
    cells = [
        f"참조 {off_by_one(RRN)}", f"참조 {off_by_one(CARD)}", f"{off_by_one(FRN)}", "2024-01-05", "1,234,567",
        f"거래처 {COMPANY}", f"개인사업자 {SOLE}", "승인번호 12345678", "전표 20240105-000123", "1588-1234", None, "",
    ]  # fmt: skip
    # when masked
    out, counts = masked(cells)
    # then nothing changed and nothing was counted
    assert pd.Series(out, dtype="str").fillna("-").tolist() == pd.Series(cells, dtype="str").fillna("-").tolist()
    assert counts == {}


def test_a_sole_proprietors_business_number_is_masked_only_when_asked_and_a_companys_never():
    cells = [f"거래처 {SOLE}", f"거래처 {COMPANY}"]
    assert masked(cells)[0] == cells
    out, counts = masked(cells, sole_proprietors=True)
    assert out == [f"거래처 {SOLE[:7]}*****", cells[1]] and counts == {"sole_proprietor_no": 1}


def test_a_business_number_column_of_sole_proprietors_is_masked_but_never_left_out():
    df = pd.DataFrame({"사업자번호": [business_no(RNG, 12 + i) for i in range(5)]}, dtype="str")
    out, report = mask_frame(df, ["사업자번호"], CONF, sole_proprietors=True)
    assert out["사업자번호"].str.endswith("-*****").all() and report.columns["사업자번호"].cells == {
        "sole_proprietor_no": 5
    }
    assert report.dedicated() == {}


def test_a_column_named_for_its_kind_is_masked_whole_checksum_or_not_and_holds_only_it():
    # given a 주민등록번호 column with a number issued after 2020 (no checksum) and a 카드번호 column
    df = pd.DataFrame({"주민등록번호": [off_by_one(RRN), None], "카드번호": [CARD, "1234-56**-****-3456"]}, dtype="str")
    # when masked
    out, report = mask_frame(df, list(df.columns), CONF)
    # then every filled cell is masked by its header's kind, and both columns hold only personal data
    assert out["주민등록번호"].tolist()[0] == off_by_one(RRN)[:8] + "******" and pd.isna(out["주민등록번호"][1])
    assert out["카드번호"].tolist() == [f"{CARD[:4]}-****-****-{CARD[-4:]}", "1234-****-****-3456"]
    assert report.dedicated() == {"주민등록번호": "rrn", "카드번호": "card"}
    assert report.totals() == {"rrn": 1, "card": 2}


def test_a_column_whose_cells_are_nearly_all_one_kind_holds_only_it_and_a_mixed_one_does_not():
    phones = [f"010-{2000 + i}-{3000 + i}" for i in range(10)]
    df = pd.DataFrame({"비고": phones, "적요": [f"식대 {p}" for p in phones]}, dtype="str")
    out, report = mask_frame(df, list(df.columns), CONF)
    assert report.dedicated() == {"비고": "phone"}
    assert report.columns["적요"].cells == {"phone": 10} and out["적요"][0] == "식대 010-****-3000"


def test_card_users_names_are_masked_in_their_column_and_wherever_else_they_appear():
    # given a card user column with a shared card ("공용") and the users named in the 적요
    df = pd.DataFrame({"이용자": ["홍길동", "공용", "성춘향"], "적요": ["홍길동 출장 식대", "공용 비품", "회의비"]})
    # when masked
    out, report = mask_frame(df.astype("str"), ["이용자", "적요"], CONF)
    # then the user column is masked whole, the user's name in the 적요 too, and "공용" is no name elsewhere
    assert out["이용자"].tolist() == ["홍**", "공*", "성**"]
    assert out["적요"].tolist() == ["홍** 출장 식대", "공용 비품", "회의비"]
    assert report.columns["적요"].cells == {"name": 1} and report.dedicated() == {"이용자": "name"}


def test_with_masking_off_values_are_counted_but_kept():
    cells = [f"원천징수 {RRN}", f"카드 {CARD}"]
    df = pd.DataFrame({"적요": cells}, dtype="str")
    out, report = mask_frame(df, ["적요"], CONF, mask=False)
    assert out["적요"].tolist() == cells and not report.masked
    assert report.columns["적요"].cells == {"rrn": 1, "card": 1}


def test_free_text_is_masked_too_with_the_names_of_the_name_columns():
    assert mask_text([f"카드번호 {CARD} 이용내역", "사용자 홍길동 2024년 1월"], CONF, names=["홍길동"]) == [
        f"카드번호 {CARD[:4]}-****-****-{CARD[-4:]} 이용내역",
        "사용자 홍** 2024년 1월",
    ]


def test_a_detector_conf_with_an_unknown_key_or_check_is_refused():
    data = load_personal_data().model_dump()
    data["detectors"][0]["checksum"] = "rrn"
    with pytest.raises(ValidationError, match="checksum"):
        PersonalDataConf.model_validate(data)
    data = load_personal_data().model_dump()
    data["detectors"][0]["check"] = "crc32"
    with pytest.raises(ValidationError, match="check"):
        PersonalDataConf.model_validate(data)
