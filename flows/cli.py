"""`account-tax` command line: synth, prepare (more subcommands arrive with later stages)."""

import argparse
import os
import sys
import time


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
    parser.add_argument("--refresh-cache", action="store_true", help="ignore cached task results and re-run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="account-tax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic Korean ledger")
    synth.add_argument("--rows", type=int, default=10_000)
    synth.add_argument("--accounts", type=int, default=120)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--format", choices=["csv", "xlsx", "parquet"], default=None, help="default: from --out")
    synth.add_argument("--encoding", choices=["utf-8", "utf-8-sig", "cp949"], default="utf-8")
    synth.add_argument("--dirty", type=float, default=0.0, help="share of rows with real-export dirt (0-1)")
    synth.add_argument("--out", required=True)

    prepare = sub.add_parser("prepare", help="run the data-preparation flow on a ledger")
    prepare.add_argument("--input", help="ledger file, folder or glob (any fsspec URL)")
    prepare.add_argument("--work-dir", help="where outputs go (default: data)")
    prepare.add_argument("--no-labels", action="store_true", help="the ledger has no account codes")
    prepare.add_argument("--model", help="model folder: its tokenizer builds the tokenized dataset")
    _add_param_options(prepare)

    train = sub.add_parser("train", help="train a LoRA adapter on a tokenized dataset (DeepSpeed subprocess)")
    train.add_argument("--dataset", help="tokenized dataset folder printed by `prepare`")
    train.add_argument("--model", help="base model folder")
    train.add_argument("--work-dir")
    train.add_argument("--run-name")
    train.add_argument("--resume-from", help="'latest' or a checkpoint folder")
    train.add_argument("--launcher", choices=["deepspeed", "torchrun", "python"])
    train.add_argument("--num-gpus", type=int)
    _add_param_options(train)

    pipe = sub.add_parser("pipeline", help="prepare + train; with no --input: the demo on a synthetic ledger")
    pipe.add_argument("--input", help="ledger file, folder or glob; omitted: synthetic demo ledger + tiny model")
    pipe.add_argument("--model", help="base model folder")
    pipe.add_argument("--work-dir")
    _add_param_options(pipe)

    base = sub.add_parser("baseline", help="TF-IDF + logistic regression on the same split and texts (seconds)")
    base.add_argument("--input", required=True)
    base.add_argument("--work-dir")
    _add_param_options(base)

    predict = sub.add_parser("predict", help="classify a new ledger with a trained run")
    predict.add_argument("--model", required=True, help="run folder (runs/<name>) of a finished training")
    predict.add_argument("--input", required=True)
    predict.add_argument("--out", required=True, help=".csv or .xlsx")
    predict.add_argument("--work-dir", default="data")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--batch-size", type=int, default=32)

    tiny = sub.add_parser("make-tiny-model", help="build a tiny random decoder + tokenizer (tests, demo)")
    tiny.add_argument("--out", required=True)
    tiny.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    tiny.add_argument("--seed", type=int, default=0)
    return parser


def _overrides(args: argparse.Namespace, **explicit) -> dict:
    from params.loading import deep_merge, parse_assignments

    given = {k: v for k, v in explicit.items() if v is not None}
    return deep_merge(parse_assignments(args.assignments), given)


def run_synth(args: argparse.Namespace) -> None:
    from synth.ledger import make_ledger, write_ledger

    start = time.perf_counter()
    df = make_ledger(args.rows, args.accounts, args.seed, dirty=args.dirty)
    path = write_ledger(df, args.out, args.format, args.encoding)
    accounts = df["계정코드"].replace("", None).nunique()
    print(f"wrote {len(df):,} rows, {accounts} accounts -> {path} ({time.perf_counter() - start:.1f}s)")


def run_prepare(args: argparse.Namespace) -> None:
    from params.loading import load_params
    from params.prepare import PrepareParams

    overrides = _overrides(
        args,
        input=args.input,
        work_dir=args.work_dir,
        model=args.model,
        labels_required=False if args.no_labels else None,
    )
    params = load_params(PrepareParams, args.config, overrides)
    from flows.prepare import prepare_data

    print_prepare_result(prepare_data(params))


def run_train(args: argparse.Namespace) -> None:
    from params.loading import load_params
    from params.train import TrainParams

    overrides = _overrides(
        args,
        dataset=args.dataset,
        model=args.model,
        work_dir=args.work_dir,
        run_name=args.run_name,
        resume_from=args.resume_from,
        launcher=args.launcher,
        num_gpus=args.num_gpus,
    )
    params = load_params(TrainParams, args.config, overrides)
    from flows.train import train_model

    print_training(train_model(params), params.work_dir, params.mlflow.tracking_uri)


def run_pipeline(args: argparse.Namespace) -> None:
    if not args.input:
        from flows.demo import main as demo_main

        demo_main([])
        return
    from params.loading import load_params
    from params.pipeline import PipelineParams

    prepare = {k: v for k, v in {"input": args.input, "model": args.model, "work_dir": args.work_dir}.items() if v}
    params = load_params(PipelineParams, args.config, _overrides(args, prepare=prepare))
    from flows.pipeline import pipeline

    result = pipeline(params)
    print_prepare_result(result.prepared)
    print_training(result.training, params.prepare.work_dir, params.train.mlflow.tracking_uri)
    print_side_by_side([result.baseline, result.llm])


def print_training(outcome, work_dir: str, tracking_uri: str | None) -> None:
    """Final metrics, where the adapter is, and how to look at the run in the MLflow and Prefect UIs."""
    from tasks.tracking import tracking_uri as default_uri

    print()
    print(
        f"trained      {outcome.global_step} steps"
        + (f" (resumed from {outcome.resumed_from})" if outcome.resumed_from else "")
    )
    for key in ("test_accuracy", "test_f1_weighted", "test_f1_macro", "test_loss"):
        if key in outcome.metrics:
            print(f"  {key:<22}{outcome.metrics[key]:.4f}")
    print(f"adapter      {outcome.final_dir}")
    print(f"checkpoints  {outcome.run_dir}/checkpoints ({', '.join(outcome.checkpoints) or 'none'})")
    uri = default_uri(tracking_uri, work_dir)
    print(f"MLflow UI    .venv/bin/mlflow ui --backend-store-uri {uri} --port 5000   -> http://127.0.0.1:5000")
    print(
        "Prefect UI   .venv/bin/prefect server start   -> http://127.0.0.1:4200 (set PREFECT_API_URL to log runs there)"
    )


def run_baseline(args: argparse.Namespace) -> None:
    from flows.baseline import baseline
    from params.baseline import BaselineFlowParams
    from params.loading import load_params

    prepare = {k: v for k, v in {"input": args.input, "work_dir": args.work_dir}.items() if v}
    params = load_params(BaselineFlowParams, args.config, _overrides(args, prepare=prepare))
    print_side_by_side([baseline(params)])


def print_side_by_side(reports) -> None:
    """Baseline and LLM metrics in columns, then where each report's files are."""
    from tasks.evaluate import metrics_markdown

    print()
    print(metrics_markdown(reports))


def run_predict(args: argparse.Namespace) -> None:
    from flows.predict import predict_ledger
    from params.predict import PredictParams

    params = PredictParams(
        model=args.model,
        input=args.input,
        out=args.out,
        work_dir=args.work_dir,
        top_k=args.top_k,
        batch_size=args.batch_size,
    )
    print_prediction(predict_ledger(params))


def print_prediction(summary) -> None:
    print()
    print(f"predicted    {summary.rows_predicted:,} of {summary.rows_in:,} rows -> {summary.output}")
    print(f"rejected     {summary.rows_rejected:,} rows (with reasons) -> {summary.rejects}")


def run_make_tiny_model(args: argparse.Namespace) -> None:
    from synth.tiny_model import make_tiny_model

    print(f"tiny {args.arch} model and tokenizer -> {make_tiny_model(args.out, args.arch, seed=args.seed)}")


def print_prepare_result(result) -> None:
    """Rows accounting, output paths and, when built, the tokenized dataset."""
    summary = result.summary
    print()
    print(f"rows in      {summary.rows_in:>10,}")
    print(f"accepted     {summary.rows_accepted:>10,}")
    print(f"rejected     {summary.rows_rejected:>10,}")
    for rule, count in summary.rejected_by_rule.items():
        print(f"  {rule:<24}{count:>8,}")
    print(f"features     {summary.data_path}")
    print(f"rejects      {summary.rejects_csv}")
    print(f"metadata     {summary.metadata_path}")
    if result.dataset is None:
        print("dataset      not built (give --model PATH to tokenize, and labelled data)")
        return
    dataset, tokens = result.dataset, result.dataset.stats["all"]
    print(f"splits       {', '.join(f'{k} {v:,}' for k, v in dataset.rows.items())}")
    rare = result.split.get("rare_classes_in_train_only", {})
    print(f"rare classes {len(rare)} kept in train only")
    print(
        f"tokens       p50 {tokens['p50']:.0f}, p95 {tokens['p95']:.0f}, max {tokens['max']}, "
        f"truncated {tokens['truncated_share']:.1%} at {tokens['max_length']}"
    )
    print(f"dataset      {dataset.path}")


COMMANDS = {
    "synth": run_synth,
    "prepare": run_prepare,
    "train": run_train,
    "pipeline": run_pipeline,
    "baseline": run_baseline,
    "predict": run_predict,
    "make-tiny-model": run_make_tiny_model,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "refresh_cache", False):
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    try:
        COMMANDS[args.command](args)
    except (FileNotFoundError, ValueError) as err:
        print(f"account-tax {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
