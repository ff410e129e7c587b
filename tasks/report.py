"""Rows accounting and the reports of the preparation flow (files, UI artifacts)."""

import contextlib
import json
import re
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import MissingContextError
from pydantic import BaseModel

from contracts.label_map import LabelMap
from ledger.columns import columns_conf
from ledger.frames import OutputPath, StageResult, read_frame
from ledger.spreadsheet import escape_formulas
from ledger.work_store import UrlRecord, WorkDir, on_store
from monitor.quality import (
    file_layouts,
    mapping_markdown,
    masking_warning,
    personal_markdown,
    quality_markdown,
    with_spelling_notes,
)
from monitor.rejections import headline, merged_codes_line, rejection_warnings, warnings_markdown
from monitor.terminal import SAID_AGAIN
from params.prepare import IngestParams, ValidateParams
from schemas import REJECT_COLUMNS, Rejects
from tasks.caching import STAGE
from tasks.split import split_basis
from tasks.text import left_out_line

REJECTS_SHOWN = 5
RARE_SHOWN = 20


class RowsAccountingError(RuntimeError):
    """rows_in != rows_accepted + rows_rejected: some rows were lost, which must never happen."""


class NoRowsAcceptedError(ValueError):
    """Every row of the ledger was rejected: nothing to train on or classify. The rejects say why."""


def _first_rejects(table: pd.DataFrame) -> str:
    shown = table.head(REJECTS_SHOWN)
    lines = [
        f"line {row} of {file}: {rule} {detail}"
        for file, row, rule, detail in zip(
            shown["source_file"], shown["source_row"], shown["rule"], shown["detail"], strict=True
        )
    ]
    return "; ".join(lines)


class PrepareSummary(BaseModel):
    rows_in: int
    rows_accepted: int
    rows_rejected: int
    rejected_by_rule: dict[str, int]
    stages: list[dict]
    data_path: OutputPath
    source_path: OutputPath  # the rows as read, with the file's own headers (joined back on row_id by predict)
    rejects_parquet: OutputPath
    rejects_csv: OutputPath
    metadata_path: str
    report_dir: str
    files: list[dict] = []  # per file: format, sheet, header rows, header -> column mapping, unmapped headers
    unmapped_values: dict[str, dict[str, int]] = {}  # column -> value no map knows -> rows (kept as unmapped_to)
    files_left_out: list[dict] = []  # files of a folder or glob not read, each with its reason
    cancellations: dict = {}  # card cancellations kept as negative lines, tied to their approval or not
    personal_data: dict = {}  # ledger.personal_data.PersonalDataReport: cells per column and kind, never a value
    warnings: list[str] = []  # what the user must know about this run (masking turned off)
    corrections: dict = {}  # the corrections file: applied, confirmed as written, lines it could not correct
    # per file, a rule that rejected most of its lines, in one line with the likely cause: what the reports lead with
    rejection_warnings: list[str] = []
    merged_codes: dict = {}  # account -> spellings made its chart code (preprocess.normalize.account_codes=chart)


def corrections_applied(stages: dict[str, StageResult]) -> dict:
    """What the corrections file did (counts, the lines it could not correct), without the reviewed row ids."""
    done = stages["correct"].report.get("corrections", {}) if "correct" in stages else {}
    return {k: v for k, v in done.items() if k != "reviewed_row_ids"}


