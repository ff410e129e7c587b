"""Ingest: resolving sources, fingerprints, loading with trace columns, header mapping, metadata."""

import pandas as pd
import pytest

from ledger.frames import read_frame
from ledger.readers import LedgerFileError
from ledger.sources import find_sources
from params.prepare import IngestParams
from tasks.ingest import extract_metadata, fingerprint_input, load_ledger
from tests._stages import ingest
from tests.conftest import HEADER, ROWS, write_csv

PARAMS = IngestParams()
EXT = PARAMS.file_extensions


def resolve_sources(source: str, extensions: list[str]) -> list[str]:
    return find_sources(source, extensions).urls


# --- resolve_sources ------------------------------------------------------------------------------


def test_a_single_file_resolves_to_its_file_url(ledger_csv):
    assert resolve_sources(str(ledger_csv), EXT) == [f"file://{ledger_csv}"]


def test_a_folder_resolves_to_its_ledger_files_sorted_and_recursive(tmp_path):
    # given a folder with two ledgers (one in a subfolder) and a non-ledger file
    write_csv(tmp_path / "in" / "b.csv", [HEADER, ROWS[0]])
    write_csv(tmp_path / "in" / "sub" / "a.tsv", [HEADER, ROWS[0]])
    (tmp_path / "in" / "notes.md").write_text("readme")
    # when the folder is resolved
    urls = resolve_sources(str(tmp_path / "in"), EXT)
    # then only files with ledger extensions come back, sorted, and the other one is listed with its reason
    assert urls == [f"file://{tmp_path}/in/b.csv", f"file://{tmp_path}/in/sub/a.tsv"]
    skipped = find_sources(str(tmp_path / "in"), EXT).skipped
    assert [(s.url.rsplit("/", 1)[1], "not a ledger file type (.md" in s.reason) for s in skipped] == [
        ("notes.md", True)
    ]


def test_a_glob_resolves_to_the_matching_files(tmp_path):
    for name in ["2024-01.csv", "2024-02.csv", "2023-12.csv"]:
        write_csv(tmp_path / name, [HEADER, ROWS[0]])
    urls = resolve_sources(str(tmp_path / "2024-*.csv"), EXT)
    assert [u.rsplit("/", 1)[1] for u in urls] == ["2024-01.csv", "2024-02.csv"]


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        resolve_sources(str(missing), EXT)


def test_a_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="matched no ledger files"):
        resolve_sources(str(tmp_path / "*.csv"), EXT)


# --- fingerprint_input ----------------------------------------------------------------------------


def test_fingerprint_lists_each_file_with_size_and_sha256(ledger_csv):
    inputs = fingerprint_input.fn(str(ledger_csv), PARAMS)
    assert inputs.source == str(ledger_csv)
    assert [f.size for f in inputs.files] == [ledger_csv.stat().st_size]
    assert len(inputs.files[0].sha256) == 64


def test_fingerprint_is_stable_for_the_same_content(ledger_csv):
    first = fingerprint_input.fn(str(ledger_csv), PARAMS)
    second = fingerprint_input.fn(str(ledger_csv), PARAMS)
    assert first.fingerprint == second.fingerprint


def test_fingerprint_changes_when_the_content_changes(tmp_path):
    path = write_csv(tmp_path / "l.csv", [HEADER, *ROWS])
    before = fingerprint_input.fn(str(path), PARAMS).fingerprint
    write_csv(path, [HEADER, *ROWS[:3]])
    assert fingerprint_input.fn(str(path), PARAMS).fingerprint != before


# --- load_ledger ----------------------------------------------------------------------------------


def test_two_files_via_glob_keep_their_source_file_and_line_numbers(tmp_path, work_dir):
    # given two ledgers, the second with a title line above its header
    a = write_csv(tmp_path / "in" / "a.csv", [HEADER, *ROWS[:2]])
    b = write_csv(tmp_path / "in" / "b.csv", ["2024년 원장,,", HEADER, *ROWS[2:]])
    # when both are loaded through a glob
    loaded = load_ledger.fn(fingerprint_input.fn(str(tmp_path / "in" / "*.csv"), PARAMS), PARAMS, work_dir)
    df = read_frame(loaded.data, None)
    # then every row knows its file and its line in that file, and row ids are unique
    assert df["source_file"].tolist() == [f"file://{a}"] * 2 + [f"file://{b}"] * 2
    assert df["source_row"].tolist() == [2, 3, 3, 4]
    assert df["row_id"].tolist() == [0, 1, 2, 3]
    assert [f["rows"] for f in loaded.report["files"]] == [2, 2]


def test_source_row_is_the_line_number_even_after_a_blank_line(tmp_path, work_dir):
    # given a ledger with an empty line between two data rows (row 2 is on line 4)
    path = write_csv(tmp_path / "l.csv", [HEADER, ROWS[0], "", ROWS[1]])
    # when loaded
    loaded, _ = ingest(path, work_dir)
    # then source_row points at the real line of each row, and the blank line is kept as a row
    # (clean_ledger rejects it as blank_row, so rows_in still counts every line)
    frame = read_frame(loaded.data, None)
    assert frame["source_row"].tolist() == [2, 3, 4]
    assert frame.loc[1, ["일자", "거래처", "금액"]].isna().all()


