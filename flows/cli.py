"""`account-tax`: the project's command line (synth, prepare, train, pipeline, baseline, predict, demo).

An error the user can fix (a missing file, an unwritable folder, an unreachable MLflow server, a failed training,
bad parameters...) prints one paragraph saying what to do and exits 2; its traceback is in the log file it names.
"""

import argparse
import sys
import time
from pathlib import Path

from flows.errors import hint_for
from ledger.errors import ParameterError
from synth.export_styles import STYLES

FLOW_COMMANDS = ("prepare", "train", "pipeline", "baseline", "predict", "monthly", "demo")
DEMO_WORK_DIR = "data/demo"


def _add_param_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with parameter sections (overrides the code defaults)")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter, e.g. --set preprocess.validate.date_min=2020-01-01 (repeatable)",
    )
    _add_refresh(parser)


def _add_refresh(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refresh-cache", action="store_true", help="ignore cached task results and re-run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="account-tax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic Korean ledger")
    synth.add_argument("--rows", type=int, help="ledger rows (plain: default 10,000) or export lines (a style)")
    synth.add_argument("--accounts", type=int, default=120)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--format", choices=["csv", "xlsx", "parquet"], default=None, help="default: from --out")
    synth.add_argument("--encoding", choices=["utf-8", "utf-8-sig", "cp949"], default="utf-8")
    synth.add_argument("--dirty", type=float, default=0.0, help="share of rows with real-export dirt (0-1)")
    synth.add_argument("--out", required=True)
    synth.add_argument(
        "--style",
        choices=["plain", *STYLES],
        default="plain",
        help="plain: the ledger as one table (--format, --encoding); else a real export's shape and its truth",
    )

    prepare = sub.add_parser("prepare", help="run the data-preparation flow on a ledger")
    prepare.add_argument("--input", help="ledger file, folder or glob (any fsspec URL)")
    prepare.add_argument("--work-dir", help="where outputs go (default: data)")
    prepare.add_argument("--no-labels", action="store_true", help="the ledger has no account codes")
    prepare.add_argument("--model", help="model folder: its tokenizer builds the tokenized dataset")
    prepare.add_argument("--corrections", help=CORRECTIONS_HELP)
    _add_param_options(prepare)

    train = sub.add_parser("train", help="train a LoRA adapter on a tokenized dataset (DeepSpeed subprocess)")
    train.add_argument("--dataset", help="tokenized dataset folder printed by `prepare`")
    train.add_argument("--model", help="base model folder; default: the bundled all-MiniLM-L6-v2")
    train.add_argument("--work-dir")
    train.add_argument("--run-name")
    train.add_argument("--resume-from", help="'latest' or a checkpoint folder")
    train.add_argument("--warm-start", help=WARM_START_HELP)
    train.add_argument("--launcher", choices=["deepspeed", "torchrun", "python"])
    train.add_argument("--num-gpus", type=int)
    _add_param_options(train)

    pipe = sub.add_parser("pipeline", help="prepare + baseline + train; with no --input: the demo")
    pipe.add_argument("--input", help="ledger file, folder or glob; omitted: the demo (a synthetic ledger)")
    pipe.add_argument("--model", help="base model folder; default: the bundled all-MiniLM-L6-v2 (real, pretrained)")
    pipe.add_argument("--work-dir")
    pipe.add_argument("--corrections", help=CORRECTIONS_HELP)
    pipe.add_argument("--warm-start", help=WARM_START_HELP + "; prepare keeps its codes at their label slots")
    _add_param_options(pipe)

    base = sub.add_parser("baseline", help="TF-IDF + logistic regression on the same split and texts (seconds)")
    base.add_argument("--input", required=True)
    base.add_argument("--work-dir")
    _add_param_options(base)

    predict = sub.add_parser("predict", help="classify a new ledger: calibrated codes, auto / review per line")
    predict.add_argument(
        "--model", required=True, help="runs/<name>, baselines/<name>, models:/NAME/VERSION (MLflow registry), latest"
    )
    predict.add_argument("--input", required=True)
    predict.add_argument("--out", required=True, help=".csv or .xlsx")
    predict.add_argument("--work-dir", default="data")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--language", choices=("ko", "en"), help="output headers and words (default ko)")
    predict.add_argument("--tracking-uri", help="MLflow store of a models:/ URI (default <work-dir>/mlflow.db)")
    _add_refresh(predict)

    month = sub.add_parser("monthly", help="the monthly cycle: reviewed file -> challenger -> champion -> new month")
    month.add_argument("--reviewed", required=True, help="last month's prediction file, 확정 계정코드 filled")
    month.add_argument("--new-month", required=True, help="this month's ledger to code")
    month.add_argument("--out", help="prediction file (default <work-dir>/predictions/<new month>.xlsx)")
    month.add_argument(
        "--champion", help="registry alias to start from and to beat (default models:/account-tax@champion)"
    )
    month.add_argument("--model", help="base model folder; default: the bundled all-MiniLM-L6-v2")
    month.add_argument("--work-dir")
    _add_param_options(month)

    demo = sub.add_parser("demo", help="synthetic ledger + bundled real model -> pipeline -> predict a second ledger")
    demo.add_argument("--rows", type=int, default=20_000)
    demo.add_argument("--work-dir", default=DEMO_WORK_DIR)
    _add_refresh(demo)

    tiny = sub.add_parser("make-tiny-model", help="build a tiny random decoder + tokenizer (fast tests, no download)")
    tiny.add_argument("--out", required=True)
    tiny.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    tiny.add_argument("--seed", type=int, default=0)
    return parser


