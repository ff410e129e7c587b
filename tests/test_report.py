"""Rows accounting: the check that no row is ever lost, the files it writes, and the reports the UI shows."""

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import monitor.progress as progress_module
import tasks.evaluate as evaluation
import tasks.report as report
from contracts.label_map import LabelMap, LabelSlot
from ledger.frames import Frame, StageResult
from params.prepare import CleanParams
from tasks.evaluate import EvalReport, metrics_markdown, publish_eval_report
from tasks.preprocess import clean_ledger
from tasks.report import (
    PrepareSummary,
    RowsAccountingError,
    accounting_rows,
    dataset_markdown,
    metadata_markdown,
    publish_prepare_report,
    reconcile_rows,
)
from tests._stages import ledger_stage

METADATA = {
    "rows": 3,
    "files": [{"url": "f.csv", "format": "csv", "encoding": "utf-8", "rows": 3, "header_row": 1, "header_rows": [1]}],
    "columns": {},
    "unmapped_headers": [],
}


def test_accounting_holds_and_writes_rejects(work_dir):
    # given a stage that rejects one duplicate out of three rows
    ledger = ledger_stage(work_dir, [{}, {}, {"vendor": "다이소"}])
    cleaned = clean_ledger.fn(ledger, CleanParams(), work_dir)
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
    cleaned = clean_ledger.fn(ledger, CleanParams(), work_dir)
    summary = reconcile_rows.fn({"standardize": ledger, "clean": cleaned}, METADATA, work_dir)
    # when rendered for the UI, then it shows the file and the accounting
    text = metadata_markdown(METADATA, summary)
    assert "f.csv" in text and "**rows in** 3 = **accepted** 2 + **rejected** 1" in text


def big_summary() -> PrepareSummary:
    """A ledger of 1,234,567 rows: 1,200 duplicates rejected in clean, 34,567 bad dates in validate."""
    stages = [
        {"stage": "load", "rows_out": 1_234_567, "rejected": 0, "rules": ""},
        {"stage": "clean", "rows_out": 1_233_367, "rejected": 1_200, "rules": "duplicate: 1,200"},
        {"stage": "validate", "rows_out": 1_198_800, "rejected": 34_567, "rules": "date_unparsable: 34,567"},
    ]
    return PrepareSummary(
        rows_in=1_234_567,
        rows_accepted=1_198_800,
        rows_rejected=35_767,
        rejected_by_rule={"date_unparsable": 34_567, "duplicate": 1_200},
        stages=stages,
        data_path="/w/data.parquet",
        source_path="/w/source.parquet",
        rejects_parquet="/w/rejects.parquet",
        rejects_csv="/w/rejects.csv",
        metadata_path="/w/metadata.json",
        report_dir="/w",
    )


def test_rows_accounting_table_has_rows_in_and_thousands_separators():
    # given a large ledger's summary / when the UI table is built
    rows = accounting_rows(big_summary())
    # then each stage shows what came in, what it rejected and what went on, with separators
    assert rows[0] == {"stage": "load", "rows in": "1,234,567", "rejected": "0", "rows out": "1,234,567", "rules": ""}
    assert rows[2]["rows in"] == "1,233,367" and rows[2]["rejected"] == "34,567" and rows[2]["rows out"] == "1,198,800"
    assert rows[-1] == {
        "stage": "total",
        "rows in": "1,234,567",
        "rejected": "35,767",
        "rows out": "1,198,800",
        "rules": "date_unparsable: 34,567, duplicate: 1,200",
    }


def test_data_quality_markdown_separates_thousands():
    metadata = {
        "files": [{"url": "big.csv", "format": "csv", "encoding": "cp949", "rows": 1_234_567}],
        "columns": {
            "vendor": {"type": "text", "nulls": 12_345, "unique": 45_678, "top": {"쿠팡": 98_765}},
            "amount": {
                "type": "number",
                "nulls": 0,
                "unique": 9_000,
                "range": ["-1,200", "3,000,000"],
                "unparsed": 0,
            },  # fmt: skip
        },
        "unmapped_headers": [],
    }
    text = metadata_markdown(metadata, big_summary())
    assert "**rows in** 1,234,567 = **accepted** 1,198,800 + **rejected** 35,767" in text
    assert "| big.csv | csv | cp949 | 1,234,567 |" in text
    assert "| vendor | text | 12,345 | 45,678 | 쿠팡 (98,765) |" in text
    assert "| amount | number | 0 | 9,000 | -1,200 .. 3,000,000 |" in text


@pytest.fixture
def artifacts(monkeypatch) -> list[dict]:
    """The artifact calls of tasks.report and tasks.evaluate, recorded instead of sent to an API."""
    calls: list[dict] = []
    for module in (report, evaluation):
        for kind in ("markdown", "table"):
            monkeypatch.setattr(
                module, f"create_{kind}_artifact", lambda kind=kind, **kw: calls.append({kind: 1, **kw})
            )
    return calls


