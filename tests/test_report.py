"""Rows accounting: the check that no row is ever lost, and the files it writes."""

import json
from pathlib import Path

import pandas as pd
import pytest

from params.prepare import CleanParams, IngestParams
from tasks.preprocess import clean_ledger
from tasks.report import RowsAccountingError, metadata_markdown, reconcile_rows
from tests._stages import ledger_stage

METADATA = {
    "rows": 3,
    "files": [{"url": "f.csv", "format": "csv", "encoding": "utf-8", "rows": 3}],
    "columns": {},
    "unmapped_headers": [],
}


def test_accounting_holds_and_writes_rejects(work_dir):
    # given a stage that rejects one duplicate out of three rows
    ledger = ledger_stage(work_dir, [{}, {}, {"vendor": "다이소"}])
    cleaned = clean_ledger.fn(ledger, CleanParams(), IngestParams(), work_dir)
    # when rows are accounted
    summary = reconcile_rows.fn({"standardize": ledger, "clean": cleaned}, METADATA, work_dir)
    # then 3 in = 2 accepted + 1 rejected, and the rejects files list that row with its rule
    assert (summary.rows_in, summary.rows_accepted, summary.rows_rejected) == (3, 2, 1)
    assert summary.rejected_by_rule == {"duplicate": 1}
    assert pd.read_parquet(summary.rejects_parquet)["rule"].tolist() == ["duplicate"]
    assert pd.read_csv(summary.rejects_csv, encoding="utf-8-sig")["row_id"].tolist() == [1]
    assert json.loads(Path(summary.metadata_path).read_text())["rows"] == 3


def test_lost_rows_fail_the_check(work_dir):
    # given a final stage that has fewer rows than came in and no rejects explaining them
    ledger = ledger_stage(work_dir, [{}, {"vendor": "다이소"}, {"vendor": "KT"}])
    shrunk = ledger_stage(work_dir, [{}], stage="clean")
    # when rows are accounted, then the lost rows are an error
    with pytest.raises(RowsAccountingError, match="rows_in=3 != accepted 1 \\+ rejected 0"):
        reconcile_rows.fn({"standardize": ledger, "clean": shrunk}, METADATA, work_dir)


def test_markdown_names_files_and_totals(work_dir):
    # given a summary
    ledger = ledger_stage(work_dir, [{}, {}, {"vendor": "다이소"}])
    cleaned = clean_ledger.fn(ledger, CleanParams(), IngestParams(), work_dir)
    summary = reconcile_rows.fn({"standardize": ledger, "clean": cleaned}, METADATA, work_dir)
    # when rendered for the UI, then it shows the file and the accounting
    text = metadata_markdown(METADATA, summary)
    assert "f.csv" in text and "**rows in** 3 = **accepted** 2 + **rejected** 1" in text