WARM_START_HELP = "start from a finished run's adapter and head: runs/<name>, 'latest' or models:/account-tax@champion"
CORRECTIONS_HELP = "the suspected mis-postings file (xlsx or csv), 확정 계정코드 filled: its codes replace the ledger's"


def _overrides(args: argparse.Namespace, *options: str, **explicit) -> dict:
    """--set assignments, overridden by the named options and `explicit` values the user gave (None = not given)."""
    from params.loading import deep_merge, parse_assignments

    explicit |= {name: getattr(args, name) for name in options}
    explicit["refresh_cache"] = True if getattr(args, "refresh_cache", False) else None
    given = {k: v for k, v in explicit.items() if v is not None}
    return deep_merge(parse_assignments(getattr(args, "assignments", [])), given)


def run_synth(args: argparse.Namespace) -> None:
    from synth.ledger import make_ledger, write_ledger

    start = time.perf_counter()
    if args.style != "plain":
        _synth_export(args, start)
        return
    df = make_ledger(args.rows or 10_000, args.accounts, args.seed, dirty=args.dirty)
    path = write_ledger(df, args.out, args.format, args.encoding)
    accounts = df["계정코드"].replace("", None).nunique()
    print(f"wrote {len(df):,} rows, {accounts} accounts -> {path} ({time.perf_counter() - start:.1f}s)")


def _synth_export(args: argparse.Namespace, start: float) -> None:
    """A real export's shape (--style) of the first --rows lines of a synthetic ledger, and its truth."""
    from synth.exports import DEFAULT_LINES, write_export
    from synth.ledger import make_ledger

    lines = args.rows or DEFAULT_LINES[args.style]
    df = make_ledger(3 * lines + 100, args.accounts, args.seed, dirty=args.dirty)  # dirt rows are skipped
    truth = write_export(df, args.style, args.out, seed=args.seed, lines=lines)
    rejected = ", ".join(f"{rule} {n:,}" for rule, n in truth.rejected.items()) or "none"
    print(f"wrote {args.style} -> {truth.path} ({time.perf_counter() - start:.1f}s)")
    print(f"rows {truth.rows_in:,} = lines {len(truth.lines):,} + non-line rows ({rejected})")
    print(truth.lines.to_string(max_rows=20))


def run_prepare(args: argparse.Namespace) -> None:
    from flows.summaries import print_prepare_result
    from params.loading import load_params
    from params.prepare import PrepareParams

    labels = False if args.no_labels else None
    overrides = _overrides(args, "input", "work_dir", "model", "corrections", labels_required=labels)
    params = load_params(PrepareParams, args.config, overrides)
    from flows.prepare import prepare_data

    print_prepare_result(prepare_data(params))


def run_train(args: argparse.Namespace) -> None:
    from flows.summaries import print_training
    from params.loading import load_params
    from params.train import TrainParams

    options = ("dataset", "model", "work_dir", "run_name", "resume_from", "warm_start", "launcher", "num_gpus")
    params = load_params(TrainParams, args.config, _overrides(args, *options))
    from flows.train import train_model
    from tasks.tracking import tracking_uri

    print_training(train_model(params), tracking_uri(params.mlflow.tracking_uri, params.work_dir), verdict=True)


def run_pipeline(args: argparse.Namespace) -> None:
    if not args.input:
        if args.model or args.config or args.assignments or args.corrections or args.warm_start:
            raise ParameterError(
                "--model, --config, --set and --corrections need --input; without --input the demo runs as it is"
            )
        run_demo(argparse.Namespace(**{**vars(args), "rows": 20_000, "work_dir": args.work_dir or DEMO_WORK_DIR}))
        return
    from flows.summaries import print_prepare_result, print_side_by_side, print_training
    from params.loading import load_params
    from params.pipeline import PipelineParams

    given = {"input": args.input, "model": args.model, "work_dir": args.work_dir, "corrections": args.corrections}
    prepare = {k: v for k, v in given.items() if v}
    train = {"warm_start": args.warm_start} if args.warm_start else {}
    params = load_params(PipelineParams, args.config, _overrides(args, prepare=prepare, train=train or None))
    from flows.pipeline import pipeline
    from tasks.tracking import tracking_uri

    result = pipeline(params)
    print_prepare_result(result.prepared)
    print_training(result.training, tracking_uri(params.train.mlflow.tracking_uri, params.prepare.work_dir))
    print_side_by_side([result.baseline, result.probe, result.llm], result.choice, result.promotion)


