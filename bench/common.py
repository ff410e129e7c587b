"""Bench plumbing: child processes with their peak RSS, a Prefect server, machine facts, the results table."""

import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ChildResult:
    """What a bench child printed as its last JSON line, its wall time and the peak RSS of its process tree."""

    report: dict
    wall_s: float
    peak_rss_gb: float


class TreeRss:
    """Samples the summed RSS of a process and its descendants; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.pid)
            while not self._stop.is_set():
                total = 0
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
                self.peak = max(self.peak, total)
                self._stop.wait(self.interval)

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_child(spec: dict, env: dict[str, str], log: Path) -> ChildResult:
    """`python -m bench.child SPEC` in a fresh interpreter; fails with the log's tail if the child fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.child", json.dumps(spec)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
        with TreeRss(proc.pid) as rss:
            stdout, _ = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"bench child {spec['kind']} failed ({proc.returncode}), log {log}:\n{tail}")
    report = json.loads(stdout.strip().splitlines()[-1])
    return ChildResult(report=report, wall_s=wall, peak_rss_gb=rss.peak / 2**30)


def child_env(prefect_home: Path, api_url: str | None) -> dict[str, str]:
    """A quiet environment with its own Prefect home: a server's API URL, or none (ephemeral server)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            # a fresh home migrates its database first: more than the default 20 s on a busy 2-core machine
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "DO_NOT_TRACK": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "TOKENIZERS_PARALLELISM": env.get("TOKENIZERS_PARALLELISM", "false"),
            "PYTHONPATH": str(ROOT),
            # DeepSpeed's CPU comm op is built once into the project cache (as `make` sets it), not per run
            "TORCH_EXTENSIONS_DIR": env.get("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions")),
        }
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def prefect_server(home: Path, log: Path):
    """`prefect server start` on a free loopback port for the duration; yields its API URL."""
    from deployments.serve import start, wait_healthy
    from training.launcher import free_port, kill_group

    port = free_port()
    env = child_env(home, None)
    cmd = [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = start(cmd, env, log)
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(f"{api}/health", proc)
        yield api
    finally:
        kill_group(proc)


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: CPU, cores, memory, GPU, library versions."""
    import importlib.metadata as md

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{p} {md.version(p)}" for p in ("prefect", "pandas", "pyarrow", "torch", "transformers", "deepspeed")
    )
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "gpu": _gpu(),
        "python": platform.python_version(),
        "libraries": versions,
    }


def _gpu() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"


@dataclass
class Table:
    """Rows of the results table: figure, what was measured, the ratio and its target."""

    rows: list[dict] = field(default_factory=list)

    def add(self, figure: str, measured: str, ratio: float | None, target: str, met: bool | None) -> None:
        verdict = "-" if met is None else ("met" if met else "MISSED")
        shown = "-" if ratio is None else f"{ratio:.2f}"
        self.rows.append({"figure": figure, "measured": measured, "ratio": shown, "target": target, "verdict": verdict})

    def markdown(self) -> str:
        head = "| figure | measured | ratio | target | verdict |\n|---|---|---|---|---|\n"
        return head + "\n".join(
            f"| {r['figure']} | {r['measured']} | {r['ratio']} | {r['target']} | {r['verdict']} |" for r in self.rows
        )


def replace_section(text: str, section: str, begin: str, end: str) -> str:
    """`text` with the part between the markers replaced by `section` (or `section` appended)."""
    if begin in text and end in text:
        return text[: text.index(begin)] + section + text[text.index(end) + len(end) + 1 :]
    return text.rstrip("\n") + "\n\n" + section


def kept_section(path: Path, begin: str, end: str) -> str:
    """The part of a results file between the markers, markers included ('' when absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return text[text.index(begin) : text.index(end) + len(end)] + "\n" if begin in text and end in text else ""
