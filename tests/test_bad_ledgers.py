"""The failure suite: bad ledgers through the real prepare_data flow, each refused clearly or quarantined.

Refused (table REFUSED in tests/_bad_ledgers.py), with an error naming the file and the column or line(s)
concerned: missing required column, unknown header spelling, no label column, empty file, whitespace-only file,
header only, binary garbage, wrong encoding (a Latin-1 line), a UTF-8 file with one CP949 line, UTF-16 without
its byte-order mark, NUL bytes in a cell, not a ledger at all, rows with too many cells, a quote never closed,
corrupt xlsx, missing xlsx sheet, corrupt Parquet, Parquet without a required column, a second file lacking a
column, a folder with no ledger files, a glob matching nothing, a missing path, every row rejected.

Quarantined (table QUARANTINED below; rows_in == accepted + rejected, each reject with its line, rule and
reason, good rows parsed right): mixed date formats, impossible dates, dates far out of range, amounts with
currency signs and commas, full-width digits, non-numeric amounts, absurd amounts, negative amounts (when
disallowed), supply + VAT != total, blank labels, blank required cells, the header repeated inside the data,
blank and whitespace-only rows, duplicate rows, xlsx blank and merged rows, formulas in cells, xlsx formulas
without a cached value, short rows, a huge text cell, a quoted cell spanning lines, title rows above the header,
Excel "CSV UTF-8" (BOM, CRLF, a blank line), a CP949 file, a UTF-16 tab-separated file, trailing delimiters,
two files spelling the headers differently, odd category values (unknown evidence type, malformed business
number, code written as 830.0, a code not in the chart of accounts: kept, nothing checks codes against it).
"""

from pathlib import Path

import pandas as pd
import pytest

from flows.prepare import prepare_data
from params.prepare import PrepareParams
from tests._bad_ledgers import (
    BLANK,
    COLUMNS,
    NO_VAT,
    OTHER_SPELLINGS,
    REFUSED,
    TABS,
    VENDORS,
    Quarantined,
    Refused,
    cells,
    day,
    files,
    line,
    lines_with,
    quarantined,
    text_file,
    xlsx,
)
from tests._tiers import fast_sample
from tests.conftest import HEADER as H
from tests.conftest import ROWS as R

pytestmark = pytest.mark.usefixtures("prefect_harness")
DATE_SPELLINGS = ["2024-01-05", "2024.01.06", "20240107", "2024/1/8", "2024년 1월 9일", "45301", "01/05/2024"]


@pytest.mark.parametrize("kind", REFUSED)
def test_unreadable_ledger_is_refused_naming_the_file_and_where(kind: Refused, tmp_path: Path, work_dir: str):
    # given a ledger the flow cannot read, or nothing of which is usable
    folder = tmp_path / "in"
    folder.mkdir()
    params = {"input": kind.build(folder), "work_dir": work_dir, "model": None, **kind.params}
    # when it is prepared through the real flow
    with pytest.raises(kind.error) as info:
        prepare_data(PrepareParams.model_validate(params))
    # then the error names the file and the column, line(s) or problem concerned
    message = str(info.value)
    assert str(folder / kind.file) in message, message
    for name in kind.names:
        assert name in message, message


