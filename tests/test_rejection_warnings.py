"""A file most of whose lines one rule rejected is said in one line with its likely cause: on the terminal, in the
data-quality report and leading the run's top report (not only as a count in the rows accounting)."""

from types import SimpleNamespace

import pandas as pd

import tasks.evaluate as evaluation
from flows.summaries import print_prepare_result
from monitor.rejections import rejection_warnings
from params.prepare import CleanParams, FilterParams, IngestParams, NormalizeParams, ValidateParams
from tasks.evaluate import EvalReport
from tasks.ingest import extract_metadata
from tasks.preprocess import clean_ledger, filter_ledger, normalize_values, validate_ledger
from tasks.report import metadata_markdown, reconcile_rows
from tests._stages import ingest
from tests.conftest import write_csv

INGEST = IngestParams()
# 적요사항 and 담당 are no alias of any column, and no header rule loosens them into one: description stays unmapped
HEADER = "일자,거래처,적요사항,금액,계정코드,담당"


def ledger_lines(blank_vendors: int, lines: int = 10) -> list[str]:
    """`lines` ledger lines, the first `blank_vendors` of them without a 거래처 (salary lines, say)."""
    return [
        f"2024-01-{day + 1:02d},{'' if day < blank_vendors else '쿠팡'},급여 {day}월분,{1000 * (day + 1)},802,김"
        for day in range(lines)
    ]


def prepare(work_dir: str, path) -> tuple:
    """The data stages of prepare_data up to the rows accounting: (summary, metadata)."""
    loaded, standardized = ingest(path, work_dir)
    metadata = extract_metadata.fn(standardized, loaded)
    cleaned = clean_ledger.fn(standardized, CleanParams(), work_dir)
    filtered = filter_ledger.fn(cleaned, FilterParams(), INGEST, work_dir)
    normalized = normalize_values.fn(filtered, NormalizeParams(), INGEST, work_dir)
    validated = validate_ledger.fn(normalized, ValidateParams(), INGEST, True, work_dir)
    stages = {"load": loaded, "standardize": standardized, "clean": cleaned, "filter": filtered,
              "normalize": normalized, "validate": validated}  # fmt: skip
    return reconcile_rows.fn(stages, metadata, work_dir, INGEST, ValidateParams()), metadata


def test_a_file_mostly_rejected_for_an_unmapped_column_is_said_with_its_cause(tmp_path, work_dir, capsys):
    # given a ledger whose 적요 header no alias matches, and 8 of its 10 lines without a 거래처
    path = write_csv(tmp_path / "ledger.csv", [HEADER, *ledger_lines(blank_vendors=8)])
    # when it is prepared
    summary, metadata = prepare(work_dir, path)
    # then one line names the share, the rule, the missing column and the headers left unmapped
    expected = (
        "ledger.csv: 8 of 10 lines (80%) rejected as required_blank (vendor / description): likely cause: no header "
        "mapped to description; unmapped headers: 적요사항, 담당"
    )
    assert summary.rejection_warnings == [expected]
    # and the data-quality report leads with it, right under its title
    assert metadata_markdown(metadata, summary).splitlines()[1] == f"**Warning**: {expected}"
    # and the terminal says it as a warning
    print_prepare_result(SimpleNamespace(summary=summary, mispostings=None, texts=None, dataset=None))
    assert f"WARNING      {expected}" in capsys.readouterr().out


def test_a_file_with_few_rejects_gets_no_warning(tmp_path, work_dir):
    # given the same export with one line of ten without a 거래처
    path = write_csv(tmp_path / "ledger.csv", [HEADER, *ledger_lines(blank_vendors=1)])
    # when it is prepared / then the reject is counted, and no warning is raised over it
    summary, _ = prepare(work_dir, path)
    assert summary.rejected_by_rule == {"required_blank": 1} and summary.rejection_warnings == []


def test_the_threshold_is_a_parameter_and_rows_that_are_no_lines_do_not_count():
    # given a file of 12 rows: 2 summary rows (no ledger lines) and 3 of its 10 lines with unreadable dates
    rejects = pd.DataFrame(
        {
            "source_file": ["/d/b.xlsx"] * 5,
            "rule": ["summary_row", "summary_row", "date_unparsable", "date_unparsable", "date_unparsable"],
            "detail": ["a summary row (일계)"] * 2 + ["date_unparsable(date='13/45')"] * 3,
        }
    )
    metadata = {"files": [{"url": "/d/b.xlsx", "rows": 12}], "layouts": [{"url": "/d/b.xlsx",
                "mapping": {"거래일": "date"}, "unmapped": []}]}  # fmt: skip
    # when judged at the default share (20%) and at 50%
    groups = [["vendor", "description"]]
    at_default = rejection_warnings(rejects, metadata, groups, ValidateParams().warn_rejected_share)
    at_half = rejection_warnings(rejects, metadata, groups, 0.5)
    # then 3 of 10 lines (30%) is said, naming the rule, its column and header; at 50% it is not
    said = "b.xlsx: 3 of 10 lines (30%) rejected as date_unparsable (date): column date from header '거래일'"
    assert at_default == [said]
    assert at_half == []


def _report(name: str) -> EvalReport:
    metrics = {"accuracy": 0.9, "f1_weighted": 0.9, "f1_macro": 0.8}
    paths = {"per_class_csv": "/r/p.csv", "confusion_png": "/r/c.png", "f1_png": "/r/f.png", "report_dir": "/r"}
    return EvalReport(name=name, metrics=metrics, **paths)


def test_the_top_reports_of_pipeline_and_demo_lead_with_the_warning(monkeypatch):
    # given the artifact calls recorded, and a warning of the data
    calls = []
    for kind in ("markdown", "table"):
        monkeypatch.setattr(evaluation, f"create_{kind}_artifact", lambda kind=kind, **kw: calls.append(kw))
    warning = "ledger.csv: 8 of 10 lines (80%) rejected as required_blank (vendor / description): likely cause: ..."
    # when the pipeline's evaluation and the demo's outcome are published
    evaluation.publish_eval_report([_report("baseline")], warnings=[warning])
    evaluation.publish_outcome.fn([_report("baseline")], None, None, [warning])
    pipeline, outcome = (next(c for c in calls if c["key"] == key) for key in ("eval-metrics", "outcome"))
    # then each report's first section after its title is the warning, and the runs list shows it in the description
    for published in (pipeline, outcome):
        assert published["markdown"].split("\n\n")[1] == f"**Warning**: {warning}"
        assert published["description"].startswith("WARNING: a file mostly rejected")


def test_a_prediction_of_a_mostly_rejected_file_leads_with_the_warning(capsys):
    # given a prediction whose ledger had most of its lines rejected for one rule
    from flows.summaries import print_prediction
    from tasks.predict_output import PredictSummary, summary_markdown, summary_rows

    warning = "next.csv: 8 of 10 lines (80%) rejected as required_blank (vendor / description): likely cause: ..."
    summary = PredictSummary(rows_in=10, rows_predicted=2, rows_rejected=8, output="p.xlsx", rejects="p.rejects.csv",
                             rows_auto=2, threshold=0.5, rejection_warnings=[warning])  # fmt: skip
    # when it is printed, written in the summary sheet and shown in the UI
    print_prediction(summary)
    # then each says it first, not only as a count of rejected rows
    assert f"WARNING      {warning}" in capsys.readouterr().out
    assert summary_rows(summary)[0] == ("경고 (warning)", warning)
    assert summary_markdown(summary).splitlines()[2] == f"**Warning**: {warning}"