def test_missing_required_column_names_the_column_and_aliases_tried(tmp_path, work_dir):
    # given a ledger without any spelling of the amount column
    path = write_csv(tmp_path / "l.csv", ["일자,거래처,적요,계정코드", "2024-01-05,쿠팡,볼펜,830"])
    # when loaded
    with pytest.raises(LedgerFileError) as info:
        ingest(path, work_dir)
    # then the error names the file, the column, the aliases it tried and the headers it saw
    message = str(info.value)
    assert str(path) in message
    assert "'amount'" in message and "합계금액" in message and "거래금액" in message
    assert "Headers in the file" in message and "적요" in message


def test_label_column_is_required_when_labels_are_required(tmp_path, work_dir):
    path = write_csv(tmp_path / "l.csv", ["일자,거래처,적요,금액", "2024-01-05,쿠팡,볼펜,1000"])
    with pytest.raises(LedgerFileError, match="'account_code'.*계정과목코드"):
        ingest(path, work_dir, labels_required=True)


def test_ledger_without_labels_loads_when_labels_are_not_required(tmp_path, work_dir):
    # given a ledger to classify (no 계정코드 column)
    path = write_csv(tmp_path / "l.csv", ["일자,거래처,적요,금액", "2024-01-05,쿠팡,볼펜,1000"])
    # when loaded with labels_required=False
    _, standardized = ingest(path, work_dir, labels_required=False)
    # then it loads and has no account_code column
    df = read_frame(standardized.data, None)
    assert len(df) == 1 and "account_code" not in df.columns


# --- standardize_columns --------------------------------------------------------------------------


def _two_spellings(tmp_path, work_dir):
    write_csv(tmp_path / "in" / "a.csv", ["일자,거래처,적요,금액,담당자", "2024-01-05,쿠팡,볼펜,1000,김"])
    write_csv(tmp_path / "in" / "b.csv", ["거래일자,거래처명,내용,합계금액", "2024-02-05,KT,인터넷,33000"])
    return ingest(tmp_path / "in" / "*.csv", work_dir, labels_required=False)


def test_files_spelling_a_column_differently_merge_into_one_column(tmp_path, work_dir):
    # given 일자/거래처/적요/금액 in one file and 거래일자/거래처명/내용/합계금액 in the other
    _, standardized = _two_spellings(tmp_path, work_dir)
    # when standardized
    df = read_frame(standardized.data, None)
    # then each canonical column holds both files' values, none lost
    assert df["date"].tolist() == ["2024-01-05", "2024-02-05"]
    assert df["vendor"].tolist() == ["쿠팡", "KT"]
    assert df["description"].tolist() == ["볼펜", "인터넷"]
    assert df["amount"].tolist() == ["1000", "33000"]
    assert list(df.columns) == [
        "row_id",
        "source_file",
        "source_row",
        "row_digest",
        "line_rule",
        "line_detail",
        "date",
        "vendor",
        "description",
        "amount",
    ]


def test_standardize_reports_each_files_mapping_and_unmapped_headers(tmp_path, work_dir):
    _, standardized = _two_spellings(tmp_path, work_dir)
    mappings = list(standardized.report["mapping"].values())
    assert mappings[0]["일자"] == "date" and mappings[1]["거래일자"] == "date"
    assert standardized.report["unmapped_headers"] == ["담당자"]


def test_a_files_unmapped_column_never_fills_another_column(tmp_path, work_dir):
    # given file a maps 적요 -> description and also has 비고 (unmapped there);
    # file b maps 비고 -> description
    write_csv(tmp_path / "in" / "a.csv", ["일자,거래처,적요,비고,금액", "2024-01-05,쿠팡,,내부메모,1000"])
    write_csv(tmp_path / "in" / "b.csv", ["일자,거래처,비고,금액", "2024-02-05,KT,인터넷,33000"])
    # when standardized
    _, standardized = ingest(tmp_path / "in" / "*.csv", work_dir, labels_required=False)
    # then file a's blank 적요 stays blank (its 비고 was reported as dropped)
    assert "비고" in standardized.report["unmapped_headers"]
    assert pd.isna(read_frame(standardized.data, None).loc[0, "description"])


# --- extract_metadata -----------------------------------------------------------------------------