QUARANTINED = [
    quarantined(
        "mixed_date_formats",  # 45301: an Excel serial
        text_file([H, *lines_with("일자", DATE_SPELLINGS)]),
        {8: ("date_unparsable", "date='01/05/2024'")},
        {2 + i: {"date": day(f"2024-01-{5 + i:02d}")} for i in range(6)},
    ),
    quarantined(
        "impossible_dates",
        text_file([H, R[0], *lines_with("일자", ["2024-02-30", "2024-13-01", "2023-02-29"])]),
        {
            3: ("date_unparsable", "'2024-02-30'"),
            4: ("date_unparsable", "'2024-13-01'"),
            5: ("date_unparsable", "'2023-02-29'"),
        },
        {2: {"date": day("2024-01-05")}},
    ),
    quarantined(
        "dates_far_out_of_range",
        text_file([H, R[0], *lines_with("일자", ["1900-01-01", "2099-12-31"])]),
        {3: ("date_out_of_range", "date='1900-01-01'"), 4: ("date_out_of_range", "date='2099-12-31'")},
        {2: {}},
    ),
    quarantined(
        "amounts_with_currency_signs_and_commas",
        text_file(
            [H, line(금액="₩11,000"), *lines_with("금액", ["5,500원", "(1,000)", "KRW 3,000", "△500"], **NO_VAT)]
        ),
        {},
        {2: {"amount": 11000}, 3: {"amount": 5500}, 4: {"amount": -1000}, 5: {"amount": 3000}, 6: {"amount": -500}},
    ),
    quarantined(
        "full_width_digits",
        text_file(
            [H, line(일자="２０２４－０１－０５", 금액="１１，０００", 공급가액="１０，０００", 부가세="１，０００")]
        ),
        {},
        {2: {"date": day("2024-01-05"), "amount": 11000, "supply_amount": 10000, "vat": 1000}},
    ),
    quarantined(
        "non_numeric_amounts",
        text_file([H, R[0], *lines_with("금액", ["일만원", "abc"]), line(공급가액="십만")]),
        {
            3: ("amount_unparsable", "amount='일만원'"),
            4: ("amount_unparsable", "'abc'"),
            5: ("amount_unparsable", "supply_amount='십만'"),
        },
        {2: {"amount": 11000}},
    ),
    quarantined(
        "absurd_amounts",  # 1.1E+04 is how a spreadsheet may write 11000: kept
        text_file([H, R[0], *lines_with("금액", ["99999999999999999999999", "1e400", "inf", "1.1E+04"], **NO_VAT)]),
        {
            3: ("amount_out_of_range", "'99999999999999999999999'"),
            4: ("amount_unparsable", "'1e400'"),
            5: ("amount_unparsable", "'inf'"),
        },
        {2: {}, 6: {"amount": 11000}},
    ),
    quarantined(
        "negative_amounts_when_disallowed",
        text_file([H, R[0], *lines_with("금액", ["(1,000)", "-3000"], **NO_VAT)]),
        {3: ("negative_amount", "amount='(1,000)'"), 4: ("negative_amount", "amount='-3000'")},
        {2: {}},
        params={"preprocess": {"validate": {"allow_negative_amounts": False}}},
    ),
    quarantined(
        "supply_plus_vat_not_total",  # 10,000 + 1,000 vs 12,000 is off; vs 11,008 is rounding (10 KRW tolerance)
        text_file([H, R[0], *lines_with("금액", ["12000", "11008"])]),
        {3: ("vat_mismatch", "vat='1000'")},
        {2: {}, 4: {"amount": 11008}},
    ),
    quarantined(
        "blank_labels",  # a missing and a whitespace-only code (other vendors, or they would be duplicates)
        text_file([H, R[0], line(계정코드=None, 거래처="x"), line(계정코드="  ", 거래처="y")]),
        {3: ("required_blank", "account_code=''"), 4: ("required_blank", "account_code=''")},
        {2: {"account_code": "830"}},
    ),
    quarantined(
        "blank_required_cells",
        text_file([H, R[0], line(거래처=None, 적요=None), line(일자=None), line(적요="\u3000 ")]),
        {3: ("required_blank", "vendor=''"), 4: ("required_blank", "date=''")},
        {2: {}, 5: {"vendor": "쿠팡"}},  # a line needs a 거래처 or a 적요, not both
    ),
    quarantined(
        "header_repeated_inside_the_data",
        text_file([H, R[0], H, R[1]]),
        {3: ("repeated_header", "the header line repeated")},
        {2: {}, 4: {"vendor": "GS25"}},
    ),
    quarantined(
        "blank_and_whitespace_only_rows",
        text_file([H, R[0], "", ",,,,,,,,,", R[1], " , ,\u3000, ,,,,,,"]),
        {3: BLANK, 4: BLANK, 6: BLANK},
        {2: {}, 5: {}},
    ),
    quarantined(
        "duplicate_rows",  # line 5 differs only in spacing
        text_file([H, R[0], R[1], R[0], R[0].replace("사무용품 구입", " 사무용품  구입")]),
        {4: ("duplicate", "duplicate of row_id 0 (line 2)"), 5: ("duplicate", "duplicate of row_id 0 (line 2)")},
        {2: {}, 3: {}},
    ),
    quarantined(
        "xlsx_blank_and_merged_rows",  # sheet row 3 blank; A4:A5 merged, so row 5 has no date of its own
        xlsx(
            [COLUMNS, cells(), [None] * 10, cells(거래처="x"), cells(거래처="y"), cells(거래처="z")], merge=("A4:A5",)
        ),
        {3: BLANK, 5: ("required_blank", "date=''")},
        {2: {}, 4: {"vendor": "x", "date": day("2024-01-05")}, 6: {"vendor": "z"}},
    ),
    quarantined(
        "formulas_in_cells",  # kept as text; quoted in rejects.csv so that a spreadsheet does not run them
        text_file([H, line(적요='=HYPERLINK("http://x.kr")'), *lines_with("금액", ["=E2*1.1", "@SUM(E2)"])]),
        {3: ("amount_unparsable", "amount='=E2*1.1'"), 4: ("amount_unparsable", "amount='@SUM(E2)'")},
        {2: {"description": '=HYPERLINK("http://x.kr")'}},
        csv_cells={3: {"amount": "'=E2*1.1"}, 4: {"amount": "'@SUM(E2)"}},
    ),
    quarantined(
        "xlsx_formula_without_cached_value",  # written by a tool, not Excel: no value to read
        xlsx([COLUMNS, cells(금액=11000), cells(금액="=F3+G3")]),
        {3: ("required_blank", "amount=''")},
        {2: {"amount": 11000}},
    ),
    quarantined(
        "short_rows",  # line 3 stops after the amount: its label cell is blank
        text_file([H, R[0], ",".join(R[1].split(",")[:5]), R[2]]),
        {3: ("required_blank", "account_code=''")},
        {2: {}, 4: {"vendor": "KT"}},
    ),
    quarantined(
        "huge_text_cell",
        text_file([H, line(적요="가" * 200_000), R[1]]),
        {},
        {2: {"description": "가" * 200_000}, 3: {}},
    ),
    quarantined(
        "quoted_cell_spanning_lines",
        text_file([H, line(적요="사무용품\n구입"), R[1], R[2]]),
        {},
        {2: {"description": "사무용품 구입"}, 4: {"vendor": "GS25"}, 5: {"vendor": "KT"}},
    ),
    quarantined(
        "title_rows_above_the_header",
        text_file(["2024년 계정별원장,,", "(주)테스트,,", H, *R]),
        {},
        {row + 2: values for row, values in VENDORS.items()},
    ),
    quarantined(
        "excel_csv_utf8_bom_crlf_blank_line",  # no BOM stuck to 일자, no CR stuck to the last cell
        text_file([H, R[0], "", R[1]], encoding="utf-8-sig", eol="\r\n"),
        {3: BLANK},
        {2: {"date": day("2024-01-05")}, 4: {"account_name": "복리후생비"}},
    ),
    quarantined("cp949_file", text_file([H, *R], encoding="cp949"), {}, VENDORS),
    quarantined("utf16_tab_file", text_file(TABS, name="ledger.txt", encoding="utf-16", eol="\r\n"), {}, VENDORS),
    quarantined("trailing_delimiters", text_file([H + ",", *[row + "," for row in R]]), {}, VENDORS),
    quarantined(
        "two_files_spelling_headers_differently",
        files(text_file([H, *R[:2]], name="a.csv"), text_file([*OTHER_SPELLINGS, *R[2:]], name="b.csv")),
        {},
        {**VENDORS, 4: {"vendor": "KT", "business_no": "120-81-12345", "amount": 33000}, 5: {"account_code": "815"}},
    ),
    quarantined(
        "odd_category_values",  # unknown evidence type, short business number, 830.0, a code not in the chart
        text_file(
            [H, line(증빙구분="상품권"), line(사업자번호="12-34"), line(계정코드="830.0"), line(계정코드="99999")]
        ),
        {},
        {
            2: {"evidence_type": "기타"},
            3: {"business_no": "1234"},
            4: {"account_code": "830"},
            5: {"account_code": "99999"},
        },
    ),
]


