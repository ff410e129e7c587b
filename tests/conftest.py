"""Shared fixtures: tiny ledgers written on the fly, a work dir, and a Prefect test harness for flow tests."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# Quiet, local, reproducible: set before prefect is imported by any test module.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# A private Prefect home: the test API database and result store never touch the user's ~/.prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="account-tax-prefect-")

HEADER = "일자,거래처,사업자번호,적요,금액,공급가액,부가세,증빙구분,계정코드,계정과목"
ROWS = [
    "2024-01-05,쿠팡,1234567890,사무용품 구입,11000,10000,1000,세금계산서,830,소모품비",
    "2024-01-06,GS25,,야근 식대,5500,,,카드,811,복리후생비",
    "2024-02-09,KT,120-81-12345,인터넷 요금,33000,30000,3000,전자세금계산서,814,통신비",
    "2024-03-01,한국전력공사,,전기요금,110000,100000,10000,세금계산서,815,수도광열비",
]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    """A ledger CSV from header and row lines, in the given encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def work_dir(tmp_path: Path) -> str:
    return str(tmp_path / "work")


@pytest.fixture
def ledger_csv(tmp_path: Path) -> Path:
    """Four clean rows with Korean headers, UTF-8."""
    return write_csv(tmp_path / "ledger.csv", [HEADER, *ROWS])


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A real, temporary Prefect API and result store for flow tests (one per test session)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@dataclass
class MotoS3:
    """An S3-compatible server on loopback: its endpoint, s3fs options and the environment that reaches it."""

    endpoint: str
    options: dict
    env: dict


@pytest.fixture(scope="session")
def moto_s3():
    """moto_server on a free loopback port for the session; stopped by its PID afterwards."""
    import s3fs  # the dev extra installs it with moto[server]: a missing one fails here, it is not skipped

    from training.launcher import free_port

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
    env = {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3fs.S3FileSystem(skip_instance_cache=True, **options).ls("")
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield MotoS3(endpoint, options, env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
