"""Where a warm start begins: resolved once, in a task, so every later step (the label map prepare keeps, the
run that loads the adapter, the failure hook) uses the same folder even when a newer run finishes meanwhile."""

from prefect import task
from prefect.logging import get_run_logger

from params.paths import warm_start_folder


@task
def resolve_warm_start(value: str, work_dir: str) -> str:
    """The final/ folder of the run to start from ('latest' resolved now)."""
    final = str(warm_start_folder(value, work_dir))
    get_run_logger().info("warm start from %s", final)
    return final
