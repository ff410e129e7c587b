"""One account written in several forms across the files of a run (0811, 811, 81100, 811-01): by default the run
stops naming the files, forms and counts; preprocess.normalize.account_codes=chart makes them one chart code with
the sub-code kept; one consistent form passes as written."""

import pandas as pd
import pytest

from ledger.code_forms import code_forms, read_codes
from ledger.errors import CodeFormsError
from ledger.frames import StageResult, write_frame
from ledger.standardize import chart_codes
from monitor.rejections import merged_codes_line
from params.prepare import IngestParams, NormalizeParams, ValidateParams
from schemas import Ledger
from tasks.preprocess import normalize_values, validate_ledger
from tests._stages import frames, text_frame

INGEST = IngestParams()


def filtered_stage(work_dir: str, codes_by_file: dict[str, list[str]]) -> StageResult:
    """The filter stage's output: one valid line per code, each file's lines tagged with its name."""
    parts = []
    for file, codes in codes_by_file.items():
        part = text_frame([{"account_code": code} for code in codes])
        part["source_file"] = file
        parts.append(part)
    df = pd.concat(parts, ignore_index=True)
    df["row_id"] = range(len(df))
    return StageResult(data=write_frame(df, Ledger, work_dir, "filter"))


MIXED = {"/in/a.csv": ["0811", "0811", "830"], "/in/b.xlsx": ["811"], "/in/c.xls": ["81100", "811-01"]}


def test_each_written_form_is_read_as_its_chart_account():
    # given one account as different programs write it, and codes the chart lacks
    codes = pd.Series(["811", "0811", "81100", "811-01", "8110", "00811", "99999", None], dtype="str")
    # when read against the chart with conf/code_forms.yaml
    read = read_codes(codes, chart_codes(), code_forms())
    # then each known form gives 811 (and its sub-code); the rest is no form and is left alone
    assert read["account"].tolist()[:4] == ["811"] * 4
    assert read["sub_code"].tolist()[2:4] == ["00", "01"]
    assert read["form"].tolist()[:4] == ["chart", "zero_padded", "sub_code", "separated"]
    assert read["form"].iloc[4:].isna().all()


def test_mixed_forms_stop_the_run_by_default_naming_files_forms_counts_and_the_parameter(work_dir):
    # given 811 written 0811 in a.csv, 811 in b.xlsx and 81100 / 811-01 in c.xls
    stage = filtered_stage(work_dir, MIXED)
    # when normalized with the default (codes as written)
    with pytest.raises(CodeFormsError) as err:
        normalize_values.fn(stage, NormalizeParams(), INGEST, work_dir)
    # then nothing is merged or split silently: the error names each spelling, its form, its file and its lines
    message = str(err.value)
    assert "811 as 0811 zero-padded (a.csv 2), 811 as in the chart (b.xlsx 1)" in message
    assert "81100 with a sub-code (c.xls 1)" in message and "811-01 with a separated sub-code (c.xls 1)" in message
    assert "830" not in message  # an account written one way is no problem
    assert "preprocess.normalize.account_codes=chart" in err.value.hint


def test_the_parameter_makes_them_the_charts_code_keeping_the_sub_code(work_dir):
    # given the same files
    stage = filtered_stage(work_dir, MIXED)
    # when normalized with account_codes=chart, and validated
    normalized = normalize_values.fn(stage, NormalizeParams(account_codes="chart"), INGEST, work_dir)
    validated = validate_ledger.fn(normalized, ValidateParams(), INGEST, True, work_dir)
    # then every form is one code, 811, and the written sub-codes stay beside it through validation
    accepted = frames(validated)[0]
    assert accepted["account_code"].tolist() == ["811", "811", "830", "811", "811", "811"]
    assert accepted["sub_code"].fillna("").tolist() == ["", "", "", "", "00", "01"]
    # and what was merged is reported with its counts (the summary's line)
    merged = normalized.report["merged_codes"]
    assert list(merged) == ["811"] and merged["811"]["0811"] == {"form": "zero_padded", "lines": {"/in/a.csv": 2}}
    assert merged_codes_line(merged).startswith("811 as 0811 zero-padded (a.csv 2), 811 as in the chart (b.xlsx 1)")


def test_one_consistent_form_passes_as_written(work_dir):
    # given two files that both write 811's sub-accounts as 811 + two digits
    stage = filtered_stage(work_dir, {"/in/a.csv": ["81100", "81101"], "/in/b.csv": ["81100", "830"]})
    # when normalized with the default
    result = normalize_values.fn(stage, NormalizeParams(), INGEST, work_dir)
    # then the codes stay exactly as written, with no sub_code column and nothing reported
    accepted = frames(result)[0]
    assert accepted["account_code"].tolist() == ["81100", "81101", "81100", "830"]
    assert "sub_code" not in accepted.columns and "merged_codes" not in result.report
