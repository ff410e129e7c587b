"""`make serve`: a Prefect server, process workers for the pools and the MLflow server, on 127.0.0.1 by default.

Prints their URLs; Ctrl-C (or SIGTERM) stops all of them, each by its process group. With a --host other than
loopback (or with --auth) both servers require credentials, read from the environment (deployments/auth.py):
PREFECT_API_AUTH_STRING=user:password and MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.

    python -m deployments.serve [--host 127.0.0.1] [--auth] [--prefect-port 4200] [--mlflow-port 5000]
                                [--work-dir data] [--pools cpu gpu] [--mlflow-workers 4]
"""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deployments.auth import Credentials, credentials, is_loopback

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


def stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each process group, SIGKILL to those still there after 20 s."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def addresses(host: str) -> tuple[str, str]:
    """(the address this host's own processes connect to, the name other hosts use) for a bind address."""
    wildcard = host in ("0.0.0.0", "::", "")
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    public = socket.getfqdn() if wildcard else host
    return tuple(f"[{h}]" if ":" in h else h for h in (local, public))


def check_mlflow_login(url: str, creds: Credentials, config: str) -> None:
    """The user store keeps the admin of its first start: another user or a changed password is refused."""
    answer = httpx.get(f"{url}/api/2.0/mlflow/experiments/search", params={"max_results": 1}, timeout=30,
                       auth=(creds.mlflow_user, creds.mlflow_password))  # fmt: skip
    if answer.status_code == 401:
        raise RuntimeError(
            f"the MLflow server refuses user {creds.mlflow_user!r} with MLFLOW_TRACKING_PASSWORD: its user store "
            f"(database_uri in {config}) has no such user or another password, kept from an earlier start. Set "
            "the password it has, change it as an admin through MLflow's users API, or remove that store."
        )
    answer.raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="bind address of both servers (0.0.0.0: every interface)")
    parser.add_argument("--auth", action="store_true", help="require credentials on loopback too")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--mlflow-workers", type=int, default=4)
    parser.add_argument("--work-dir", default="data")
    parser.add_argument("--pools", nargs="*", default=["cpu", "gpu"], help="a worker for each (none: servers only)")
    args = parser.parse_args(argv)
    creds = None
    if args.auth or not is_loopback(args.host):
        why = "--auth was given" if is_loopback(args.host) else f"--host {args.host} reaches beyond this machine"
        try:
            creds = credentials(os.environ, why)
        except ValueError as err:
            print(f"serve: {err}", file=sys.stderr)
            return 2
    work = Path(args.work_dir).resolve()
    logs = work / "logs"
    local, public = addresses(args.host)
    api, mlflow_url = f"http://{local}:{args.prefect_port}/api", f"http://{local}:{args.mlflow_port}"
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "ACCOUNT_TAX_HOME": str(Path.cwd()),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **(creds.client_env() if creds else {}),
    }
    server_env = {**env, **(creds.prefect_server_env() if creds else {})}
    if local != public:  # the UI in a browser elsewhere calls the API by the name that browser reaches
        server_env.setdefault("PREFECT_UI_API_URL", f"http://{public}:{args.prefect_port}/api")
    mlflow_env = {**env, **(creds.mlflow_server_env(work, os.environ) if creds else {})}
    procs: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SystemExit: `finally` stops them all
    code = 0
    try:
        server = start(
            [str(BIN / "prefect"), "server", "start", "--host", args.host, "--port", str(args.prefect_port)],
            server_env,
            logs / "prefect-server.log",
        )
        procs.append(server)
        store, artifacts = f"sqlite:///{work / 'mlflow.db'}", work / "mlartifacts"
        mlflow_cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", store, "--artifacts-destination",
                      str(artifacts), "--host", args.host, "--port", str(args.mlflow_port), "--workers",
                      str(args.mlflow_workers), *(["--app-name", "basic-auth"] if creds else [])]  # fmt: skip
        mlflow = start(mlflow_cmd, mlflow_env, logs / "mlflow.log")  # starts beside Prefect's: ~20 s either way
        procs.append(mlflow)
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
        wait_healthy(f"{mlflow_url}/health", mlflow)
        if creds:
            check_mlflow_login(mlflow_url, creds, mlflow_env["MLFLOW_AUTH_CONFIG_PATH"])
        export = f"http://{public}:{args.prefect_port}/api"
        print(f"Prefect UI  http://{public}:{args.prefect_port}   (export PREFECT_API_URL={export})")
        print(f"MLflow UI   http://{public}:{args.mlflow_port}   (store {store}, artifacts {artifacts})")
        print(f"workers     pools {', '.join(args.pools) or '(none)'} (logs in {logs}/)")
        if creds:
            print(
                f"auth        on: Prefect user {creds.prefect_user!r} (PREFECT_API_AUTH_STRING), MLflow user "
                f"{creds.mlflow_user!r} (MLFLOW_TRACKING_USERNAME / _PASSWORD); set the same on every worker host"
            )
        print("register    PREFECT_API_URL=... ACCOUNT_TAX_HOME=$PWD .venv/bin/prefect --no-prompt deploy --all")
        print("Ctrl-C stops all of them.", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(2)
        print("a service exited; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError, httpx.HTTPError, subprocess.CalledProcessError) as err:
        print(f"serve: {err} (logs in {logs}/)", file=sys.stderr)
        code = 1
    finally:
        stop_all(procs)
    return code


if __name__ == "__main__":
    sys.exit(main())
