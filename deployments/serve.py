"""`make serve`: a Prefect server, process workers for the pools and the MLflow UI on 127.0.0.1.

Prints their URLs; Ctrl-C (or SIGTERM) stops all of them, each by its process group.

    python -m deployments.serve [--prefect-port 4200] [--mlflow-port 5000] [--work-dir data]
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        time.sleep(1)
    raise TimeoutError(f"{url} not healthy after {seconds} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--work-dir", default="data")
    parser.add_argument("--pools", nargs="+", default=["cpu", "gpu"])
    args = parser.parse_args(argv)
    logs = Path(args.work_dir) / "logs"
    api = f"http://127.0.0.1:{args.prefect_port}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "ACCOUNT_TAX_HOME": str(Path.cwd()),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    procs: list[subprocess.Popen] = []

    def stop(*_):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server = start(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(args.prefect_port)],
            env,
            logs / "prefect-server.log",
        )
        procs.append(server)
        wait_healthy(f"{api}/health", server)
        for pool in args.pools:
            subprocess.run(
                [str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process", "--overwrite"],
                env=env,
                check=True,
                capture_output=True,
            )
            procs.append(
                start([str(BIN / "prefect"), "worker", "start", "--pool", pool], env, logs / f"worker-{pool}.log")
            )
        store = f"sqlite:///{(Path(args.work_dir) / 'mlflow.db').resolve()}"
        mlflow = start(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                store,
                "--host",
                "127.0.0.1",
                "--port",
                str(args.mlflow_port),
            ],
            env,
            logs / "mlflow.log",
        )
        procs.append(mlflow)
        wait_healthy(f"http://127.0.0.1:{args.mlflow_port}/health", mlflow)
        print(f"Prefect UI  http://127.0.0.1:{args.prefect_port}   (export PREFECT_API_URL={api})")
        print(f"MLflow UI   http://127.0.0.1:{args.mlflow_port}   (store {store})")
        print(f"workers     pools {', '.join(args.pools)} (logs in {logs}/)")
        print("register    PREFECT_API_URL=... ACCOUNT_TAX_HOME=$PWD .venv/bin/prefect --no-prompt deploy --all")
        print("Ctrl-C stops all of them.", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(2)
        print("a service exited; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
