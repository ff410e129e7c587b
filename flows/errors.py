"""The errors a user can fix, and what to tell them to do; anything else is a bug and keeps its traceback."""

import functools


@functools.cache
def expected_errors() -> tuple[tuple[type[BaseException], str], ...]:
    """The errors a user can fix, each with what to do; the most specific first. Any other error is a bug."""
    import yaml
    from pydantic import ValidationError

    from ledger.readers import LedgerFileError
    from tasks.predict import RunFolderError
    from tasks.preflight import OutputFolderError
    from tasks.report import NoRowsAcceptedError
    from tasks.train import TrainingFailed
    from training.checkpoints import CheckpointError

    return (
        (OutputFolderError, "choose another folder (--work-dir, --out) or make this one writable"),
        (
            TrainingFailed,
            "the training program failed; its whole output is in the run's train.log. Fix the cause and run again "
            "with resume_from=latest to continue from the newest complete checkpoint (train: --resume-from latest)",
        ),
        (CheckpointError, "resume from 'latest' or from one of the complete checkpoints listed"),
        (FileExistsError, "continue that run with resume_from=latest, or start another with a new run_name"),
        (RunFolderError, "--model takes the folder runs/<name> of a finished training (or 'latest')"),
        (LedgerFileError, "check the file's format, encoding and header row, or leave it out of --input"),
        (NoRowsAcceptedError, "every row was rejected: the rejects file gives each row's rule and detail"),
        (
            ConnectionError,
            "start the MLflow tracking server, or point mlflow.tracking_uri at a reachable one "
            "(pipeline: train.mlflow.tracking_uri; unset: a local sqlite store in the work dir)",
        ),
        (ValidationError, "fix the parameters named above (--config file, --set, options); unknown keys are errors"),
        (yaml.YAMLError, "fix the YAML of the --config file"),
        (FileNotFoundError, "check the path (a file, folder or glob; any fsspec URL)"),
        (ValueError, "fix the value named above"),
    )


def hint_for(err: BaseException) -> str | None:
    """What to do about an expected error; None for an unexpected one."""
    try:
        kinds = expected_errors()
    except ImportError:  # a broken install: say the real error, not this one
        return None
    return next((hint for kind, hint in kinds if isinstance(err, kind)), None)
