"""The prediction's output: the file an accountant opens (their rows, the codes, auto / review), the rejects
beside it, and a summary that says how many lines were coded automatically at what expected accuracy."""

from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel

from ledger.conf import load_yaml
from ledger.frames import StageResult, parquet_columns, read_frame, read_table
from ledger.prediction_file import localize, write_csv, write_xlsx
from ledger.rejects import rule_counts
from ledger.work_store import OutputFile, on_store
from monitor.rejections import headline, warnings_markdown
from monitor.terminal import SAID_AGAIN
from schemas import RawLedger, Rejects
from schemas.ledger import PROVENANCE
from schemas.predict import prediction_schema
from scoring.review import reason_counts
from tasks.ingest import rows_as_in_files
from tasks.predict import TrainedRun

OUTPUT_WORDS = "prediction_output.yaml"


class Expectation(BaseModel):
    """A labelled ledger given to predict: how the promise made on validation held on it."""

    labelled_lines: int
    auto_lines: int  # at or above the confidence threshold (validation's measure; the vendor and code checks aside)
    coverage: float  # auto_lines / labelled_lines: comparable with validation's coverage, not auto / all lines
    accuracy: float | None  # of those lines, against the codes the ledger carries
    expected_coverage: float | None  # from validation
    expected_accuracy: float | None


class PredictSummary(BaseModel):
    rows_in: int
    rows_predicted: int
    rows_rejected: int
    rejected_by_rule: dict[str, int] = {}  # summary rows of an export are not lines to classify: they show here
    label_checks: dict[str, int] = {}  # when the ledger carries codes: match / differs / unknown to the model
    output: str
    rejects: str
    model: str = "llm"  # llm | baseline
    model_dir: str = ""
    rows_auto: int = 0
    rows_review: int = 0
    review_reasons: dict[str, int] = {}  # a line with two reasons counts under both
    threshold: float | None = None  # None: no line could be coded automatically
    target_accuracy: float | None = None
    expected_accuracy: float | None = None  # accuracy of the auto lines on validation
    expectation: Expectation | None = None
    review_file: str | None = None  # csv output: the review lines alone
    rejection_warnings: list[str] = []  # a file mostly rejected for one rule, with the likely cause (prepare's)
    column_warnings: list[str] = []  # columns the model learned from that this ledger lacks

    @property
    def warnings(self) -> list[str]:
        return [*self.rejection_warnings, *self.column_warnings]

    def headline(self) -> str:
        if self.threshold is None:
            target = f"{self.target_accuracy:.0%}" if self.target_accuracy else "the target"
            why = f"validation never reached {target} accuracy at any threshold"
            return f"0 lines coded automatically ({why}), {self.rows_review:,} lines to review"
        expected = "-" if self.expected_accuracy is None else f"{self.expected_accuracy:.1%}"
        n = self.rows_predicted
        share = f" of {n:,} ({self.rows_auto / n:.1%})" if n else ""
        return (
            f"{self.rows_auto:,}{share} lines coded automatically (expected accuracy {expected} from validation), "
            f"{self.rows_review:,} lines to review"
        )


def expectation(preds: pd.DataFrame, run: TrainedRun) -> Expectation | None:
    """Coverage and accuracy of the lines above the threshold, on the lines whose code the ledger gives."""
    if "label_check" not in preds or run.calibration is None or not preds["label_check"].notna().any():
        return None
    labelled = preds[preds["label_check"].notna()]
    above = labelled["pred1_prob"] >= run.calibration.threshold
    valid = run.calibration.valid
    return Expectation(
        labelled_lines=len(labelled),
        auto_lines=int(above.sum()),
        coverage=float(above.mean()),
        accuracy=float(labelled.loc[above, "label_check"].eq("match").mean()) if above.any() else None,
        expected_coverage=valid.coverage if valid else None,
        expected_accuracy=valid.auto_accuracy if valid else None,
    )


