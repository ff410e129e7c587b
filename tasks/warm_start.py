"""Where a warm start begins: resolved once, in a task, so every later step (the label map prepare keeps, the
run that loads the adapter, the failure hook) uses the same folder even when a newer run finishes meanwhile."""

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from params.paths import warm_start_folder


def warm_start_final(value: str, tracking: str | None, work_dir: str) -> Path:
    """warm_start_folder, and for models:/NAME/VERSION or models:/NAME@ALIAS the registered version's trained model
    folder (downloaded under <work_dir>/models/registry/, the alias pinned to the version it names now)."""
    if not value.startswith("models:/"):
        return warm_start_folder(value, work_dir)
    from contracts.baseline_folder import BaselineFolder
    from ledger.errors import ParameterError
    from monitor.registry import download_registered, tracking_uri

    folder = download_registered(value, tracking_uri(tracking, work_dir), work_dir)
    if BaselineFolder.holds_baseline(folder):
        raise ParameterError(
            f"warm_start={value}: that version is a TF-IDF baseline ({folder}), which has no adapter to start an LLM "
            "from; give an LLM run (a run folder, 'latest' or another models:/ version)"
        )
    return warm_start_folder(str(folder), work_dir)


@task
def resolve_warm_start(value: str, tracking: str | None, work_dir: str) -> str:
    """The final/ folder of the run to start from ('latest' and a registry alias resolved now)."""
    final = str(warm_start_final(value, tracking, work_dir))
    get_run_logger().info("warm start from %s", final)
    return final


@task
def find_parent(champion: str, tracking: str | None, work_dir: str) -> str | None:
    """The champion's version to warm-start from (models:/NAME/VERSION); None, saying why, when there is no
    champion yet or it is the TF-IDF baseline (no adapter to start an LLM from): the LLM then trains from scratch."""
    from contracts.baseline_folder import BaselineFolder
    from monitor.registry import alias_target, download_registered, split_uri, tracking_uri

    logger = get_run_logger()
    store = tracking_uri(tracking, work_dir)
    name, _, alias = split_uri(champion)
    holder = alias_target(store, name, alias)
    if holder is None:
        logger.info("no %s in %s yet: the LLM trains from scratch, and the better model becomes it", champion, store)
        return None
    if BaselineFolder.holds_baseline(download_registered(holder.uri, store, work_dir)):
        logger.info("%s is %s, the TF-IDF baseline: the LLM trains from scratch", champion, holder.uri)
        return None
    logger.info("%s is %s: the challenger starts from it", champion, holder.uri)
    return holder.uri
