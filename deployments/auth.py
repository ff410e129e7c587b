"""The credentials of the servers `make serve` starts (deployments/serve.py), read from the environment.

Prefect: one `user:password` string, PREFECT_API_AUTH_STRING, on every host (the server gets it as
PREFECT_SERVER_API_AUTH_STRING). MLflow: the basic-auth app, MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD on
every host; on the server host they also create that user as the MLflow admin on the first start. Values are never
printed or written to a file; the MLflow auth config written into the work dir names only the user database.
"""

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PREFECT = "PREFECT_API_AUTH_STRING"
PREFECT_SERVER = "PREFECT_SERVER_API_AUTH_STRING"
MLFLOW_USER, MLFLOW_PASSWORD = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"
MIN_PASSWORD = 12  # MLflow refuses a shorter password for a user it creates


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: reachable from elsewhere
        return False


@dataclass(frozen=True)
class Credentials:
    prefect: str = field(repr=False)  # user:password
    mlflow_user: str
    mlflow_password: str = field(repr=False)

    @property
    def prefect_user(self) -> str:
        return self.prefect.split(":", 1)[0]

    def client_env(self) -> dict[str, str]:
        """What every process talking to the servers needs: workers, flow runs, the prefect CLI."""
        return {PREFECT: self.prefect, MLFLOW_USER: self.mlflow_user, MLFLOW_PASSWORD: self.mlflow_password}

    def prefect_server_env(self) -> dict[str, str]:
        return {PREFECT_SERVER: self.prefect}

    def mlflow_server_env(self, work_dir: Path, environ: dict) -> dict[str, str]:
        """The basic-auth app's settings; an admin, config file or secret key set in `environ` is kept."""
        return {
            "MLFLOW_AUTH_CONFIG_PATH": environ.get("MLFLOW_AUTH_CONFIG_PATH") or str(write_auth_config(work_dir)),
            "MLFLOW_AUTH_ADMIN_USERNAME": environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or self.mlflow_user,
            "MLFLOW_AUTH_ADMIN_PASSWORD": environ.get("MLFLOW_AUTH_ADMIN_PASSWORD") or self.mlflow_password,
            # signs the UI's CSRF tokens; a fresh one per start only logs out open browser sessions
            "MLFLOW_FLASK_SERVER_SECRET_KEY": environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY") or secrets.token_hex(32),
        }


def write_auth_config(work_dir: Path) -> Path:
    """basic_auth.ini with the user database in the work dir (MLflow's default is ./basic_auth.db in the cwd)."""
    path = work_dir.resolve() / "mlflow-auth.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{work_dir.resolve() / 'mlflow-auth.db'}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "# a password check (PBKDF2) takes 1-4 s on a busy small host: cache a good one for a minute per worker\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    return path


def credentials(environ: dict, why: str) -> Credentials:
    """The credentials from the environment; ValueError with one paragraph saying what to set when they are not.

    why: what makes them necessary, e.g. "--host 0.0.0.0 reaches beyond this machine"."""
    prefect = environ.get(PREFECT) or environ.get(PREFECT_SERVER) or ""
    user, password = environ.get(MLFLOW_USER, ""), environ.get(MLFLOW_PASSWORD, "")
    name, _, secret = prefect.partition(":")
    problems = []
    if not prefect:
        problems.append(f"{PREFECT} is not set")
    elif not (name and secret):
        problems.append(f"{PREFECT} is not of the form user:password")
    problems += [f"{var} is not set" for var, value in ((MLFLOW_USER, user), (MLFLOW_PASSWORD, password)) if not value]
    if password and len(password) < MIN_PASSWORD:
        problems.append(f"{MLFLOW_PASSWORD} has fewer than {MIN_PASSWORD} characters")
    if problems:
        raise ValueError(
            f"{why}: the Prefect and MLflow servers then require credentials, and {'; '.join(problems)}. Set "
            f"{PREFECT}=user:password (the Prefect server's basic auth: every worker and client host sets the same "
            f"value) and {MLFLOW_USER} / {MLFLOW_PASSWORD} (at least {MIN_PASSWORD} characters: the MLflow user "
            "created as admin on the first start, and what every host that logs to MLflow sets), e.g. from your "
            "secret store, then start again (deployments/README.md, Authentication). Nothing was started."
        )
    return Credentials(prefect, user, password)
