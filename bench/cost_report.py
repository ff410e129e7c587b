"""The training-cost section of bench/RESULTS.md, from bench.training_cost's figures and, when a GPU has run
`make gpu-check`, its measured tokens/s (bench/gpu-results.json)."""

import json
from pathlib import Path

from bench.common import replace_section

F1_TOLERANCE = 0.01  # run-to-run spread of the demo's LLM macro-F1 on 2 CPU cores (bench/LEARNING.md): ~1 point
ESTIMATE_SHAPE = "qwen3-4b"
ESTIMATE_TOKENIZER = "tiny byte-level BPE (256)"  # a byte-level BPE as Qwen's is; the WordPiece reads Hangul as jamo


def chosen_template(figures: dict) -> tuple[str, str]:
    """The template that costs fewest tokens with no loss of macro-F1 (baseline and LLM, within F1_TOLERANCE)."""
    templates = figures["templates"]
    by_cost = sorted(templates, key=lambda t: templates[t]["tokenizers"][ESTIMATE_TOKENIZER]["tokens"]["mean"])
    best = {kind: max(templates[t].get(kind, {}).get("f1_macro", float("nan")) for t in templates)
            for kind in ("baseline", "llm")}  # fmt: skip
    lost = []
    for name in by_cost:
        losses = [
            f"{kind} {templates[name][kind]['f1_macro']:.3f} < {best[kind]:.3f} - {F1_TOLERANCE}"
            for kind in ("baseline", "llm")
            if kind in templates[name] and templates[name][kind]["f1_macro"] < best[kind] - F1_TOLERANCE
        ]
        if not losses:
            measured = " and ".join(k for k in ("baseline", "llm") if k in templates[name]) or "nothing"
            why = f"fewest tokens with no macro-F1 loss beyond {F1_TOLERANCE} ({measured} measured)"
            return name, "; ".join([*lost, f"{name}: {why}"]) if lost else why
        lost.append(f"{name} costs fewer tokens but lost macro-F1 ({'; '.join(losses)})")
    return by_cost[-1], "; ".join(lost)


def accuracy_note(figures: dict, choice: str) -> str:
    """What the choice costs in accuracy (the rule reads macro-F1 only): said, never hidden."""
    templates, notes = figures["templates"], []
    for kind in ("baseline", "llm"):
        best = max(templates, key=lambda t: templates[t].get(kind, {}).get("accuracy", float("-inf")))
        ours, top = templates[choice].get(kind, {}).get("accuracy"), templates[best].get(kind, {}).get("accuracy")
        if ours is not None and top is not None and top - ours > F1_TOLERANCE:
            notes.append(f"its {kind} accuracy is {top - ours:.3f} lower ({ours:.3f} against {best}'s {top:.3f})")
    return f" Note: {'; '.join(notes)}." if notes else ""


def gpu_estimate(figures: dict, template: str, gpu_results: Path) -> list[str]:
    """GPU-hours per epoch per million ledger lines for the 4B shape, or why there is no figure yet."""
    if not gpu_results.exists():
        return [
            f"GPU-hours per epoch per million lines for the {ESTIMATE_SHAPE} shape: **missing**: no GPU has run "
            '`make gpu-check` yet (it writes bench/gpu-results.json; rerun `make bench BENCH_ARGS="--only cost"` '
            "after it)."
        ]
    gpu = json.loads(gpu_results.read_text())
    runs = [r for r in gpu.get("throughput", []) if r["shape"] == ESTIMATE_SHAPE and r.get("tokens_per_s_padded")]
    if not runs:
        return [f"GPU-hours: **missing**: {gpu_results.name} has no throughput of the {ESTIMATE_SHAPE} shape."]
    run = max(runs, key=lambda r: r["tokens_per_s_padded"] / r["gpus"])
    per_gpu = run["tokens_per_s_padded"] / run["gpus"]
    tokens = figures["templates"][template]["tokenizers"][ESTIMATE_TOKENIZER]
    per_line = min(tokens["tokens"]["mean"], tokens["tokens"]["max_length"])
    real_share = tokens["padding"]["group_by_length@8"]["real_share"]
    hours = 1e6 * per_line / real_share / per_gpu / 3600
    return [
        f"GPU-hours per epoch per million lines, {ESTIMATE_SHAPE} shape on {gpu['gpu']}: **{hours:.2f}** "
        f"(1M x {per_line:.0f} tokens per line / {real_share:.3f} real share / {per_gpu:,.0f} padded tokens/s per "
        f"GPU measured by `make gpu-check` with {run['gpus']} GPU(s), batch {run['batch']})."
    ]


