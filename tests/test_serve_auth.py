"""`make serve` beyond loopback (or with --auth) needs credentials: without them it starts nothing and says what to
set, never echoing a secret (fast: no server starts; tests/test_e2e_deployments.py runs the servers with auth on)."""

import pytest

from deployments.auth import is_loopback
from deployments.serve import main

VARIABLES = ("PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING", "MLFLOW_TRACKING_USERNAME",
             "MLFLOW_TRACKING_PASSWORD")  # fmt: skip


@pytest.fixture
def no_credentials(monkeypatch):
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)


@pytest.mark.usefixtures("no_credentials")
def test_a_host_beyond_loopback_without_credentials_starts_nothing_and_names_what_to_set(tmp_path, capsys):
    assert main(["--host", "0.0.0.0", "--work-dir", str(tmp_path / "work")]) == 2
    said = capsys.readouterr().err
    assert "--host 0.0.0.0" in said and "Nothing was started" in said
    assert all(var in said for var in VARIABLES[:1] + VARIABLES[2:]), said
    assert not (tmp_path / "work").exists()


@pytest.mark.usefixtures("no_credentials")
def test_auth_on_loopback_refuses_malformed_credentials_without_echoing_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "no-colon-secret")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "team")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "short-pw")
    assert main(["--auth", "--work-dir", str(tmp_path / "work")]) == 2
    said = capsys.readouterr().err
    assert "not of the form user:password" in said and "fewer than 12 characters" in said
    assert "no-colon-secret" not in said and "short-pw" not in said


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.1.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "mlflow.example.com"]))