def test_metadata_describes_rows_files_columns_and_amounts(tmp_path, work_dir, ledger_csv):
    # given the fixture ledger, ingested
    loaded, standardized = ingest(ledger_csv, work_dir)
    # when described
    meta = extract_metadata.fn(standardized, loaded)
    # then rows, file reports, per-column stats and amount stats are there
    assert meta["rows"] == 4
    assert meta["files"][0]["encoding"] == "utf-8-sig" and meta["files"][0]["rows"] == 4
    assert "row_id" not in meta["columns"] and "source_row" not in meta["columns"]
    assert meta["columns"]["business_no"]["nulls"] == 2
    assert meta["columns"]["evidence_type"]["top"]["세금계산서"] == 2
    assert meta["unmapped_headers"] == []
    assert meta["amount"]["count"] == 4 and meta["amount"]["max"] == 110000.0


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [
        ('"₩1,200"', "3000원", 1200.0, 3000.0),  # currency noise is stripped
        ('"(1,200)"', "3000", -1200.0, 3000.0),  # an accounting negative counts as negative
    ],
)
def test_metadata_amount_stats_read_amounts_as_the_cleaning_does(tmp_path, work_dir, first, second, low, high):
    path = write_csv(
        tmp_path / "l.csv", ["일자,거래처,적요,금액", f"2024-01-05,쿠팡,볼펜,{first}", f"2024-01-06,KT,요금,{second}"]
    )
    loaded, standardized = ingest(path, work_dir, labels_required=False)
    amount = extract_metadata.fn(standardized, loaded)["amount"]
    assert (amount["min"], amount["max"]) == (low, high)


def test_a_folder_with_an_unreadable_file_fails_naming_every_bad_file(tmp_path, work_dir):
    # given a folder with a good ledger and a corrupt workbook
    write_csv(tmp_path / "in" / "a.csv", [HEADER, ROWS[0]])
    (tmp_path / "in" / "b.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not really a workbook")
    inputs = fingerprint_input.fn(str(tmp_path / "in"), PARAMS)
    # when loaded / then the error names the bad file and how to go on without it
    with pytest.raises(LedgerFileError, match=r"1 of 2 files cannot be read \(b\.xls: .*on_file_error=skip"):
        load_ledger.fn(inputs, PARAMS, work_dir)


def test_a_folder_with_an_unreadable_file_skips_it_when_asked_and_says_so(tmp_path, work_dir):
    # given the same folder and ingest.on_file_error=skip
    write_csv(tmp_path / "in" / "a.csv", [HEADER, ROWS[0]])
    (tmp_path / "in" / "b.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not really a workbook")
    (tmp_path / "in" / "~$a.xlsx").write_bytes(b"lock")
    params = IngestParams(on_file_error="skip")
    # when loaded
    loaded = load_ledger.fn(fingerprint_input.fn(str(tmp_path / "in"), params), params, work_dir)
    # then the good file's row is read and both other files are listed with their reasons
    assert loaded.data.rows == 1
    assert [e["url"].rsplit("/", 1)[1] for e in loaded.report["file_errors"]] == ["b.xls"]
    skipped = loaded.report["files_skipped"]
    assert [s["url"].rsplit("/", 1)[1] for s in skipped] == ["~$a.xlsx"] and "lock file" in skipped[0]["reason"]


def test_month_day_dates_take_ingest_year_when_no_title_names_the_period(tmp_path, work_dir):
    # given a file of month-day dates and no title row
    path = write_csv(tmp_path / "l.csv", ["일자,거래처,적요,금액", "01-05,쿠팡,볼펜,1000", "2023-12-31,KT,요금,3000"])
    # when standardized without a year / then the dates stay as written (validation names them)
    _, plain = ingest(path, work_dir, labels_required=False)
    assert read_frame(plain.data, None)["date"].tolist() == ["01-05", "2023-12-31"]
    # when standardized with ingest.year / then they take it, and a date of another year is marked
    _, dated = ingest(tmp_path / "l.csv", work_dir + "2", labels_required=False, params=IngestParams(year=2024))
    df = read_frame(dated.data, None)
    assert df["date"].tolist() == ["2024-01-05", "2023-12-31"]
    assert df["line_rule"].tolist()[1] == "date_outside_period"


def test_column_statistics_are_over_ledger_lines_with_their_types():
    from ledger.profile import profile_columns

    # given a standardized export whose title and summary rows were kept with a line_rule
    df = pd.DataFrame(
        {
            "row_id": [0, 1, 2, 3],
            "line_rule": ["title_row", None, None, "summary_row"],
            "date": ["계정별원장 2024", "2024-01-05", "2024-01-06", None],
            "amount": ["거래처원장", "1,200", "(300)", "900"],
            "vendor": ["합계", "쿠팡", "쿠팡", "합계"],
        }
    )
    # when profiled
    columns = profile_columns(df)
    # then the title's text is no amount's value, dates and amounts have their types and ranges
    assert columns["date"] == {"type": "date", "nulls": 0, "unique": 2, "range": ["2024-01-05", "2024-01-06"],
                               "unparsed": 0}  # fmt: skip
    assert columns["amount"]["type"] == "number" and columns["amount"]["range"] == ["-300", "1,200"]
    assert columns["vendor"] == {"type": "text", "nulls": 0, "unique": 1, "top": {"쿠팡": 2}}
    assert "line_rule" not in columns and "row_id" not in columns
