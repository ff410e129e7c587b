"""What the terminal shows when a command ends: rows accounting, training, models side by side, the prediction's
auto / review figures, and where everything is (the logging set-up is flows/console.py)."""

from pathlib import Path

from flows.console import venv_tool
from monitor.mlflow_store import run_page
from monitor.quality import personal_terminal_lines, terminal_lines
from monitor.rejections import merged_codes_line
from tasks.split import split_basis
from tasks.text import left_out_line


def print_prepare_result(result) -> None:
    """Rows accounting, output paths and, when built, the tokenized dataset."""
    summary = result.summary
    print()
    print(f"rows in      {summary.rows_in:>10,}")
    print(f"accepted     {summary.rows_accepted:>10,}")
    print(f"rejected     {summary.rows_rejected:>10,}")
    for rule, count in summary.rejected_by_rule.items():
        print(f"  {rule:<24}{count:>8,}")
    for warning in summary.rejection_warnings:  # a file mostly rejected: said with its likely cause, not only counted
        print(f"WARNING      {warning}")
    if merged := merged_codes_line(summary.merged_codes):
        print(f"codes        {merged}")
    if lines := summary.cancellations.get("lines"):
        print(f"cancelled    {lines:>10,} card cancellations (취소) kept as negative lines")
    for left in summary.files_left_out:
        print(f"left out     {left['url']}: {left['reason']}")
    print("\n".join(terminal_lines(summary.files, summary.unmapped_values)))
    if lines := personal_terminal_lines(summary.personal_data, summary.files):
        print("\n".join(lines))
    if done := summary.corrections:
        print(
            f"corrections  {done['applied']:,} applied, {done['confirmed']:,} confirmed as written, "
            f"{len(done['stale']):,} not applied (line changed or gone) from {done['file']}"
        )
        for stale in done["stale"][:10]:
            print(f"  not applied {stale['file']} line {stale['line']} -> {stale['code']}: {stale['why']}")
    print(f"features     {summary.data_path}")
    print(f"rejects      {summary.rejects_csv}")
    print(f"metadata     {summary.metadata_path}")
    if result.mispostings is not None:
        print(result.mispostings.headline())
    if result.texts is not None and (aside := result.texts.report.get("mispostings")):
        held = ", ".join(f"{split} {n:,}" for split, n in result.mispostings.by_split.items() if split != "train")
        train = {"exclude": f"{aside['excluded']:,} left out of training",
                 "relabel": f"{aside['relabelled']:,} trained on with the suggested code",
                 "keep": "trained on as written"}[aside["train_rows"]]  # fmt: skip
        print(f"  train lines {train} (mispostings.train_rows={aside['train_rows']}); calibration leaves out "
              f"{held or 'none'}")  # fmt: skip
    if result.texts is not None and (line := left_out_line(result.texts.report)):
        print(f"texts        {line}")
    if result.dataset is None:
        print("dataset      not built (give --model PATH to tokenize, and labelled data)")
        return
    dataset, tokens = result.dataset, result.dataset.stats["all"]
    basis = f" ({split_basis(result.split['by'])})" if "by" in result.split else ""
    print(f"splits       {', '.join(f'{k} {v:,}' for k, v in dataset.rows.items())}{basis}")
    rare = result.split.get("rare_classes_in_train_only", {})
    print(f"rare classes {len(rare):,} kept in train only")
    print(
        f"tokens       p50 {tokens['p50']:.0f}, p95 {tokens['p95']:.0f}, max {tokens['max']:,}, "
        f"truncated {tokens['truncated_share']:.1%} at {tokens['max_length']:,}"
    )
    print(f"dataset      {dataset.path}")


def parent_name(final: str) -> str:
    """A warm start's parent: the registered version it was downloaded from, else its run's name."""
    from monitor.registry import registered_mark

    mark = registered_mark(final)
    return mark["uri"] if mark else Path(final).parent.name


def training_origin(outcome) -> str:
    """How the adapter came to be: from scratch, resumed from a checkpoint, or finished by an earlier run."""
    origin = f"resumed from {Path(outcome.resumed_from).name}" if outcome.resumed_from else "from scratch"
    if getattr(outcome, "warm_start", None) and not outcome.resumed_from:
        new = len(outcome.new_codes)
        origin = f"warm start from {parent_name(outcome.warm_start)}; {new} new code{'s' if new != 1 else ''}"
        origin += f" ({', '.join(outcome.new_codes[:10])})" if new else ""
        origin += f"; {outcome.replayed:,} earlier lines replayed" if getattr(outcome, "replayed", 0) else ""
    if getattr(outcome, "already_finished", False):
        return f"by an earlier launch ({origin}); already finished, nothing trained this time"
    return origin