def run_demo(args: argparse.Namespace) -> None:
    from flows.demo import demo
    from flows.summaries import print_prediction, print_prepare_result, print_side_by_side, print_training
    from tasks.tracking import tracking_uri

    result = demo(work_dir=args.work_dir, rows=args.rows, refresh_cache=args.refresh_cache)
    print_prepare_result(result.pipeline.prepared)
    print_training(result.pipeline.training, tracking_uri(None, args.work_dir))
    pipeline = result.pipeline
    print_side_by_side([pipeline.baseline, pipeline.probe, pipeline.llm], pipeline.choice, pipeline.promotion)
    print_prediction(result.prediction)
    print(f"\nledger       {Path(args.work_dir) / 'ledger.csv'}")
    print("next         account-tax pipeline --input YOUR_LEDGER.xlsx [--model /path/to/Qwen3-or-BERT]   (README.md)")


def run_baseline(args: argparse.Namespace) -> None:
    from flows.baseline import baseline
    from flows.summaries import print_side_by_side
    from params.baseline import BaselineFlowParams
    from params.loading import load_params

    prepare = {k: v for k, v in {"input": args.input, "work_dir": args.work_dir}.items() if v}
    params = load_params(BaselineFlowParams, args.config, _overrides(args, prepare=prepare))
    report = baseline(params)
    print_side_by_side([report])
    print(f"model        {report.model_dir} (account-tax predict --model {report.model_dir} ...)")


def run_predict(args: argparse.Namespace) -> None:
    from flows.predict import predict_ledger
    from flows.summaries import print_prediction
    from params.loading import load_params
    from params.predict import PredictParams

    options = ("model", "input", "out", "work_dir", "top_k", "batch_size", "language", "tracking_uri")
    print_prediction(predict_ledger(load_params(PredictParams, None, _overrides(args, *options))))


def run_monthly(args: argparse.Namespace) -> None:
    from flows.monthly import monthly_cycle
    from flows.summaries import print_prediction, print_prepare_result, print_side_by_side, print_training
    from params.loading import load_params
    from params.monthly import MonthlyParams
    from tasks.tracking import tracking_uri

    options = ("reviewed", "new_month", "out", "champion", "model", "work_dir")
    params = load_params(MonthlyParams, args.config, _overrides(args, *options))
    result = monthly_cycle(params)
    trained = result.pipeline
    print(f"\nstarted from {result.parent or 'scratch (no LLM champion yet)'}")
    print_prepare_result(trained.prepared)
    print_training(trained.training, tracking_uri(params.train.mlflow.tracking_uri, params.work_dir))
    print_side_by_side([trained.baseline, trained.probe, trained.llm], trained.choice, trained.promotion)
    print_prediction(result.prediction)


def run_make_tiny_model(args: argparse.Namespace) -> None:
    from synth.tiny_model import make_tiny_model

    print(f"tiny {args.arch} model and tokenizer -> {make_tiny_model(args.out, args.arch, seed=args.seed)}")


COMMANDS = {
    "synth": run_synth,
    "prepare": run_prepare,
    "train": run_train,
    "pipeline": run_pipeline,
    "baseline": run_baseline,
    "predict": run_predict,
    "monthly": run_monthly,
    "demo": run_demo,
    "make-tiny-model": run_make_tiny_model,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_file = None
    try:
        if args.command not in FLOW_COMMANDS:
            COMMANDS[args.command](args)
            return 0
        from flows.console import cli_logging, new_log_file
        from flows.summaries import print_prefect_ui

        demo = args.command == "pipeline" and not args.input
        log_file = new_log_file(args.command, args.work_dir or (DEMO_WORK_DIR if demo else None))
        # every error ends in the CLI's one paragraph (expected or a bug): the terminal does not repeat it
        with cli_logging(log_file, reported=lambda err: isinstance(err, Exception)):
            COMMANDS[args.command](args)
        print_prefect_ui()
        print(f"log file     {log_file}")
        return 0
    except Exception as err:
        from flows.console import bug_paragraph, error_paragraph, keep_traceback

        hint = hint_for(err)
        log_file = keep_traceback(err, log_file, args.command)
        if hint is None:  # not the user's to fix: a bug, said as one, its traceback in the log file
            print(bug_paragraph(f"account-tax {args.command}", err, log_file), file=sys.stderr)
            return 1
        print(error_paragraph(f"account-tax {args.command}", err, hint, log_file), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
