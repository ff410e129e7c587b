"""The history's own mistakes: corrections an accountant confirmed put on the ledger, suspected mis-postings found
(K-fold baseline + cleanlab), listed for the accountant and set aside from training and calibration."""

from functools import partial
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel

from contracts.label_map import LabelMap
from ledger.conf import load_yaml
from ledger.corrections import WORDS, apply_to_ledger, read_corrections
from ledger.frames import OutputPath, StageResult, parquet_columns, read_frame, write_frame
from ledger.suspects_file import pair_counts, suspects_table, write_suspects_xlsx
from ledger.work_store import WorkDir, on_store
from monitor.progress import ProgressArtifact
from params.baseline import BaselineParams
from params.prepare import MispostingParams
from schemas import Ledger, TextFrame, split_schema
from tasks.caching import STAGE, StageCache
from tasks.split import LabelMapFile

TOP_LINES = 20  # lines and pairs shown in the Prefect UI (the files hold them all)


class MispostingReport(BaseModel):
    """What find_mispostings found: counts, the files, and why nothing was judged when it was not."""

    lines: int = 0
    suspected: int = 0
    by_split: dict[str, int] = {}
    train_rows: str = "exclude"
    table: OutputPath | None = None  # parquet, stored names (positions included)
    xlsx: OutputPath | None = None  # what the accountant opens
    skipped: str | None = None
    sampled: str | None = None  # how a ledger too large to fit in full was scored (mispostings.fit_lines)

    def headline(self) -> str:
        if self.skipped:
            return f"suspected mis-postings not looked for: {self.skipped}"
        share = self.suspected / self.lines if self.lines else 0.0
        line = f"suspected mis-postings {self.suspected:,} of {self.lines:,} lines ({share:.1%}) -> {self.xlsx}"
        return f"{line} ({self.sampled})" if self.sampled else line


@task(cache_policy=StageCache(file_inputs=("corrections",)), persist_result=True)
@on_store
def apply_corrections(ledger: StageResult, corrections: str | None, work_dir: WorkDir) -> StageResult:
    """Put the codes an accountant confirmed on their lines (file, line, digest); report what did not match."""
    if not corrections:
        return ledger
    df = read_frame(ledger.data, Ledger, "standardized ledger")
    corrected, report = apply_to_ledger(df, read_corrections(corrections))
    logger = get_run_logger()
    logger.info(
        "corrections from %s: %d applied, %d confirmed as written, %d not applied (line changed or gone)",
        corrections, report["applied"], report["confirmed"], len(report["stale"]),
    )  # fmt: skip
    for stale in report["stale"]:
        logger.warning("correction not applied: %s line %s -> %s: %s", stale["file"], stale["line"], stale["code"],
                       stale["why"])  # fmt: skip
    report["file"] = str(corrections)
    data = write_frame(corrected, Ledger, work_dir, "correct")
    return StageResult(data=data, report={**ledger.report, "corrections": report})


@task(**STAGE)
@on_store
def find_mispostings(
    split: StageResult, texts: StageResult, ledger: StageResult, labels: LabelMapFile, params: MispostingParams,
    work_dir: WorkDir,
) -> MispostingReport:  # fmt: skip
    """Score every labelled line out of sample, keep the lines cleanlab finds unlikely as written; write the table."""
    from scoring.mispostings import find_suspects, folds_for, out_of_sample_probs
    from tasks.baseline import fit_baseline

    if not params.detect:
        return MispostingReport(train_rows=params.train_rows, skipped="mispostings.detect is off")
    lines = read_frame(split.data, split_schema(parquet_columns(split.data.path)), "split output")
    text = read_frame(texts.data, TextFrame, "text output")["text"]
    classes = lines["label"].value_counts()
    if len(lines) < 2 * params.folds or int((classes >= params.min_class_rows).sum()) < 2:
        why = f"{len(lines):,} lines in {len(classes)} codes: too few to score out of sample"
        return MispostingReport(lines=len(lines), train_rows=params.train_rows, skipped=why)
    folds = folds_for(len(lines), params.folds, params.fit_lines)
    progress = ProgressArtifact("misposting-progress", folds, "folds scored")
    fit = partial(fit_baseline, params=BaselineParams(C=params.C, max_iter=params.max_iter))
    probs, slots = out_of_sample_probs(
        text, lines["label"].to_numpy(), fit, folds, params.seed, progress.update, params.fit_lines
    )
    trusted = lines["row_id"].isin(ledger.report.get("corrections", {}).get("reviewed_row_ids", [])).to_numpy()
    suspects = find_suspects(
        lines["label"].to_numpy(), probs, slots, params.min_class_rows, params.max_written_probability, trusted
    )
    digests = pd.read_parquet(ledger.data.path, columns=["row_id", "row_digest"])  # two columns, not the ledger
    lines = lines.merge(digests, on="row_id", how="left", validate="one_to_one")
    names = {s.id: (s.code, s.name) for s in LabelMap.read(labels.path).labels}
    table = suspects_table(lines, suspects, names, params.train_rows)
    table.insert(1, "position", suspects["position"].to_numpy())
    table.insert(2, "suggested_label", suspects["suggested"].to_numpy())
    folder = Path(work_dir) / "reports" / f"mispostings-{texts.data.fingerprint[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(folder / "suspected_mispostings.parquet", index=False)
    report = MispostingReport(
        lines=len(lines), suspected=len(table), train_rows=params.train_rows,
        sampled=sample_note(len(lines), folds, params.fit_lines),
        by_split={str(k): int(v) for k, v in table["split"].value_counts().items()},
        table=str(folder / "suspected_mispostings.parquet"), xlsx=str(folder / "suspected_mispostings.xlsx"),
    )  # fmt: skip
    words = load_yaml(WORDS)
    write_suspects_xlsx(table.drop(columns=["position", "suggested_label"]),
                        summary_rows(report, ledger.report, words), Path(report.xlsx), words)  # fmt: skip
    publish_mispostings(report, table)
    get_run_logger().info("%s", report.headline())
    return report


