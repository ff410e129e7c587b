"""What a CLI run shows on the terminal: stage lines and progress bars, then the summaries.

Training-program output, library warnings, routine task completions and tracebacks stay off the terminal:
they go to the log file of the CLI run (and the Prefect run log, which keeps everything but the "Finished in state
Completed()" lines: the UI shows each run's state).
"""

import contextlib
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from flows.ui_logs import ROUTINE_COMPLETIONS, api_handlers
from ledger.work_store import is_store_url, local_path
from monitor.terminal import BAR_SHOWN, CHILD_OUTPUT, SUMMARIZED

OUR_MODULES = ("flows", "tasks", "training", "ledger", "params", "synth", "contracts")
# Libraries that print on handlers of their own: quiet in a CLI run unless the user's environment says otherwise.
QUIET_LIBRARIES = {
    "TRANSFORMERS_VERBOSITY": "error",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # "Saving the dataset" bars: our own bars say more
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' "Loading weights" / "Writing model shards" bars
}
OWN_HANDLER_LOGGERS = ("DeepSpeed",)  # loggers printing to stdout on their own handler: diverted to the file
TERMINAL_MESSAGE = "terminal_message"  # attribute TerminalFilter sets: the record's shorter line for the terminal
FAILED_STATE = re.compile(r"Finished in state (?P<state>\w+)\(.*? encountered an exception:? (?P<error>\w+):", re.S)
TEMPORARY_SERVER = "Starting temporary server"  # Prefect's two-line banner when no API URL is set
MESSAGE_LINES = 12  # a longer error message (a training program's last output) is cut; the log file has it all
FILE_FORMAT = {
    "format": "%(asctime)s %(levelname)-7s %(name)s - %(message)s",
    "flow_run_fmt": "%(asctime)s %(levelname)-7s Flow run %(flow_run_name)r - %(message)s",
    "task_run_fmt": "%(asctime)s %(levelname)-7s Task run %(task_run_name)r - %(message)s",
}


class TerminalFilter(logging.Filter):
    """Drops from the terminal: training-program lines, captured warnings, plain task and flow completions, subflow
    starts, a training step's loss line (the progress bar stands for it; evaluation lines stay), and the
    error records of an error the CLI reports itself in one paragraph; that error's first "Finished in state
    Failed(<its whole message>)" line is cut to the state and the error's name, the ones of the flows above it are
    dropped (the paragraph says the rest, the log file has every line and the one traceback)."""

    def __init__(self, reported: Callable[[BaseException], bool]):
        super().__init__()
        self.reported = reported
        self.reported_types: set[str] = set()  # names of the reported errors seen so far
        self.failed_shown: set[str] = set()  # of those, the ones whose failed state was shown once already

    def filter(self, record: logging.LogRecord) -> bool:
        flags = (CHILD_OUTPUT, SUMMARIZED, BAR_SHOWN)
        if any(getattr(record, flag, False) for flag in flags) or record.name == "py.warnings":
            return False
        finished = isinstance(record.msg, str) and record.msg.startswith("Finished in state")
        quiet = finished and (record.name.startswith("prefect.task_runs") or "state Completed" in record.msg)
        # a subflow's start: the top-level run's line names the run, the summary says where to see them all
        quiet = quiet or (isinstance(record.msg, str) and record.msg.startswith("Beginning subflow run"))
        if quiet and record.levelno == logging.INFO:
            return False  # a run that went well says so in the summary; its state line is the log file's
        if record.name == "prefect" and isinstance(record.msg, str) and record.msg.startswith(TEMPORARY_SERVER):
            # its second line is Prefect's advice to run a server: the closing summary gives ours (print_prefect_ui)
            setattr(record, TERMINAL_MESSAGE, record.getMessage().splitlines()[0])
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and self.reported(error):
            self.reported_types.add(type(error).__name__)
            return False
        failed = FAILED_STATE.match(record.getMessage()) if finished else None
        if failed and failed["error"] in self.reported_types:
            if failed["error"] in self.failed_shown:  # each flow up the stack fails with it: the first one says it
                return False
            self.failed_shown.add(failed["error"])
            setattr(record, TERMINAL_MESSAGE, f"Finished in state {failed['state']}: {failed['error']}")
        return True


class WithoutTraceback(logging.Formatter):
    """The wrapped formatter's line without the exception traceback or stack (the log file keeps them), and in
    its short form when TerminalFilter gave it one."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info, record.msg, record.args
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if (short := getattr(record, TERMINAL_MESSAGE, None)) is not None:
            record.msg, record.args = short, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info, record.msg, record.args = saved


class ToFileOnly(logging.Filter):
    """On a logger with its own terminal handler: the record goes to the log file, never to that handler."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.handler.level:
            self.handler.handle(record)
        return False


