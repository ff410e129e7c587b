"""A poorer next month (issue 29): how much the deployed model loses when next month's export lacks column groups.

    python -m bench.poorer_month [--rows 20000] [--month 2000] [--leave-out 0 0.15]

The demo's company (synth.months: a history with 5% mis-postings and its next month, true codes on every line).
The baseline (TF-IDF + logistic regression, the model the demo deploys) is trained once on the history with every
column; then the next month is predicted as written, and again with each group of columns left out of the file
(the export of another program, or a poorer export setting). Per variant: the lines predicted, their top-1
accuracy against the true codes, the share coded automatically and the accuracy of those lines; the figures of
the full file are the reference. Writes bench/POORER-MONTH.md.
"""

import argparse
import time
from pathlib import Path

import pandas as pd

from bench.common import ROOT, machine

OUT = ROOT / "bench" / "POORER-MONTH.md"
# the groups of optional columns an export may lack (the date, amount and code columns are always there)
GROUPS: dict[str, list[str]] = {
    "vendor (거래처, 사업자번호)": ["거래처", "사업자번호"],
    "description (적요)": ["적요"],
    "VAT split (공급가액, 부가세)": ["공급가액", "부가세"],
    "evidence (증빙구분)": ["증빙구분"],
    "payment (결제수단)": ["결제수단"],
    "department (부서)": ["부서"],
    "voucher (전표번호, 차대구분)": ["전표번호", "차대구분"],
    "all but vendor and description": ["공급가액", "부가세", "증빙구분", "결제수단", "부서", "전표번호", "차대구분"],
}
CEILING = ("description (적요)", "vendor (거래처, 사업자번호)")  # the two groups that move the figures


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="history lines (the demo's)")
    parser.add_argument("--month", type=int, default=2_000, help="next month's lines")
    parser.add_argument("--root", default=str(ROOT / ".cache" / "bench-poorer-month"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--leave-out", type=float, nargs="+", default=[0.0, 0.15],
        help="text.leave_out values to train with, one baseline each (0: every train text has every field)",
    )  # fmt: skip
    return parser.parse_args(argv)


def score(prediction: Path, truth: pd.Series, summary) -> dict:
    """Top-1 accuracy of every predicted line against its true code, and the auto share and auto accuracy."""
    table = pd.read_csv(prediction, dtype=str, encoding="utf-8-sig")
    rows = table["source_row"].astype(int)
    right = table["pred1_code"].to_numpy() == truth.loc[rows].to_numpy()
    auto = table["decision"].eq("auto").to_numpy()
    return {
        "predicted": len(table),
        "rejected": summary.rows_rejected,
        "accuracy": float(right.mean()) if len(table) else float("nan"),
        "auto": float(auto.mean()) if len(table) else float("nan"),
        "auto_accuracy": float(right[auto].mean()) if auto.any() else float("nan"),
    }


def render(by_share: dict[float, dict], ceiling: dict[str, dict], args, seconds: float) -> str:
    lines = [
        "# A poorer next month (`python -m bench.poorer_month`)",
        "",
        f"The demo's company: {args.rows:,} history lines (5% mis-posted), the next month's {args.month:,} lines with "
        "their true codes. The baseline the demo deploys (TF-IDF + logistic regression, calibrated, auto at 98% "
        "validation accuracy) trained on the full history, once per text.leave_out value; the next month predicted as "
        "written and without "
        "each group of columns. Accuracy: top-1 against the true code over every predicted line; auto: the share "
        "coded automatically and the accuracy of those lines. Written "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC ({seconds / 60:.0f} min).",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        "",
        "`text.leave_out` (conf/text_template*.yaml `leave_out_groups`): that share of the train lines written again "
        "without 적요 or without the vendor columns, at random; valid and test lines keep every field. One table "
        "per value, each with its own baseline.",
    ]
    for share, results in by_share.items():
        lines += [""] + table(results, f"text.leave_out = {share:g}")
    first = next(iter(by_share.values()))
    lines += [
        "",
        "### The ceiling: trained on a history without the same columns",
        "",
        "What the other columns can tell: a baseline trained on the history without the group, predicting the "
        f"month without it, against the model trained on every column (text.leave_out = {next(iter(by_share)):g}).",
        "",
        "| columns left out | accuracy, trained with them | trained without | auto, trained with them "
        "| trained without |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {first[name]['accuracy']:.1%} | {r['accuracy']:.1%} | {first[name]['auto']:.1%} | "
            f"{r['auto']:.1%} |"
            for name, r in ceiling.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def table(results: dict, title: str) -> list[str]:
    full = results["none (every column)"]
    lines = [
        f"### {title}",
        "",
        "| columns left out | lines predicted | rejected | accuracy | change | auto | change | auto accuracy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        auto_accuracy = "-" if r["auto_accuracy"] != r["auto_accuracy"] else f"{r['auto_accuracy']:.1%}"  # nan: none
        lines.append(
            f"| {name} | {r['predicted']:,} | {r['rejected']:,} | {r['accuracy']:.1%} | "
            f"{100 * (r['accuracy'] - full['accuracy']):+.1f} pt | {r['auto']:.1%} | "
            f"{100 * (r['auto'] - full['auto']):+.1f} pt | {auto_accuracy} |"
        )
    return lines


def matched(name: str, history: pd.DataFrame, month: pd.DataFrame, truth: pd.Series, root: Path) -> dict:
    """The ceiling for a month without a group: a baseline trained on a history that lacks it too (no skew between
    training and prediction, only the information the other columns carry)."""
    from flows.baseline import baseline
    from flows.predict import predict_ledger
    from params.baseline import BaselineFlowParams
    from params.predict import PredictParams
    from params.prepare import PrepareParams
    from synth.ledger import write_ledger

    dropped = GROUPS[name]
    slug = "-".join(dropped)
    ledger = write_ledger(history.drop(columns=dropped), str(root / f"history-without-{slug}.csv"))
    prepare = PrepareParams(input=ledger, work_dir=str(root), text={"leave_out": 0})  # nothing more to leave out
    report = baseline(BaselineFlowParams(prepare=prepare))
    path = write_ledger(month.drop(columns=dropped), str(root / f"month-{slug}.csv"))
    out = root / f"predicted-matched-{slug}.csv"
    summary = predict_ledger(
        PredictParams(model=report.model_dir, input=path, out=str(out), work_dir=str(root), language="en")
    )
    found = score(out, truth, summary)
    print("trained without", name, found, flush=True)
    return found


def main(argv=None) -> None:
    from prefect.testing.utilities import prefect_test_harness

    from flows.baseline import baseline
    from flows.predict import predict_ledger
    from params.baseline import BaselineFlowParams
    from params.predict import PredictParams
    from params.prepare import PrepareParams
    from synth.ledger import write_ledger
    from synth.months import history_and_next_month

    args = parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.time()
    history, month = history_and_next_month(args.rows, args.month, 80, seed=0, mispostings=0.05)
    ledger = write_ledger(history, str(root / "history.csv"))
    truth = month["계정코드"].astype(str).reset_index(drop=True)
    truth.index = truth.index + 2  # source_row: the file's line numbers, the header being line 1
    by_share: dict[float, dict] = {}
    with prefect_test_harness(server_startup_timeout=180):
        for share in args.leave_out:
            prepare = PrepareParams(input=ledger, work_dir=str(root), text={"leave_out": share})
            report = baseline(BaselineFlowParams(prepare=prepare))
            results = by_share.setdefault(share, {})
            for name, dropped in {"none (every column)": [], **GROUPS}.items():
                slug = "full" if not dropped else "-".join(dropped)
                path = write_ledger(month.drop(columns=dropped), str(root / f"month-{slug}.csv"))
                out = root / f"predicted-{share:g}-{slug}.csv"
                summary = predict_ledger(PredictParams(model=report.model_dir, input=path, out=str(out),
                                                       work_dir=str(root), language="en"))  # fmt: skip
                results[name] = score(out, truth, summary)
                print(share, name, results[name], flush=True)
        ceiling = {name: matched(name, history, month, truth, root) for name in CEILING}
    Path(args.out).write_text(render(by_share, ceiling, args, time.time() - started), encoding="utf-8")
    print(Path(args.out).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
