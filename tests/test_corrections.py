"""Corrections an accountant confirmed (ledger/corrections.py): the suspected mis-postings file read back, in xlsx
with the Korean headers of conf/misposting_output.yaml or in a plain csv, and its codes put on the ledger's rows
only where file, line and the row's digest still match."""

import pandas as pd
import pytest

from ledger.conf import load_yaml
from ledger.corrections import CorrectionsFileError, apply_to_ledger, read_corrections

WORDS = load_yaml("misposting_output.yaml")
H = WORDS["headers"]
BIG_DIGEST = "-7810461904071771556"  # 19 digits: Excel would keep only 15 of them as a number


def suspects_rows(*rows: tuple) -> pd.DataFrame:
    """(file, line, digest, confirmed code) rows under the Korean headers, with a shown column in between."""
    return pd.DataFrame(
        [(f, line, d, "적요", c) for f, line, d, c in rows],
        columns=[H["source_file"], H["source_row"], H["row_digest"], H["description"], H["confirmed_code"]],
    )


def write_xlsx(frame: pd.DataFrame, path, sheet: str = WORDS["sheets"]["suspects"]):
    """The frame as one sheet of text cells (how the suspects file keeps its digests), beside a summary sheet."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"항목": ["의심 분개"], "값": ["2"]}).to_excel(writer, sheet_name="요약", index=False)
        frame.astype("object").to_excel(writer, sheet_name=sheet, index=False)
    return path


def write_csv(text: str, path):
    path.write_text(text, encoding="utf-8-sig")
    return path


# ---- read_corrections -----------------------------------------------------------------------------------------


def test_the_filled_rows_of_the_suspects_xlsx_are_read_with_their_exact_digest(tmp_path):
    # given: the suspects sheet (not the first sheet) with two filled rows, one unreviewed, one code as '811.0'
    path = write_xlsx(
        suspects_rows(
            ("a.xlsx", "3", BIG_DIGEST, "830"),
            ("a.xlsx", "4", "12", None),
            ("b.csv", "7", "9100000000000000001", "811.0"),
        ),
        tmp_path / "suspects.xlsx",
    )
    # when
    out = read_corrections(path)
    # then: the stored names, the unreviewed row left out, the 19-digit digest intact, the code without '.0'
    assert list(out.columns) == ["source_file", "source_row", "row_digest", "confirmed_code"]
    assert out["source_file"].tolist() == ["a.xlsx", "b.csv"]
    assert out["source_row"].tolist() == [3, 7] and out["source_row"].dtype == "int64"
    assert out["row_digest"].dtype == "int64"
    assert out["row_digest"].tolist() == [int(BIG_DIGEST), 9100000000000000001]
    assert out["confirmed_code"].tolist() == ["830", "811"]


def test_a_csv_with_english_headers_is_read(tmp_path):
    # given: a utf-8-sig csv naming its columns file, line, digest, code; one code left empty
    path = write_csv(
        f"file,line,digest,code\n원장.xlsx,3,{BIG_DIGEST},830\n원장.xlsx,4,5,\n원장.xlsx,5,6,811.0\n",
        tmp_path / "corrections.csv",
    )
    # when
    out = read_corrections(path)
    # then
    assert out.to_dict("records") == [
        {"source_file": "원장.xlsx", "source_row": 3, "row_digest": int(BIG_DIGEST), "confirmed_code": "830"},
        {"source_file": "원장.xlsx", "source_row": 5, "row_digest": 6, "confirmed_code": "811"},
    ]


def test_a_file_with_no_code_filled_gives_no_corrections(tmp_path):
    # given: the suspects file handed back untouched (every 확정 계정코드 empty, lines and digests as written)
    path = write_xlsx(
        suspects_rows(("a.xlsx", "3", BIG_DIGEST, None), ("a.xlsx", "4", "12", None)), tmp_path / "s.xlsx"
    )
    # when
    outcome = read_corrections(path)
    # then: nothing was reviewed, so nothing to apply (and the file is not refused)
    assert outcome.empty and list(outcome.columns) == ["source_file", "source_row", "row_digest", "confirmed_code"]


def test_the_same_line_confirmed_twice_with_one_code_is_kept_once(tmp_path):
    path = write_csv("file,line,digest,code\na.csv,3,1,830\na.csv,3,1,830\n", tmp_path / "c.csv")
    assert len(read_corrections(path)) == 1


def test_a_missing_column_is_named_by_its_korean_header_and_the_file(tmp_path):
    # given: a suspects sheet without the 확정 계정코드 column
    frame = suspects_rows(("a.xlsx", "3", "1", "830")).drop(columns=[H["confirmed_code"]])
    path = write_xlsx(frame, tmp_path / "no_code.xlsx")
    # when, then
    with pytest.raises(CorrectionsFileError) as caught:
        read_corrections(path)
    assert "확정 계정코드" in str(caught.value) and "no_code.xlsx" in str(caught.value)


def test_a_line_that_is_not_a_number_is_named_by_its_row(tmp_path):
    # given: the second data row (spreadsheet row 3) has '셋' as its line
    path = write_csv("file,line,digest,code\na.csv,2,1,830\na.csv,셋,1,811\n", tmp_path / "c.csv")
    # when, then: the message names spreadsheet row 3 and the line header
    with pytest.raises(CorrectionsFileError, match=r"rows 3 have no whole line number") as caught:
        read_corrections(path)
    assert H["source_row"] in str(caught.value)


def test_a_fractional_line_is_no_whole_line_number(tmp_path):
    # given: a line written 3.5 (no row of a file has that number)
    path = write_csv("file,line,digest,code\na.csv,3.5,1,830\n", tmp_path / "c.csv")
    # when, then: refused like any line that is not a whole number, never truncated to line 3
    with pytest.raises(CorrectionsFileError, match="no whole line number"):
        read_corrections(path)


def test_one_line_given_two_different_codes_is_refused(tmp_path):
    path = write_csv("file,line,digest,code\na.csv,3,1,830\na.csv,3,1,811\n", tmp_path / "c.csv")
    with pytest.raises(CorrectionsFileError, match="line 3 of a.csv is given two different codes"):
        read_corrections(path)


def test_an_unknown_extension_is_refused(tmp_path):
    path = tmp_path / "corrections.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CorrectionsFileError, match=r"expected \.xlsx or \.csv"):
        read_corrections(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CorrectionsFileError, match="does not exist"):
        read_corrections(tmp_path / "nowhere.xlsx")


# ---- apply_to_ledger ------------------------------------------------------------------------------------------


def ledger() -> pd.DataFrame:
    """Five ledger rows over two files; 830 is 소모품비, 811 복리후생비 wherever the ledger uses them."""
    return pd.DataFrame(
        {
            "row_id": [0, 1, 2, 3, 4],
            "source_file": ["a.xlsx", "a.xlsx", "a.xlsx", "b.csv", "b.csv"],
            "source_row": [2, 3, 4, 2, 3],
            "row_digest": pd.array([int(BIG_DIGEST), 11, 12, 21, 22], dtype="int64"),
            "account_code": ["830", "830", "811", "811", "830"],
            "account_name": ["소모품비", "소모품비", "복리후생비", "복리후생비", "소모품비"],
        }
    )


def corrections(*rows: tuple) -> pd.DataFrame:
    """(file, line, digest, code) as read_corrections returns them."""
    out = pd.DataFrame(rows, columns=["source_file", "source_row", "row_digest", "confirmed_code"])
    return out.astype({"source_row": "int64", "row_digest": "int64"})


def test_a_matching_correction_takes_the_code_and_its_ledger_name():
    # given: line 2 of a.xlsx (830 소모품비) confirmed as 811, with its digest as the ledger has it
    before = ledger()
    # when
    out, report = apply_to_ledger(before, corrections(("a.xlsx", 2, int(BIG_DIGEST), "811")))
    # then: the code and the name the ledger uses for 811
    assert out.loc[0, ["account_code", "account_name"]].tolist() == ["811", "복리후생비"]
    assert (report["rows"], report["applied"], report["confirmed"], report["stale"]) == (1, 1, 0, [])
    assert report["reviewed_row_ids"] == [0]
    # and every other row, and the given frame, untouched
    pd.testing.assert_frame_equal(out.drop(index=0), before.drop(index=0))
    pd.testing.assert_frame_equal(before, ledger())


def test_a_confirmation_is_counted_and_changes_nothing():
    # given: line 4 of a.xlsx confirmed with the code it already has
    out, report = apply_to_ledger(ledger(), corrections(("a.xlsx", 4, 12, "811")))
    # then
    pd.testing.assert_frame_equal(out, ledger())
    assert (report["applied"], report["confirmed"], report["reviewed_row_ids"]) == (0, 1, [2])


def test_changed_and_vanished_lines_are_stale_and_untouched():
    # given: one correction whose digest no longer matches, one for a line the ledger no longer has
    given = corrections(("b.csv", 2, 999, "830"), ("b.csv", 9, 1, "811"))
    # when
    out, report = apply_to_ledger(ledger(), given)
    # then: both reported with their reason, none applied or reviewed, the ledger as it was
    assert sorted(report["stale"], key=lambda s: s["line"]) == [
        {"file": "b.csv", "line": 2, "code": "830", "why": "the line changed since"},
        {"file": "b.csv", "line": 9, "code": "811", "why": "the line is gone"},
    ]
    assert (report["rows"], report["applied"], report["confirmed"], report["reviewed_row_ids"]) == (2, 0, 0, [])
    pd.testing.assert_frame_equal(out, ledger())


def test_a_mixed_file_reviews_only_the_applied_and_confirmed_rows():
    # given: one applied, one confirmed, one changed, one gone
    given = corrections(
        ("b.csv", 3, 22, "811"),  # row 4: applied
        ("a.xlsx", 3, 11, "830"),  # row 1: confirmed
        ("a.xlsx", 4, 13, "830"),  # row 2: its digest changed
        ("c.csv", 2, 1, "830"),  # gone
    )
    # when
    out, report = apply_to_ledger(ledger(), given)
    # then
    assert report["reviewed_row_ids"] == [1, 4]
    assert (report["applied"], report["confirmed"], len(report["stale"])) == (1, 1, 2)
    expected = ledger()
    expected.loc[4, ["account_code", "account_name"]] = ["811", "복리후생비"]
    pd.testing.assert_frame_equal(out, expected)


def test_a_corrected_name_is_the_one_the_ledger_uses_most_for_that_code():
    # given: 811 named 복리후생비 twice and 복리후생 once
    before = ledger().assign(account_name=["소모품비", "소모품비", "복리후생", "복리후생비", "복리후생비"])
    before.loc[4, "account_code"] = "811"
    # when line 2 of a.xlsx becomes 811
    out, _ = apply_to_ledger(before, corrections(("a.xlsx", 2, int(BIG_DIGEST), "811")))
    # then
    assert out.loc[0, "account_name"] == "복리후생비"