def render(figures: dict, gpu_results: Path) -> str:
    templates = figures["templates"]
    lines = [BEGIN_TITLE, "", f"Demo ledger, {figures['rows']:,} rows (`python -m bench.training_cost`, "
             f"{figures.get('minutes', '?')} min). Tokens per line are before the cut at max_length.", ""]  # fmt: skip
    lines += ["| template | tokenizer (max_length) | tokens per line mean / p50 / p95 | cut at max_length |",
              "|---|---|---|---|"]  # fmt: skip
    for name, entry in templates.items():
        for tok, f in entry["tokenizers"].items():
            t = f["tokens"]
            spread = f"{t['mean']:.1f} / {t['p50']:.0f} / {t['p95']:.0f}"
            lines.append(f"| {name} | {tok} | {spread} | {t['cut_share']:.1%} |")
    lines += ["", "Real tokens / padded tokens over one epoch of the train split (every batch padded to its longest "
              "row), random batches against length-grouped ones (target >= 0.95):", "",
              "| template | tokenizer | batch | random | group_by_length |", "|---|---|---|---|---|"]  # fmt: skip
    for name, entry in templates.items():
        for tok, f in entry["tokenizers"].items():
            for batch in sorted({int(k.split("@")[1]) for k in f["padding"]}):
                rnd, grp = f["padding"][f"random@{batch}"], f["padding"][f"group_by_length@{batch}"]
                lines.append(f"| {name} | {tok} | {batch} | {rnd['real_share']:.3f} | {grp['real_share']:.3f} |")
    lines += ["", "Test metrics per template (the LLM is the bundled all-MiniLM-L6-v2 trained as `make run` trains it, "
              "120 steps of 16, texts cut at 128 tokens; its seconds count the launcher and the probe; the baseline's "
              "are its fit):", "",
              "| template | model | test accuracy | test macro-F1 | seconds |", "|---|---|---|---|---|"]  # fmt: skip
    for name, entry in templates.items():
        for kind in ("baseline", "llm"):
            if kind in entry:
                m = entry[kind]
                label = f"{kind} (mean of {len(m['runs'])} seeds)" if m.get("runs") else kind
                seconds = m.get("fit_seconds", m["seconds"])  # the baseline's own fit (its flow may come from cache)
                lines.append(f"| {name} | {label} | {m['accuracy']:.3f} | {m['f1_macro']:.3f} | {seconds:.0f} |")
    lines.append("")
    for name, entry in templates.items():
        for run in entry.get("llm", {}).get("runs", []):
            lines.append(f"- {name}, llm seed {run['seed']}: {run['verdict']}")
    choice, why = chosen_template(figures)
    note = accuracy_note(figures, choice)
    lines += ["", f"Chosen default: **{choice}** (`{templates[choice]['file']}`): {why}.{note}", ""]
    lines += [*gpu_estimate(figures, choice, gpu_results), ""]
    return f"{BEGIN}\n" + "\n".join(lines) + f"\n{END}\n"


BEGIN, END = "<!-- training-cost: written by bench.training_cost -->", "<!-- /training-cost -->"
BEGIN_TITLE = "## Training cost: tokens per line, padding, GPU-hours"


def update_results(results: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    results.write_text(replace_section(text, section, begin, end), encoding="utf-8")
