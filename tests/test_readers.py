"""Reading one ledger file: CSV encodings, delimiters, title rows, header spellings, xlsx, Parquet, URLs, errors."""

import uuid
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from ledger.columns import column_spec, known_headers
from ledger.readers import LedgerFileError, header_candidates, read_ledger_file
from params.prepare import IngestParams
from tests.conftest import HEADER, ROWS, write_csv

HEADERS = HEADER.split(",")
PARAMS = IngestParams()
KNOWN = known_headers(column_spec(PARAMS.columns_conf))


def read(url, sheet=PARAMS.sheet):
    return read_ledger_file(str(url), KNOWN, PARAMS.encodings, sheet, PARAMS.header_search_rows)


def ledger_frame() -> pd.DataFrame:
    return pd.DataFrame([r.split(",") for r in ROWS], columns=HEADERS)


# --- CSV encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_csv_in_each_korean_encoding_reads_hangul_headers_and_cells(tmp_path, encoding):
    # given the same ledger saved in a common Korean encoding
    path = write_csv(tmp_path / "ledger.csv", [HEADER, *ROWS], encoding=encoding)
    # when it is read
    df, report = read(path)
    # then headers and cells come back as the same Hangul text, all as text
    assert list(df.columns) == HEADERS
    assert df["거래처"].tolist() == ["쿠팡", "GS25", "KT", "한국전력공사"]
    assert report.format == "csv" and report.rows == 4 and report.header_row == 1
    assert report.header_rows == [1] and report.sheet is None and report.sheets == [] and report.title_lines == []


def test_cp949_file_reports_cp949_as_its_encoding(tmp_path):
    # given a CP949 (Windows Korean) file
    path = write_csv(tmp_path / "ledger.csv", [HEADER, *ROWS], encoding="cp949")
    # when read
    _, report = read(path)
    # then the report says which encoding fitted
    assert report.encoding == "cp949"


def test_bom_is_not_part_of_the_first_header(tmp_path):
    # given a UTF-8 file with a byte-order mark (Excel's "CSV UTF-8")
    path = write_csv(tmp_path / "ledger.csv", [HEADER, *ROWS], encoding="utf-8-sig")
    # when read
    df, _ = read(path)
    # then the first header is exactly 일자, no U+FEFF in front
    assert df.columns[0] == "일자"


def test_cells_stay_text_with_blank_as_missing(tmp_path, ledger_csv):
    # given the fixture ledger, whose second row has no business number
    df, _ = read(ledger_csv)
    # then numbers are not parsed and empty cells are missing
    assert df.loc[0, "금액"] == "11000"
    assert df.loc[0, "사업자번호"] == "1234567890"
    assert pd.isna(df.loc[1, "사업자번호"])


# --- layout ---------------------------------------------------------------------------------------


def test_title_rows_above_the_header_are_skipped(tmp_path):
    # given an export with a report title and company line above the header
    path = write_csv(tmp_path / "ledger.csv", ["2024년 계정별원장,,", "(주)테스트,,", HEADER, *ROWS])
    # when read
    df, report = read(path)
    # then the header is found on line 3 and the data starts below it; the title lines are reported
    assert report.header_row == 3 and report.title_lines == ["2024년 계정별원장", "(주)테스트"]
    assert list(df.columns) == HEADERS
    assert len(df) == 4 and df.loc[0, "일자"] == "2024-01-05"


def test_tab_separated_file_is_split_on_tabs(tmp_path):
    # given a tab-separated export
    path = write_csv(tmp_path / "ledger.tsv", [line.replace(",", "\t") for line in [HEADER, *ROWS]])
    # when read
    df, _ = read(path)
    # then it is split on tabs
    assert list(df.columns) == HEADERS
    assert df.loc[0, "적요"] == "사무용품 구입"


def test_tab_separated_file_with_a_title_row_is_split_on_tabs(tmp_path):
    # given a tab-separated export with a title line above the header
    lines = ["2024년 계정별원장", *[line.replace(",", "\t") for line in [HEADER, *ROWS]]]
    path = write_csv(tmp_path / "ledger.tsv", lines)
    # when read
    df, report = read(path)
    # then the header is on line 2 and split on tabs
    assert report.header_row == 2
    assert list(df.columns) == HEADERS


# --- Excel's text marks, header spellings, two-row headers---------------------------------------------------


def test_csv_text_wrappers_and_numbered_spaced_headers(tmp_path):
    # given a CSV with ="00123" cells (also quoted, with doubled quotes), an apostrophe marker, ①일자 and 적 요
    lines = ["①일자,적 요,계정코드,금액", '2024-01-05,="00123",\'0813,="81100"', '2024-01-06,"=""00456""",830,1']
    path = tmp_path / "ledger.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    # when read
    df, report = read(path)
    # then the headers are the file's own, found through their spellings, and the cells are the bare texts
    assert list(df.columns) == ["①일자", "적 요", "계정코드", "금액"] and report.header_rows == [1]
    assert df["적 요"].tolist() == ["00123", "00456"]
    assert df["계정코드"].tolist() == ["0813", "830"] and df.loc[0, "금액"] == "81100"


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("①일자", ["일자"]),
        ("⑴ 일자", ["일자"]),
        ("1. 일자", ["일자"]),
        ("1)일자", ["일자"]),
        ("적 요", ["적요"]),
        ("ＡＭＯＵＮＴ", ["amount"]),
        ("거래처(상호)", ["거래처(상호)", "거래처"]),
        ("3.3%원천세", ["3.3%원천세"]),
    ],
)
def test_header_spellings(text, candidates):
    assert header_candidates(text) == candidates


