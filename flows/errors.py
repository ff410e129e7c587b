"""The errors a user can fix, and what to tell them to do; anything else is a bug, reported as one.

An error raised as one of ledger.errors' kinds (ExpectedError) carries its own hint; the types below are the
project's other expected errors, with theirs. A bare ValueError or FileNotFoundError is not among them: raised by
a library or by a slip in our code, it would read as the user's mistake."""

import functools

from ledger.errors import ExpectedError, LedgerFileError

UNREADABLE_FILE = LedgerFileError.hint
# A LedgerFileError's hint by what its message says, the first match (UNREADABLE_FILE when none matches).
LEDGER_FILE_HINTS = (
    (
        "files cannot be read",
        "fix or remove the files listed, or go on without them: --set ingest.on_file_error=skip",
    ),
    (
        "was taken as the account code",
        "name the column that holds the account codes (811, 0811 or 81100): "
        '--set \'ingest.columns={"<its header>": "account_code"}\', or prepare the file unlabelled: --no-labels',
    ),
    (
        "not found (aliases tried",
        "if the headers listed are the ledger's, add the file's spelling to that column's aliases in "
        'conf/columns.yaml, or map it for this run: --set \'ingest.columns={"<header>": "<column>"}\'; '
        "if they are not (a cover sheet, a title row), name the ledger's sheet: --set ingest.sheet=NAME",
    ),
    ("ingest.sheet", "name the sheet that holds the ledger: --set ingest.sheet=NAME"),
    ("password-protected", "open it in Excel and save it without a password, or export it again as xlsx or CSV"),
)


@functools.cache
def expected_errors() -> tuple[tuple[type[BaseException], str], ...]:
    """The errors a user can fix, each with what to do; the most specific first. Any other error is a bug."""
    import yaml
    from pydantic import ValidationError

    from tasks.preflight import OutputFolderError
    from tasks.remote_training import TrainingRunCrashed, TrainingRunFailed
    from tasks.report import NoRowsAcceptedError
    from tasks.train import TrainingFailed
    from training.architecture import ModelConfigError
    from training.bundled_model import BundledModelError
    from training.checkpoints import CheckpointError

    return (
        (OutputFolderError, "choose another folder (--work-dir, --out) or make this one writable"),
        (
            ModelConfigError,
            "point --model at a model folder of a family that works (Qwen2/3, Llama, Gemma, Mistral; BERT, RoBERTa, "
            "XLM-R, ELECTRA, DeBERTa: README, Models) "
            "or fix the lora / head setting named above (pipeline: --set train.lora.<key>=..., train: lora.<key>)",
        ),
        (BundledModelError, "run `make install` (it installs the bundled model) or pass --model /path/to/base-model"),
        (
            TrainingFailed,
            "the training program failed; its whole output is in the run's train.log. Fix the cause and run again "
            "with resume_from=latest to continue from the newest complete checkpoint (train: --resume-from latest)",
        ),
        (
            (TrainingRunCrashed, TrainingRunFailed),
            "the training run on the GPU pool did not finish: its logs are in the Prefect UI. Run the pipeline again "
            "with train.resume_from=latest to continue from the newest checkpoint in the store",
        ),
        (CheckpointError, "resume from 'latest' or from one of the complete checkpoints listed"),
        (FileExistsError, "continue that run with resume_from=latest, or start another with a new run_name"),
        (
            NoRowsAcceptedError,
            "the rules above say why (the rejects file has every row's rule and detail): a column mapped to the "
            'wrong header (map the right one: --set \'ingest.columns={"<header>": "<column>"}\'), or limits '
            "that leave nothing (preprocess.filter.*, preprocess.validate.date_min / date_max)",
        ),
        (
            ConnectionError,
            "start the MLflow tracking server, or point mlflow.tracking_uri at a reachable one "
            "(pipeline: train.mlflow.tracking_uri; unset: a local sqlite store in the work dir)",
        ),
        (ValidationError, "fix the parameters named above (--config file, --set, options); unknown keys are errors"),
        (yaml.YAMLError, "fix the YAML of the --config file"),
    )


def hint_for(err: BaseException) -> str | None:
    """What to do about an expected error; None for an unexpected one."""
    try:
        kinds = expected_errors()
    except ImportError:  # a broken install: say the real error, not this one
        return None
    hint = next((hint for kind, hint in kinds if isinstance(err, kind)), None)
    if hint is None and isinstance(err, ExpectedError):
        hint = err.hint
    if hint is UNREADABLE_FILE:  # a LedgerFileError: what to do depends on what is wrong with the file
        problem = str(getattr(err, "problem", err))
        hint = next((said for words, said in LEDGER_FILE_HINTS if words in problem), hint)
    return hint