def test_training_and_prediction_ledgers_keep_their_own_data_quality(prefect_harness, artifacts):
    from prefect import flow

    @flow(name="prepare_data")
    def prepare():
        publish_prepare_report({"files": [], "columns": {}, "unmapped_headers": []}, big_summary())

    @flow(name="predict_ledger")
    def predict():
        prepare()

    # when prepare_data runs alone and inside predict_ledger
    prepare()
    predict()
    # then each flow has its own keys: the prediction ledger's report does not replace the training ledger's
    keys = [call["key"] for call in artifacts]
    assert keys == [
        "data-quality-prepare-data",
        "rows-accounting-prepare-data",
        "data-quality-predict-ledger",
        "rows-accounting-predict-ledger",
    ]
    assert artifacts[1]["description"] == "1,234,567 rows in = 1,198,800 accepted + 35,767 rejected"


def test_dataset_report_names_rare_classes_and_separates_thousands(tmp_path):
    # given a label map with names and a split that kept two rare classes in train
    slots = [LabelSlot(id=0, code="811", name="복리후생비"), LabelSlot(id=1, code="999", name="잡손실")]
    path = LabelMap(num_slots=300, dummy_prefix="unused_", labels=slots).write(tmp_path / "label_map.json")
    labels = SimpleNamespace(path=str(path), used=2, num_slots=300, new_codes=[])
    frame = Frame(path="/w/split.parquet", fingerprint="f", rows=1)
    split = StageResult(
        data=frame, report={"classes": 1_234, "sampled_out": 5_000, "rare_classes_in_train_only": {"999": 3}}
    )
    texts = StageResult(data=frame, report={"example": "거래처: 쿠팡"})
    dataset = SimpleNamespace(rows={"train": 15_894, "valid": 1_984}, path="/w/datasets/data")
    # when rendered
    text = dataset_markdown(labels, split, texts, dataset)
    # then the rare class has its account name, and every count its separators
    assert "| 999 | 잡손실 | 3 |" in text
    assert "| train | 15,894 |" in text and "Classes: 1,234" in text and "sampling: 5,000" in text


def test_progress_artifact_counts_and_times(monkeypatch):
    calls = []
    monkeypatch.setattr(progress_module, "create_progress_artifact", lambda progress, key, description: description)
    monkeypatch.setattr(
        progress_module, "update_progress_artifact", lambda aid, pct, description: calls.append((pct, description))
    )
    progress = progress_module.ProgressArtifact("tokenize-progress", 20_000, "texts tokenized", every=3600)
    # when updated often: only the end goes out within the interval, with counts and the time taken
    progress.update(1_500)
    progress.update(20_000)
    assert len(calls) == 1 and calls[0][0] == 100.0
    assert calls[0][1].startswith("20,000 of 20,000 texts tokenized, ") and calls[0][1].endswith(" s")


def test_eval_report_counts_test_rows_with_separators(artifacts):
    metrics = {"accuracy": 0.9, "f1_weighted": 0.9, "f1_macro": 0.8, "n_test": 12_345.0}
    paths = {"per_class_csv": "/r/p.csv", "confusion_png": "/r/c.png", "f1_png": "/r/f.png", "report_dir": "/r"}
    reports = [EvalReport(name=name, metrics=metrics, **paths) for name in ("baseline", "llm")]
    assert "| test rows | 12,345 | 12,345 |" in metrics_markdown(reports)
    publish_eval_report(reports)
    table = next(call for call in artifacts if call["key"] == "baseline-vs-llm")
    assert table["table"][0]["n_test"] == "12,345" and table["table"][0]["accuracy"] == 0.9


def test_the_data_quality_report_shows_each_files_mapping_and_the_values_no_map_knows(work_dir):
    # given a file read with a per-side amount column, an unmapped header and an evidence type no map knows
    metadata = {
        **METADATA,
        "files": [{**METADATA["files"][0], "sheet": "전표", "header_rows": [3, 4]}],
        "layouts": [
            {
                "url": "f.csv",
                "mapping": {"일자": "date"},
                "sided": {"출금": {"amount": "출금액"}},
                "unmapped": ["거래점"],
            }
        ],
    }
    ledger = ledger_stage(work_dir, [{}, {}, {"vendor": "다이소"}])
    normalized = ledger.model_copy(update={"report": {"unmapped_values": {"evidence_type": {"상품권": 2}}}})
    # when rows are accounted and the report is written
    summary = reconcile_rows.fn({"standardize": ledger, "normalize": normalized}, metadata, work_dir)
    text = metadata_markdown(metadata, summary)
    # then the mapping table names each original header, and the unknown value is counted with its rows
    assert "| f.csv | 전표 | 3, 4 | 일자 | date |" in text and "| 출금액 | amount (출금) |" in text
    assert "| 거래점 | (not mapped) |" in text and "| evidence_type | 상품권 | 2 |" in text
    assert summary.unmapped_values == {"evidence_type": {"상품권": 2}}


def test_the_terminal_names_each_files_columns_and_the_values_no_map_knows():
    from monitor.quality import terminal_lines

    files = [{"url": "/d/b.xlsx", "format": "xlsx", "sheet": "원장", "header_rows": [3, 4],
              "mapping": {"일자": "date", "출금액": "amount (출금)"}, "unmapped": ["거래점"]}]  # fmt: skip
    lines = terminal_lines(files, {"side": {"이체": 3, "x": 1}})
    assert lines[0] == "file         b.xlsx (xlsx, sheet 원장, header row 3-4)"
    assert lines[1] == "  columns    일자 -> date, 출금액 -> amount (출금)" and lines[2] == "  not mapped 거래점"
    assert lines[3].startswith("unknown      side: 이체 (3), x (1) (kept;")