def test_csv_two_row_header_is_combined_per_column(tmp_path):
    # given 금액 over 공급가액/부가세, 일자 and 적요 written once over both header rows
    lines = ["일자,적요,금액,", ",,공급가액,부가세", "2024-01-05,식대,10000,1000", "2024-01-06,전기요금,20000,2000"]
    path = write_csv(tmp_path / "ledger.csv", lines)
    # when read
    df, report = read(path)
    # then the known sub-headers name the amount columns and the data starts under the lower row
    assert list(df.columns) == ["일자", "적요", "공급가액", "부가세"]
    assert report.header_rows == [1, 2] and report.header_row == 2
    assert df["공급가액"].tolist() == ["10000", "20000"]


# --- xlsx and Parquet -----------------------------------------------------------------------------


def test_xlsx_is_read_as_text_cells(tmp_path):
    # given an xlsx workbook written by pandas
    path = tmp_path / "ledger.xlsx"
    ledger_frame().to_excel(path, index=False)
    # when read
    df, report = read(path)
    # then it has the same headers and text cells
    assert report.format == "xlsx" and report.encoding is None
    assert list(df.columns) == HEADERS
    assert df.loc[2, "거래처"] == "KT" and df.loc[2, "금액"] == "33000"


def test_xlsx_title_rows_are_skipped(tmp_path):
    # given a workbook with a title above the header (header on sheet row 3)
    path = tmp_path / "ledger.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["2024년 계정별원장"]]).to_excel(writer, index=False, header=False)
        ledger_frame().to_excel(writer, index=False, startrow=2)
    # when read
    df, report = read(path)
    # then the header is found below the title
    assert report.header_row == 3
    assert list(df.columns) == HEADERS and len(df) == 4


def test_xlsx_sheet_can_be_chosen_by_name(tmp_path):
    # given a workbook whose ledger is on a second sheet named 원장
    path = tmp_path / "ledger.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"표지": ["cover"]}).to_excel(writer, sheet_name="cover", index=False)
        ledger_frame().to_excel(writer, sheet_name="원장", index=False)
    # when read with sheet="원장"
    df, _ = read(path, sheet="원장")
    # then the ledger sheet is read
    assert len(df) == 4 and "계정코드" in df.columns


def test_parquet_is_read_as_text_with_missing_kept(tmp_path):
    # given a Parquet file with numbers, dates and a missing value
    path = tmp_path / "ledger.parquet"
    pd.DataFrame(
        {
            "일자": pd.to_datetime(["2024-01-05", "2024-01-06"]),
            "거래처": ["쿠팡", None],
            "적요": ["사무용품", "식대"],
            "금액": [11000, 5500],
            "계정코드": ["830", "811"],
        }
    ).to_parquet(path)
    # when read
    df, report = read(path)
    # then every cell is text, dates as ISO dates, missing stays missing
    assert report.format == "parquet"
    assert df.loc[0, "일자"] == "2024-01-05" and df.loc[0, "금액"] == "11000"
    assert pd.isna(df.loc[1, "거래처"])


def test_fsspec_memory_url_is_read(tmp_path):
    # given a ledger in fsspec's in-memory filesystem
    url = f"memory://ledgers-{uuid.uuid4().hex}/ledger.csv"
    with fsspec.open(url, "wb") as fh:
        fh.write(("\n".join([HEADER, *ROWS]) + "\n").encode())
    # when read through its URL
    df, report = read(url)
    # then it reads like a local file and the report keeps the URL
    assert report.url == url and len(df) == 4


# --- errors: each names the file ------------------------------------------------------------------


def _error(path: Path) -> LedgerFileError:
    with pytest.raises(LedgerFileError) as info:
        read(path)
    assert str(path) in str(info.value)
    assert info.value.url == str(path)
    return info.value


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b" \n\n  \n", "empty"),  # whitespace only counts as empty
        ("ledger.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("ledger.xlsx", b"PK\x03\x04 this is not really a workbook", "xlsx"),  # a corrupt workbook
    ],
)
def test_a_file_that_holds_no_ledger_is_an_error_naming_it(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    assert problem in _error(path).problem


def test_header_only_file_is_an_error_naming_the_file(tmp_path):
    path = write_csv(tmp_path / "header_only.csv", [HEADER])
    assert "no data rows" in _error(path).problem


def test_undecodable_bytes_name_the_encodings_tried(tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_bytes(b"\xff\xfe\xfa\x80\x81,abc\n1,2\n")
    problem = _error(path).problem
    assert "decoded" in problem and "cp949" in problem


def test_file_without_a_known_header_is_not_a_ledger(tmp_path):
    path = write_csv(tmp_path / "other.csv", ["name,age,city", "kim,30,seoul"])
    problem = _error(path).problem
    assert "no ledger header" in problem and "name" in problem


def test_missing_xlsx_sheet_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "ledger.xlsx"
    ledger_frame().to_excel(path, index=False)
    with pytest.raises(LedgerFileError, match="ledger.xlsx.*없는시트"):
        read(path, sheet="없는시트")


def test_corrupt_parquet_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "ledger.parquet"
    path.write_bytes(b"not parquet at all")
    assert "Parquet" in _error(path).problem