@contextlib.contextmanager
def cli_logging(log_file: Path, reported: Callable[[BaseException], bool]) -> Iterator[logging.Handler]:
    """For one CLI command: INFO lines without tracebacks on the terminal, everything in `log_file`.

    Set up after Prefect configured its logging (its console handler sits on the root logger); undone on exit.
    """
    import prefect.main  # noqa: F401  (sets up Prefect's logging now, before our handler joins the root logger)
    from prefect.logging.formatters import PrefectFormatter
    from prefect.logging.handlers import PrefectConsoleHandler
    from prefect.settings import PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings

    quieted = [name for name in QUIET_LIBRARIES if name not in os.environ]
    os.environ.update({name: QUIET_LIBRARIES[name] for name in quieted})
    log_file.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(PrefectFormatter(datefmt="%Y-%m-%d %H:%M:%S", **FILE_FORMAT))
    root = logging.getLogger()
    consoles = [h for h in root.handlers if isinstance(h, PrefectConsoleHandler)]
    saved = [(h, h.level, h.formatter) for h in consoles]
    terminal, divert, routine = TerminalFilter(reported), ToFileOnly(file_handler), ROUTINE_COMPLETIONS
    to_ui = api_handlers()
    for handler in to_ui:
        handler.addFilter(routine)
    for handler in consoles:
        handler.addFilter(terminal)
        handler.setFormatter(WithoutTraceback(handler.formatter))
        handler.setLevel(handler.level or logging.INFO)
    levels = {name: logging.getLogger(name).level for name in OUR_MODULES}
    for name in OUR_MODULES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in OWN_HANDLER_LOGGERS:
        logging.getLogger(name).addFilter(divert)
    root.addHandler(file_handler)
    logging.captureWarnings(True)
    try:
        # the temporary server's telemetry heartbeat races its sqlite writes and prints a "database is locked"
        # traceback on the terminal from its own process; a laptop run sends no telemetry anyway
        with temporary_settings({PREFECT_SERVER_ANALYTICS_ENABLED: False}):
            yield file_handler
    finally:
        logging.captureWarnings(False)
        for name in quieted:
            os.environ.pop(name, None)
        root.removeHandler(file_handler)
        file_handler.close()
        for name in OWN_HANDLER_LOGGERS:
            logging.getLogger(name).removeFilter(divert)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for handler in to_ui:
            handler.removeFilter(routine)
        for handler, level, formatter in saved:
            handler.removeFilter(terminal)
            handler.setFormatter(formatter)
            handler.setLevel(level)


def describe(err: BaseException) -> str:
    """The error's message in a few lines: pydantic's errors one per field, long messages cut."""
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        fields = [f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in err.errors()]
        return f"invalid {err.title} parameters: " + "; ".join(fields)
    lines = (str(err) or type(err).__name__).splitlines()
    if len(lines) > MESSAGE_LINES:
        lines = [lines[0], f"  ... ({len(lines) - MESSAGE_LINES + 1} lines more in the log file)"] + lines[
            -(MESSAGE_LINES - 2) :
        ]
    return "\n".join(lines)


def new_log_file(command: str, work_dir: str | None) -> Path:
    """<work_dir>/logs/account-tax-<command>-<time>.log, or under the temp folder when work_dir is not writable."""
    name = f"account-tax-{command}-{datetime.now():%Y%m%d-%H%M%S}.log"
    work = local_path(work_dir) if is_store_url(work_dir) else Path(work_dir or "data")  # a bucket: this host's copy
    for folder in (work / "logs", Path(tempfile.gettempdir()) / "account-tax-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).touch()
            return folder / name
        except OSError:
            continue
    raise OSError(f"no folder to write the log file {name} to")


def error_paragraph(prog: str, err: BaseException, hint: str, log_file: Path | None) -> str:
    """One paragraph: what went wrong, what to do, where the traceback is."""
    where = f"\n  full log: {log_file}" if log_file else ""
    return f"{prog}: error: {describe(err)}\n  what to do: {hint}{where}"


def bug_paragraph(prog: str, err: BaseException, log_file: Path | None) -> str:
    """An error nobody expected: say it is a bug, not the user's mistake, and where its traceback is."""
    where = f"the traceback is in {log_file}" if log_file else "no log file could be written (rerun to see it)"
    return (
        f"{prog}: internal error (a bug in account-tax, not in your input): {type(err).__name__}: {err}\n"
        f"  {where}; please report it with that file and the command you ran"
    )


def keep_traceback(err: BaseException, log_file: Path | None, command: str) -> Path | None:
    """Append the error's traceback to the command's log file (made now for a command without one)."""
    try:
        log_file = log_file or new_log_file(command, None)
        with log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} account-tax {command} failed:\n")
            fh.write("".join(traceback.format_exception(err)))
    except OSError:
        return None  # nowhere to write: the paragraph still goes out
    return log_file


def venv_tool(name: str) -> str:
    """A console script of this environment, as a path the user can type from here."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        return name
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative
