"""P1 cold data flow vs the tokenizer floor, P2 cached re-run vs cold (server and ephemeral), P4 peak RSS."""

from pathlib import Path

from bench.common import Table, child_env, prefect_server, run_child

P1_TARGET, P2_TARGET, P4_TARGET_GB = 1.3, 0.10, 3.0


def write_bench_ledger(root: Path, rows: int) -> str:
    """A synthetic dirty ledger as a CP949 CSV (what older bookkeeping software exports), made once per size."""
    from synth.ledger import make_ledger, write_ledger

    path = root / f"ledger-{rows}.csv"
    if not path.exists():
        write_ledger(make_ledger(rows, 120, seed=11, dirty=0.03), str(path), "csv", "cp949")
    return str(path)


def run_mode(root: Path, mode: str, rows: int, ledger: str, model: str, api: str | None) -> dict:
    """Cold then cached run of prepare_data, each in a fresh process, against one Prefect API."""
    env = child_env(root / f"prefect-{mode}", api)
    spec = {"kind": "prepare", "input": ledger, "work_dir": str(root / f"work-{mode}-{rows}"), "model": model}
    logs = root / "logs"
    cold = run_child(spec, env, logs / f"prepare-{mode}-{rows}-cold.log")
    cached = run_child(spec, env, logs / f"prepare-{mode}-{rows}-cached.log")
    return {"cold": cold, "cached": cached}


def bench_data_flow(root: Path, sizes: list[int], model: str, table: Table) -> dict:
    """Every size through both Prefect modes; the floor once per size; rows added to the table."""
    details: dict = {}
    for rows in sizes:
        ledger = write_bench_ledger(root, rows)
        with prefect_server(root / "prefect-server", root / "logs" / "prefect-server.log") as api:
            server = run_mode(root, "server", rows, ledger, model, api)
        ephemeral = run_mode(root, "ephemeral", rows, ledger, model, None)
        cold = server["cold"].report
        floor = run_child(
            {"kind": "floor", "texts": cold["texts"], "model": model},
            child_env(root / "prefect-floor", None),
            root / "logs" / f"floor-{rows}.log",
        ).report
        p1 = cold["flow_s"] / floor["floor_s"]
        size = f"{rows:,} rows"
        table.add(
            f"P1 data flow cold, {size}",
            f"{cold['flow_s']:.1f} s flow vs {floor['floor_s']:.1f} s tokenizer alone ({floor['texts']:,} texts, "
            f"{floor['tokens']:,} tokens)",
            p1,
            f"<= {P1_TARGET}x at 1M rows",
            p1 <= P1_TARGET if rows >= 1_000_000 else None,
        )
        for mode, runs in (("server", server), ("ephemeral", ephemeral)):
            warm, first = runs["cached"].report, runs["cold"].report
            ratio = warm["flow_s"] / first["flow_s"]
            cached = sum(t["state"] == "Cached" for t in warm["tasks"].values())
            table.add(
                f"P2 cached re-run, {size}, {mode}",
                f"{warm['flow_s']:.1f} s vs {first['flow_s']:.1f} s cold, {cached}/{len(warm['tasks'])} tasks Cached "
                f"(process wall {runs['cached'].wall_s:.1f} s vs {runs['cold'].wall_s:.1f} s)",
                ratio,
                f"<= {P2_TARGET:.0%} (server)",
                ratio <= P2_TARGET if mode == "server" else None,
            )
        peak = server["cold"].peak_rss_gb
        table.add(
            f"P4 peak RSS of the data flow, {size}",
            f"{peak:.2f} GB (flow process tree, server mode; ephemeral incl. its temporary server "
            f"{ephemeral['cold'].peak_rss_gb:.2f} GB)",
            None,
            f"<= {P4_TARGET_GB:.0f} GB at 1M rows",
            peak <= P4_TARGET_GB if rows >= 1_000_000 else None,
        )
        details[rows] = {
            "rows_in": cold["rows_in"],
            "rows_accepted": cold["rows_accepted"],
            "tokens_p50": cold["tokens_p50"],
            "floor": floor,
            "cold_tasks": cold["tasks"],
            "server_cached_tasks": server["cached"].report["tasks"],
            "ephemeral_cold_s": ephemeral["cold"].report["flow_s"],
        }
    return details
