"""Header spellings real exports write (issue 29): the plain normalisation, the conf's loosening steps from strict to
loose, the note a loosened match carries into the mapping report, and the error when two candidates fit equally."""

import pytest

from ledger.columns import ColumnsConf, columns_conf, known_headers, match_columns, match_sided
from ledger.errors import HeaderClashError
from ledger.headers import combine_header
from ledger.spellings import HeaderRules, default_rules, header_candidates, loosened
from tasks.report import with_spelling_notes

CONF = columns_conf()
SPEC = {name: col.model_dump() for name, col in CONF.columns.items()}
KNOWN = known_headers(SPEC, CONF)


def step_of(header: str, spelling: str) -> tuple[str, str]:
    """(step, note) of the strictest step that spells `header` as `spelling`, with the shipped rules."""
    steps = ("exact", "drop", "suffix", "prefix", "ending")
    for name, spellings in zip(steps, loosened(header, CONF.header_rules), strict=True):
        if found := [s.note for s in spellings if s.text == spelling]:
            return name, found[0]
    raise AssertionError(f"{header!r} is never spelled {spelling!r}")


# --- the normalisation, step by step ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "spelling"),
    [("①일자", "일자"), ("⑵ 일자", "일자"), ("1. 일자", "일자"), ("(1) 일자", "일자"), ("1)일자", "일자"),
     ("거래 일자", "거래일자"), ("거래처 명", "거래처명"), ("공급가 액", "공급가액"), ("3.3%원천세", "3.3%원천세")],
)  # fmt: skip
def test_numbering_and_spaces_are_the_exact_step(header, spelling):
    # given a header numbered (circled or plain) or spaced / then it is the alias at the exact step, with no note
    assert step_of(header, spelling) == ("exact", "")


@pytest.mark.parametrize(
    ("header", "spelling", "step", "note"),
    [
        ("금액(원)", "금액", "drop", "by dropping (원)"),
        ("① 수입(원)금액", "수입금액", "drop", "by dropping (원)"),
        ("비용 (지출)부가세", "비용부가세", "drop", "by dropping (지출)"),
        ("금액[원]", "금액", "drop", "by dropping [원]"),
        ("적요란", "적요", "suffix", "by suffix 란"),
        ("적요내용", "적요", "suffix", "by suffix 내용"),
        ("상호명", "상호", "suffix", "by suffix 명"),
        ("부가세금액", "부가세", "suffix", "by suffix 금액"),
        ("수입란 금액", "수입금액", "suffix", "by suffix 란"),
        ("총 금액(원)", "금액", "prefix", "by dropping (원), prefix 총"),
        ("전표적요", "적요", "prefix", "by prefix 전표"),
        ("이용일시", "이용일자", "ending", "by ending 일시 as 일자"),
        ("공급액", "공급금액", "ending", "by ending 액 as 금액"),
        ("승인유형", "승인구분", "ending", "by ending 유형 as 구분"),
    ],
)
def test_each_loosening_step_says_why(header, spelling, step, note):
    # given a header real exports write / then the conf's rules spell it as the alias at that step, saying why
    assert step_of(header, spelling) == (step, note)


@pytest.mark.parametrize("header", ["잔액", "세액", "총액", "내용", "일자", "금액"])
def test_a_word_is_never_left_out_down_to_less_than_the_stem(header):
    # given a short header that ends (or starts) with a conf word / then loosening leaves it as it is
    assert header_candidates(header, CONF.header_rules) == [header]


def test_only_the_longest_ending_is_left_out():
    # given 출금금액 (it ends in 금액 and in 액) / then 금액 is left out, never 액 alone (no "출금금")
    assert "출금금" not in header_candidates("출금금액", CONF.header_rules)


def test_the_rules_are_the_conf_files():
    # given the shipped conf / then its header_rules are the defaults for a plain set of spellings
    assert default_rules() == CONF.header_rules and "란" in CONF.header_rules.suffixes
    # and a conf without the section drops only a trailing (...), as before header_rules existed
    old = ColumnsConf.model_validate({"columns": {}})
    assert header_candidates("적요란", old.header_rules) == ["적요란"]
    assert header_candidates("거래처(상호)", old.header_rules) == ["거래처(상호)", "거래처"]
    assert header_candidates("금액(원)합계", old.header_rules) == ["금액(원)합계"]


def test_a_drop_pattern_that_is_no_regex_is_a_conf_error():
    with pytest.raises(ValueError, match=r"header_rules.drop"):
        HeaderRules(drop=("([",))


# --- two-row headers ---------------------------------------------------------------------------------------------


def test_a_numbered_parenthesized_parent_meets_its_sub_headers():
    # given ① 수입(원) and 비용 (지출), each over 금액 / 부가세 (merged), and 적요란 over both rows
    top = ["적요란", "① 수입(원)", None, "비용 (지출)", None]
    sub = [None, "금액", "부가세", "금액", "부가세"]
    # when combined / then each column is the parent with its sub-header, which the drop step reads as known
    headers = combine_header(top, sub, KNOWN)
    assert headers == ["적요란", "① 수입(원)금액", "① 수입(원)부가세", "비용 (지출)금액", "비용 (지출)부가세"]