def print_training(outcome, tracking_uri: str, verdict: bool = False) -> None:
    """Final metrics, whether it learned (`verdict`: the side-by-side table says it otherwise), where the adapter
    and the training output are, and the MLflow run actually used."""
    from contracts.run_folder import RunFolder

    folder = RunFolder(root=outcome.run_dir)
    print()
    print(f"trained      {outcome.global_step:,} steps, {training_origin(outcome)}")
    for key in ("test_accuracy", "test_f1_weighted", "test_f1_macro", "test_loss"):
        if key in outcome.metrics:
            print(f"  {key:<22}{outcome.metrics[key]:.4f}")
    if verdict and outcome.report is not None and outcome.report.verdict:
        print(f"verdict      {outcome.report.verdict}")
    if verdict and outcome.report is not None and outcome.report.calibration is not None:  # train alone: said here
        from tasks.calibrate import describe

        print(f"calibrated   {describe(outcome.report.calibration)}")
    print(f"adapter      {outcome.final_dir}")
    print(f"checkpoints  {folder.checkpoints} ({', '.join(outcome.checkpoints) or 'none'})")
    if folder.train_log.exists():
        print(f"train log    {folder.train_log}")
    run_id = folder.mlflow_run_id.read_text().strip() if folder.mlflow_run_id.exists() else None
    print(f"MLflow       {tracking_uri}" + (f", run {run_id}" if run_id else ""))
    if registered := getattr(outcome, "registered", None):
        print(f"registered   {registered.uri} (predict --model {registered.uri} takes it)")
    local = not tracking_uri.startswith(("http://", "https://", "databricks"))
    if local:
        print(f"MLflow UI    {venv_tool('mlflow')} ui --backend-store-uri {tracking_uri} --port 5000, then")
    if run_id and (page := run_page(tracking_uri, run_id)):
        print(f"{'' if local else 'MLflow UI':<13}{page}")


def print_prefect_ui() -> None:
    """Where the flow runs can be seen: the configured server's UI, or how to keep runs next time."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if api := PREFECT_API_URL.value():
        print(f"Prefect UI   {PREFECT_UI_URL.value() or api} (flow runs, logs, artifacts)")
        return
    keep = f"{venv_tool('prefect')} server start; export PREFECT_API_URL=http://127.0.0.1:4200/api"
    print(f"Prefect UI   none: this command's temporary Prefect server is gone; to keep runs: {keep}")


def print_side_by_side(reports, choice=None, promotion=None) -> None:
    """Baseline and LLM metrics in columns, each calibrated model's auto / review figures, the model to deploy and
    whether it took the champion alias."""
    from tasks.calibrate import describe
    from tasks.evaluate import metrics_markdown

    reports = [r for r in reports if r is not None]
    print()
    print(metrics_markdown(reports))
    for report in reports:
        if report.calibration is not None:
            print(f"calibrated   {describe(report.calibration)}")
    if choice is not None:
        print(f"deploy       {choice.reason}")
        print(f"             account-tax predict --model {choice.model_dir} --input NEXT.xlsx --out predictions.xlsx")
    if promotion is not None:
        holder = promotion.challenger if promotion.moved else promotion.champion
        where = f"models:/{holder.name}@{promotion.alias} = {holder.uri}" if holder else "no champion"
        print(f"champion     {'promoted' if promotion.moved else 'stays'}: {where}")
        print(f"             {promotion.verdict.reason} ({promotion.verdict.lines:,} lines of the test split)")


def print_prediction(summary) -> None:
    print()
    print(f"predicted    {summary.rows_predicted:,} of {summary.rows_in:,} rows -> {summary.output}")
    rules = ", ".join(f"{rule} {n:,}" for rule, n in summary.rejected_by_rule.items())
    print(f"rejected     {summary.rows_rejected:,} rows ({rules or 'none'}) -> {summary.rejects}")
    for warning in summary.warnings:  # a file mostly rejected (its lines are missing), columns the model expected
        print(f"WARNING      {warning}")
    print(f"decision     {summary.headline()}")
    if summary.review_reasons:
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in summary.review_reasons.items())
        print(f"review       {summary.rows_review:,} lines; reasons (a line can have several): {reasons}")
    if held := summary.expectation:
        accuracy = "-" if held.accuracy is None else f"{held.accuracy:.1%}"
        promised = "-" if held.expected_accuracy is None else f"{held.expected_accuracy:.1%}"
        share = "-" if held.expected_coverage is None else f"{held.expected_coverage:.1%}"
        print(
            f"vs valid     {held.labelled_lines:,} lines carry a code: {held.coverage:.1%} at or above the threshold "
            f"(before the vendor and code checks), {accuracy} of them right (validation: {share}, {promised} right)"
        )