# the fast tier keeps one case per family of rules: dates, amounts, labels, duplicates, xlsx, encodings, layout, headers
FAST_QUARANTINED = {
    "mixed_date_formats", "non_numeric_amounts", "blank_labels", "duplicate_rows", "xlsx_blank_and_merged_rows",
    "cp949_file", "title_rows_above_the_header", "two_files_spelling_headers_differently",
}  # fmt: skip


@pytest.mark.parametrize("kind", fast_sample(QUARANTINED, FAST_QUARANTINED))
def test_bad_rows_are_quarantined_with_line_and_rule(kind: Quarantined, tmp_path: Path, work_dir: str):
    # given a ledger with bad rows (or an odd format whose rows are all good)
    folder = tmp_path / "in"
    folder.mkdir()
    params = {"input": kind.build(folder), "work_dir": work_dir, "model": None, **kind.params}
    # when it is prepared through the real flow
    summary = prepare_data(PrepareParams.model_validate(params)).summary
    # then every row is accounted for: exactly the expected lines accepted, and rejected with rule and reason
    assert summary.rows_in == summary.rows_accepted + summary.rows_rejected == len(kind.accepted) + len(kind.rejected)
    accepted = pd.read_parquet(summary.data_path).set_index("source_row")
    assert sorted(accepted.index) == sorted(kind.accepted)
    rejects = pd.read_csv(summary.rejects_csv, encoding="utf-8-sig", dtype=str) if summary.rows_rejected else None
    if kind.rejected:
        rejects = rejects.set_index(rejects["source_row"].astype(int))
        assert rejects["rule"].to_dict() == {n: rule for n, (rule, _) in kind.rejected.items()}
        assert rejects["source_file"].str.contains(str(folder), regex=False).all()
        for line_no, (_, reason) in kind.rejected.items():
            assert reason in rejects.loc[line_no, "detail"], rejects.loc[line_no, "detail"]
        for line_no, expected in kind.csv_cells.items():
            assert rejects.loc[line_no, list(expected)].to_dict() == expected
    # and the good rows carry the right parsed values
    for line_no, expected in kind.accepted.items():
        assert accepted.loc[line_no, list(expected)].to_dict() == expected, line_no