@task(**STAGE)
@on_store
def set_aside_mispostings(texts: StageResult, report: MispostingReport, work_dir: WorkDir) -> StageResult:
    """Mark the suspected lines; in train leave them out, keep or relabel them as `train_rows` says."""
    if report.skipped:
        return texts
    counts = {"lines": report.lines, "suspected": report.suspected, "train_rows": report.train_rows,
              "excluded": 0, "relabelled": 0, "table": report.table}  # fmt: skip
    if not report.suspected:
        return StageResult(data=texts.data, report={**texts.report, "mispostings": counts})
    df = read_frame(texts.data, TextFrame, "text output")
    table = pd.read_parquet(report.table, columns=["position", "suggested_label"])
    df["suspected"] = False
    df.loc[df.index[table["position"].to_numpy()], "suspected"] = True
    in_train = df["suspected"] & df["split"].eq("train")
    if report.train_rows == "relabel":
        suggested = pd.Series(table["suggested_label"].to_numpy(), index=df.index[table["position"].to_numpy()])
        df.loc[in_train, "label"] = suggested.reindex(df.index[in_train]).to_numpy()
        counts["relabelled"] = int(in_train.sum())
    elif report.train_rows == "exclude":
        df = df[~in_train]
        counts["excluded"] = int(in_train.sum())
    data = write_frame(df, TextFrame, work_dir, "text")
    return StageResult(data=data, report={**texts.report, "mispostings": counts})


def sample_note(lines: int, folds: int, fit_lines: int) -> str | None:
    """How the detector was bounded on a large ledger, or None when every fold fitted on all its other lines."""
    from scoring.mispostings import other_lines

    other = other_lines(lines, folds)
    if other <= fit_lines:
        return None
    return (f"scored in {folds} folds, each detector fitted on a sample of about {fit_lines:,} of the other "
            f"{other:,} lines: mispostings.fit_lines")  # fmt: skip


def summary_rows(report: MispostingReport, ledger_report: dict, words: dict) -> list[tuple[str, str]]:
    """The summary sheet's lines: the counts, where each split's suspects went, corrections read."""
    splits = words["values"]["split"]
    rows = [
        ("판단한 행", f"{report.lines:,}"),
        ("의심 분개", f"{report.suspected:,} ({report.suspected / max(report.lines, 1):.1%})"),
        *((f"의심 분개 ({splits.get(split, split)})", f"{n:,}") for split, n in report.by_split.items()),
        *((("판단 방법", report.sampled),) if report.sampled else ()),
        ("학습 데이터의 의심 분개", {"exclude": "제외", "keep": "장부 코드로 학습", "relabel": "제안 코드로 학습"}[
            report.train_rows]),
    ]  # fmt: skip
    if done := ledger_report.get("corrections"):
        rows.append(("반영한 수정", f"{done['applied']:,} (확인 {done['confirmed']:,}, 미반영 {len(done['stale']):,})"))
    return rows


def publish_mispostings(report: MispostingReport, table: pd.DataFrame) -> None:
    """Counts by written -> suggested pair and the most suspicious lines, in the Prefect UI."""
    pairs = pair_counts(table).head(TOP_LINES)
    markdown = "\n".join(
        [
            "# Suspected mis-postings",
            report.headline(),
            "",
            f"By split: {', '.join(f'{k} {v:,}' for k, v in report.by_split.items()) or 'none'}. Train lines: "
            f"{report.train_rows}. Valid and test lines keep their code and are left out of calibration.",
            "",
            "| written | suggested | lines |",
            "|---|---|---|",
            *(
                f"| {r.written_code} {r.written_name} | {r.suggested_code} {r.suggested_name} | {r.lines:,} |"
                for r in pairs.itertuples()
            ),
        ]
    )
    create_markdown_artifact(key="suspected-mispostings", markdown=markdown, description=report.headline())
    shown = ["rank", "source_file", "source_row", "split", "description", "written_code", "p_written",
             "suggested_code", "p_suggested", "handling"]  # fmt: skip
    top = table[[c for c in shown if c in table.columns]].head(TOP_LINES)
    create_table_artifact(
        key="suspected-mispostings-top", table=top.astype("str").to_dict("records"), description="most suspicious"
    )