@task(**STAGE)
@on_store
def reconcile_rows(
    stages: dict[str, StageResult],
    metadata: UrlRecord,
    work_dir: WorkDir,
    ingest: IngestParams | None = None,
    rules: ValidateParams | None = None,
) -> PrepareSummary:
    """Check rows_in == accepted + rejected over all stages; write the rejects table and the metadata; warn of a
    file whose lines one rule rejected more than rules.warn_rejected_share of."""
    ingest, rules = ingest or IngestParams(), rules or ValidateParams()
    names = list(stages)
    rows_in, final = stages[names[0]].data.rows, stages[names[-1]]
    rejects = [read_frame(r.rejects, Rejects, "rejects") for r in stages.values() if r.rejects is not None]
    table = pd.concat(rejects, ignore_index=True).sort_values("row_id") if rejects else pd.DataFrame()
    first = [c for c in REJECT_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    report_dir = Path(work_dir) / "reports" / f"prepare-{final.data.fingerprint}"
    report_dir.mkdir(parents=True, exist_ok=True)
    table.to_parquet(report_dir / "rejects.parquet", index=False)
    # BOM: Excel opens Hangul right; a ledger cell like =HYPERLINK(...) must not run as a formula there
    escape_formulas(table).to_csv(report_dir / "rejects.csv", index=False, encoding="utf-8-sig")
    metadata = {
        **metadata,
        "unmapped_values": stages["normalize"].report.get("unmapped_values", {}) if "normalize" in stages else {},
        "cancellations": stages["validate"].report.get("cancellations", {}) if "validate" in stages else {},
        "corrections": corrections_applied(stages),
    }
    (report_dir / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False, indent=2, default=str))
    stage_rows = [
        {
            "stage": name,
            "rows_out": result.data.rows,
            "rejected": result.rejects.rows if result.rejects else 0,
            "rules": ", ".join(f"{k}: {v:,}" for k, v in result.report.get("rules", {}).items()),
        }
        for name, result in stages.items()
    ]
    rejected = int(len(table))
    summary = PrepareSummary(
        rows_in=rows_in,
        rows_accepted=final.data.rows,
        rows_rejected=rejected,
        rejected_by_rule={str(k): int(v) for k, v in table["rule"].value_counts().items()} if rejected else {},
        stages=stage_rows,
        data_path=final.data.path,
        source_path=stages[names[0]].data.path,
        rejects_parquet=str(report_dir / "rejects.parquet"),
        rejects_csv=str(report_dir / "rejects.csv"),
        metadata_path=str(report_dir / "metadata.json"),
        report_dir=str(report_dir),
        files=with_spelling_notes(file_layouts(metadata), metadata),
        unmapped_values=metadata["unmapped_values"],
        files_left_out=metadata.get("file_errors", []) + metadata.get("files_skipped", []),
        cancellations=metadata["cancellations"],
        personal_data=metadata.get("personal_data", {}),
        corrections=metadata["corrections"],
        warnings=[w for w in [masking_warning(metadata.get("personal_data", {}))] if w],
        rejection_warnings=rejection_warnings(
            table, metadata, columns_conf(ingest.columns_conf).required_any, rules.warn_rejected_share
        ),
        merged_codes=stages["normalize"].report.get("merged_codes", {}) if "normalize" in stages else {},
    )
    with contextlib.suppress(MissingContextError):  # outside a run (a test calling .fn) the summary still has them
        for warning in summary.warnings:
            get_run_logger().warning("%s", warning)
        for warning in summary.rejection_warnings:  # the closing summary prints it (SAID_AGAIN: once on a terminal)
            get_run_logger().warning("%s", warning, extra=SAID_AGAIN)
    (report_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
    if rows_in != summary.rows_accepted + rejected:
        raise RowsAccountingError(
            f"rows_in={rows_in:,} != accepted {summary.rows_accepted:,} + rejected {rejected:,}; see {report_dir}"
        )
    if rows_in and not summary.rows_accepted:
        raise NoRowsAcceptedError(
            f"no row was accepted: all {rows_in:,} rows were rejected ({summary.rejected_by_rule}); "
            f"{_first_rejects(table)}; all rejects: {summary.rejects_csv}"
        )
    return summary


def metadata_markdown(metadata: dict, summary: PrepareSummary) -> str:
    lines = [
        "# Data quality",
        *warnings_markdown(summary.rejection_warnings),
        f"**rows in** {summary.rows_in:,} = **accepted** {summary.rows_accepted:,} + "
        f"**rejected** {summary.rows_rejected:,}",
        "",
        "## Files",
        "| file | format | encoding | rows |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f['url']} | {f['format']} | {f['encoding'] or ''} | {f['rows']:,} |" for f in metadata["files"]]
    lines_read = metadata.get("lines")
    over = f" (over the {lines_read:,} ledger lines: title and summary rows aside)" if lines_read is not None else ""
    lines += ["", f"## Columns{over}"]
    lines += ["| column | type | nulls | unique | range or top values |", "|---|---|---|---|---|"]
    for name, col in metadata["columns"].items():
        if "range" in col:
            values = " .. ".join(col["range"]) + (f" ({col['unparsed']:,} unparsed)" if col["unparsed"] else "")
        else:
            values = ", ".join(f"{k} ({v:,})" for k, v in col["top"].items())
        lines.append(f"| {name} | {col['type']} | {col['nulls']:,} | {col['unique']:,} | {values} |")
    lines += mapping_markdown(summary.files)
    lines += personal_markdown(summary.personal_data, summary.files)
    lines += quality_markdown(summary.unmapped_values, summary.files_left_out, summary.cancellations)
    if merged := merged_codes_line(summary.merged_codes):
        lines += ["", f"Account codes written in several forms: {merged}"]
    lines += ["", f"Rejects: `{summary.rejects_csv}`"]
    return "\n".join(lines)


def report_scope() -> str:
    """The flow a report belongs to, as an artifact-key suffix: the parent of a subflow (prepare_data inside
    predict_ledger -> 'predict-ledger'), else the flow itself; so one flow's report never replaces another's."""
    from prefect.runtime import flow_run

    name = flow_run.flow_name
    try:
        if parent := flow_run.parent_flow_run_id:
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                name = client.read_flow(client.read_flow_run(parent).flow_id).name
    except Exception:  # no API at hand (a unit test): the flow's own name
        pass
    return re.sub(r"[^a-z0-9]+", "-", str(name or "flow").lower()).strip("-")


def accounting_rows(summary: PrepareSummary) -> list[dict]:
    """Per stage: rows in, rejected, rows out, rules; then the total. Counts with thousands separators."""
    rows, rows_in = [], summary.rows_in
    for stage in summary.stages:
        rows.append(
            {
                "stage": stage["stage"],
                "rows in": f"{rows_in:,}",
                "rejected": f"{stage['rejected']:,}",
                "rows out": f"{stage['rows_out']:,}",
                "rules": stage["rules"],
            }
        )
        rows_in = stage["rows_out"]
    total = {
        "stage": "total",
        "rows in": f"{summary.rows_in:,}",
        "rejected": f"{summary.rows_rejected:,}",
        "rows out": f"{summary.rows_accepted:,}",
        "rules": ", ".join(f"{k}: {v:,}" for k, v in summary.rejected_by_rule.items()),
    }
    return [*rows, total]


def publish_prepare_report(metadata: dict, summary: PrepareSummary) -> None:
    """Data-quality markdown and rows-accounting table in the Prefect UI, keyed per flow (every run, cached or not)."""
    scope = report_scope()
    create_markdown_artifact(
        key=f"data-quality-{scope}",
        markdown=metadata_markdown(metadata, summary),
        description=headline(summary.rejection_warnings, "ledger metadata"),
    )
    description = (
        f"{summary.rows_in:,} rows in = {summary.rows_accepted:,} accepted + {summary.rows_rejected:,} rejected"
    )
    create_table_artifact(key=f"rows-accounting-{scope}", table=accounting_rows(summary), description=description)


def rare_classes_markdown(rare: dict[str, int], label_map_path: str) -> list[str]:
    """Classes kept in train only, with their account names, as a markdown table (the first RARE_SHOWN)."""
    if not rare:
        return ["Classes kept in train only (too few rows to stratify): none"]
    names = {slot.code: slot.name for slot in LabelMap.read(label_map_path).labels}
    lines = [
        f"Classes kept in train only (too few rows to stratify): {len(rare):,}",
        "",
        "| code | account | rows |",
        "|---|---|---|",
        *[f"| {code} | {names.get(code, '')} | {rows:,} |" for code, rows in list(rare.items())[:RARE_SHOWN]],
    ]
    return lines + ([f"| ... | {len(rare) - RARE_SHOWN:,} more | |"] if len(rare) > RARE_SHOWN else [])


def dataset_markdown(labels, split: StageResult, texts: StageResult, dataset) -> str:
    new = f" (new codes: {len(labels.new_codes):,})" if labels.new_codes else ""
    lines = [
        "# Dataset",
        f"Label slots used: {labels.used:,} of {labels.num_slots:,}{new}",
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {name} | {rows:,} |" for name, rows in dataset.rows.items()],
        "",
        f"Split {split_basis(split.report['by'])}." if "by" in split.report else "",
        f"Classes: {split.report['classes']:,}. Rows left out by sampling: {split.report['sampled_out']:,}",
        "",
        *rare_classes_markdown(split.report["rare_classes_in_train_only"], labels.path),
        "",
        f"Example text: `{texts.report['example']}`",
        *(["", line] if (line := left_out_line(texts.report)) else []),
        "",
        f"Tokenized dataset: `{dataset.path}`",
    ]
    return "\n".join(lines)


def token_rows(stats: dict[str, dict]) -> list[dict]:
    return [
        {
            "split": name,
            "p50": f"{s['p50']:,.0f}",
            "p95": f"{s['p95']:,.0f}",
            "max": f"{s['max']:,}",
            "truncated": f"{s['truncated_share']:.1%}",
            "max_length": f"{s['max_length']:,}",
        }
        for name, s in stats.items()
    ]


def publish_dataset_report(labels, split: StageResult, texts: StageResult, dataset) -> None:
    """Split sizes, rare classes with their names, label slots and token length stats in the Prefect UI."""
    markdown = dataset_markdown(labels, split, texts, dataset)
    create_markdown_artifact(key="dataset-summary", markdown=markdown, description="split and labels")
    create_table_artifact(
        key="token-stats", table=token_rows(dataset.stats), description="token lengths (before truncation)"
    )