def prediction_table(preds: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as read (their own headers) then the decision, the accountant's 확정 계정코드 (the prediction on
    auto lines, empty on review lines: filled and given back to prepare, the file is labelled input) and the rest."""
    table = preds.merge(rows, on="row_id", how="left")
    ours = ("row_id", "row_digest", *PROVENANCE)  # ingest's columns, not the file's
    original = [c for c in rows.columns if c not in ours]
    table["confirmed_code"] = table["pred1_code"].where(table["decision"].eq("auto"))
    generated = ["decision", "confirmed_code", *(c for c in preds.columns if c not in ("row_id", "decision"))]
    return table[["row_id", *original, *generated, *(c for c in PROVENANCE if c in rows.columns)]]


def summary_rows(summary: PredictSummary) -> list[tuple[str, str]]:
    """The summary sheet: what was predicted, with which model, and what the figures mean."""
    rows = [("경고 (warning)", warning) for warning in summary.warnings]
    rows += [
        ("요약 (summary)", summary.headline()),
        ("모델 (model)", f"{summary.model}: {summary.model_dir}"),
        ("입력 행 (rows in)", f"{summary.rows_in:,}"),
        ("예측 행 (predicted)", f"{summary.rows_predicted:,}"),
        ("제외 행 (rejected, see rejects file)", f"{summary.rows_rejected:,}"),
        ("자동 (auto)", f"{summary.rows_auto:,}"),
        ("검토 (review)", f"{summary.rows_review:,}"),
        ("자동 기준 확신도 (threshold)", "-" if summary.threshold is None else f"{summary.threshold:.4f}"),
        ("목표 정확도 (target accuracy)", "-" if summary.target_accuracy is None else f"{summary.target_accuracy:.0%}"),
        ("확정 계정코드 (confirmed code)", load_yaml(OUTPUT_WORDS)["confirm_note"]),
    ]
    # a line can have several reasons: these add up to more than the review lines
    rows += [(f"검토 사유 (reason; a line can have several): {k}", f"{v:,}") for k, v in summary.review_reasons.items()]
    if held := summary.expectation:
        accuracy = "-" if held.accuracy is None else f"{held.accuracy:.1%}"
        rows.append(("장부 계정 기준 자동 처리 정확도 (auto accuracy on this ledger)", accuracy))
        rows.append(("장부 계정 기준 확신도 이상 비율 (share at or above the threshold)", f"{held.coverage:.1%}"))
    return rows


@task
@on_store
def write_prediction_file(
    rows_read: str, predictions: StageResult, rejects_parquet: str, rows_in: int, out: OutputFile, run: TrainedRun,
    language: str = "ko", rejection_warnings: list[str] | None = None, column_warnings: list[str] | None = None,
) -> PredictSummary:  # fmt: skip
    """The input rows (their own headers) plus codes and decisions, as CSV or xlsx; rejects beside it; the warnings
    of a file mostly rejected for one rule and of columns the model expected and did not get lead the summary."""
    rows = read_table(rows_read, RawLedger, "ledger as read")
    if run.prepare_params.privacy.mask:  # the user's own columns as their file has them: it is their file
        rows, kept_masked = rows_as_in_files(rows, run.prepare_params.ingest)
        for url in kept_masked:
            get_run_logger().warning("%s changed or is gone since it was read: its own columns stay masked", url)
    ranks = sum(c.endswith("_code") for c in parquet_columns(predictions.data.path))
    preds = read_frame(predictions.data, prediction_schema(ranks), "predictions")
    table = prediction_table(preds, rows)
    review = table[table["decision"].eq("review")].sort_values("pred1_prob", kind="stable")
    calibration = run.calibration
    summary = PredictSummary(
        rows_in=rows_in,
        rows_predicted=len(table),
        rows_rejected=0,
        output=str(out),
        rejects="",
        model=run.kind,
        model_dir=run.model_dir,
        rows_auto=int(preds["decision"].eq("auto").sum()),
        rows_review=int(preds["decision"].eq("review").sum()),
        review_reasons=reason_counts(preds["review_reason"]),
        threshold=calibration.threshold if calibration and calibration.automates else None,
        target_accuracy=calibration.target_accuracy if calibration else None,
        expected_accuracy=calibration.valid.auto_accuracy if calibration and calibration.valid else None,
        expectation=expectation(preds, run),
        label_checks=preds["label_check"].value_counts().to_dict() if "label_check" in preds else {},
        rejection_warnings=rejection_warnings or [],
        column_warnings=column_warnings or [],
    )
    rejects = read_table(rejects_parquet, Rejects, "rejects")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    rejects_out = path.with_name(f"{path.stem}.rejects.csv")
    summary = summary.model_copy(
        update={"rows_rejected": len(rejects), "rejected_by_rule": rule_counts(rejects), "rejects": str(rejects_out)}
    )
    words = load_yaml(OUTPUT_WORDS)
    shown = (lambda frame: localize(frame, words)) if language == "ko" else (lambda frame: frame)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        write_xlsx(shown(table), shown(review), summary_rows(summary), path, words, localized=language == "ko")
    else:
        write_csv(shown(table), path)
        review_out = path.with_name(f"{path.stem}.review.csv")
        write_csv(shown(review), review_out)
        summary = summary.model_copy(update={"review_file": str(review_out)})
    write_csv(rejects, rejects_out)
    _log(summary)
    create_markdown_artifact(
        key="prediction-summary", markdown=summary_markdown(summary),
        description=headline(summary.warnings, summary.headline()),
    )  # fmt: skip
    return summary


def summary_markdown(summary: PredictSummary) -> str:
    """The Prefect UI's view of a prediction: the headline, then the summary sheet's rows and the files."""
    rows = "\n".join(f"| {name} | {value} |" for name, value in summary_rows(summary))
    files = f"- predictions: `{summary.output}`\n- rejects: `{summary.rejects}`"
    files += f"\n- review lines: `{summary.review_file}`" if summary.review_file else ""
    warnings = "\n".join([*warnings_markdown(summary.warnings), ""])  # each, then a blank line; or nothing
    return f"# Prediction\n\n{warnings}**{summary.headline()}**\n\n| | |\n|---|---|\n{rows}\n\n{files}"


def _log(summary: PredictSummary) -> None:
    logger = get_run_logger()
    logger.info("%s", summary.headline(), extra=SAID_AGAIN)
    if unknown := summary.label_checks.get("unknown to the model", 0):
        logger.warning("%d predicted rows carry an account code the model never trained on (label_check)", unknown)
    if held := summary.expectation:
        accuracy = "-" if held.accuracy is None else f"{held.accuracy:.1%}"
        expected = "-" if held.expected_accuracy is None else f"{held.expected_accuracy:.1%}"
        logger.info(
            "on the %s labelled lines: %.1f%% above the threshold, accuracy %s (validation: %s)",
            f"{held.labelled_lines:,}", 100 * held.coverage, accuracy, expected,
        )  # fmt: skip