def test_a_parent_with_a_suffix_keeps_its_word_boundary():
    # given 수입란 over 금액 / when combined / then the parent and sub keep a space, so the suffix 란 is left out
    (header,) = combine_header(["수입란"], ["금액"], KNOWN)
    assert header == "수입란 금액"
    sided, notes = match_sided([header], CONF, set(), KNOWN)
    assert sided == {"입금": {"amount": "수입란 금액"}} and notes == {"수입란 금액": "by suffix 란"}


# --- matching: strict before loose, a note for the report, no guess ---------------------------------------------


def test_a_loosened_header_is_mapped_with_its_note():
    # given 적요란, 총금액 and exact headers / when matched / then the loosened ones carry why
    matched = match_columns(["일자", "적요란", "총금액"], SPEC, known=KNOWN)
    assert matched.mapping == {"일자": "date", "적요란": "description", "총금액": "amount"}
    assert matched.notes == {"적요란": "by suffix 란", "총금액": "by prefix 총"}


def test_an_exact_spelling_wins_over_a_loosened_one():
    # given 적요란 before 적요 / when matched / then the exact 적요 is the description; 적요란 is left unmapped
    matched = match_columns(["적요란", "적요", "금액(원)", "금액"], SPEC, known=KNOWN)
    assert matched.mapping == {"적요": "description", "금액": "amount"} and matched.notes == {}


def test_the_first_alias_listed_still_wins_between_exact_spellings():
    # given 비고 and 적요 (both exact description aliases; 적요 listed first) / then 적요, with no error
    assert match_columns(["비고", "적요"], SPEC, known=KNOWN).mapping == {"적요": "description"}


def test_a_stricter_step_wins_over_a_looser_one():
    # given 적요(메모) (drop step) and 적요란 (suffix step) / then the drop step's header is the description
    matched = match_columns(["적요란", "적요(메모)"], SPEC, known=KNOWN)
    assert matched.mapping == {"적요(메모)": "description"}


def test_a_header_spelled_as_another_column_is_never_loosened():
    # given 차변금액 (the 차변 side's exact spelling) / then it is not left as 차변 + 금액 for a regular column
    assert match_columns(["일자", "차변금액"], SPEC, known=KNOWN).mapping == {"일자": "date"}


def test_two_headers_fitting_one_column_equally_loosely_is_an_error_naming_both_and_the_fix():
    # given 적요란 and 비고란: both description by suffix 란
    with pytest.raises(HeaderClashError) as err:
        match_columns(["일자", "적요란", "비고란"], SPEC, known=KNOWN, url="ledger.csv")
    # then the error names the file, both headers and the ingest.columns line that settles it
    message = str(err.value)
    assert message.startswith("ledger.csv: headers '적요란' (by suffix 란) and '비고란' (by suffix 란)")
    assert "column description" in message and """--set 'ingest.columns={"적요란": "description"}'""" in message
    assert "ingest.columns" in err.value.hint


def test_the_override_the_error_names_settles_it():
    # given the same headers with ingest.columns naming 적요란 / then 적요란 is the description, 비고란 unmapped
    matched = match_columns(["일자", "적요란", "비고란"], SPEC, {"적요란": "description"}, KNOWN)
    assert matched.mapping == {"적요란": "description", "일자": "date"} and matched.notes == {}


def test_one_header_fitting_two_columns_equally_loosely_is_an_error():
    # given a conf where 거래처명 (vendor) and 거래처내역 (description) both meet 거래처명 내역 at the suffix step:
    # 내역 left out at its end, or 명 before its space
    spec = {"vendor": {"aliases": ["거래처명"]}, "description": {"aliases": ["거래처내역"]}}
    conf = ColumnsConf.model_validate(
        {"columns": {c: {"required": False, "kind": "text", **s} for c, s in spec.items()},
         "header_rules": {"suffixes": ["내역", "명"]}}
    )  # fmt: skip
    known = known_headers(spec, conf)
    # when matched / then the header is named with both columns and the line that settles it
    with pytest.raises(HeaderClashError, match=r"header '거래처명 내역' fits column vendor .*and column description"):
        match_columns(["거래처명 내역"], spec, known=known, url="x.csv")
    settled = match_columns(["거래처명 내역"], spec, {"거래처명 내역": "vendor"}, known)
    assert settled.mapping == {"거래처명 내역": "vendor"}
    # and without the space the header has one reading only
    assert match_columns(["거래처명내역"], spec, known=known).mapping == {"거래처명내역": "vendor"}


def test_two_headers_fitting_one_side_equally_loosely_is_an_error_naming_the_conf_line():
    with pytest.raises(HeaderClashError, match=r"the amount of side 입금.*sided_amounts\.입금\.amount"):
        match_sided(["입금(원)", "입금(원화)"], CONF, set(), KNOWN, "bank.csv")


# --- the mapping report ------------------------------------------------------------------------------------------


def test_the_mapping_report_says_why_a_header_was_loosened():
    # given a file's mapping as the report lists it, and the notes standardize kept
    files = [{"url": "f.csv", "mapping": {"일자": "date", "적요란": "description", "① 수입(원)금액": "amount (입금)"}}]
    metadata = {
        "layouts": [{"url": "f.csv", "notes": {"적요란": "by suffix 란", "① 수입(원)금액": "by dropping (원)"}}]
    }
    # then each loosened header's column says why, beside a side's name when it has one
    (noted,) = with_spelling_notes(files, metadata)
    assert noted["mapping"] == {
        "일자": "date",
        "적요란": "description (by suffix 란)",
        "① 수입(원)금액": "amount (입금, by dropping (원))",
    }
