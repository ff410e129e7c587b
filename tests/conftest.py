"""Shared fixtures: tiny ledgers written on the fly, a work dir, and a Prefect test harness for flow tests."""

import os
import tempfile
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
