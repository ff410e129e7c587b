"""'latest' in a folder parameter, resolved once per flow run, in a task: the run's log and the UI show which
folder it became, and what comes after (a failure hook included) uses that folder, never a second lookup that a
newer folder could answer differently."""

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger, get_run_logger

from params.paths import LATEST, latest_dataset, latest_run, resolve_latest


@task(cache_policy=NO_CACHE)  # 'latest' means the newest now: a cached answer would be an older folder
def resolve_dataset(dataset: str, work_dir: str) -> str:
    """'latest' / 'latest:<input>' -> the newest complete tokenized dataset folder; any other value as given."""
    return _resolved("dataset", dataset, resolve_latest(dataset, work_dir, latest_dataset))


@task(cache_policy=NO_CACHE)
def resolve_run(model: str, work_dir: str) -> str:
    """'latest' / 'latest:<name>' -> the newest finished training run folder; any other value as given."""
    return _resolved("model", model, resolve_latest(model, work_dir, latest_run))


def _resolved(name: str, given: str, folder: str) -> str:
    if given.startswith(LATEST):
        try:
            logger = get_run_logger()
        except MissingContextError:  # called as .fn, outside a run
            logger = get_logger(__name__)
        logger.info("%s=%s is %s", name, given, folder)
    return folder
