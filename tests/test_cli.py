"""The command line tells the user what they need: one paragraph for an error they can fix (the traceback in a log
file), a summary that says what really happened, and a terminal without tracebacks or training-program output."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from flows.console import CHILD_OUTPUT, TerminalFilter, WithoutTraceback
from flows.errors import hint_for
from flows.summaries import print_prefect_ui, print_training
from ledger.errors import LedgerFileError
from tasks.train import TrainingOutcome, resumed_checkpoint
from tests.conftest import write_csv

ROOT = Path(__file__).resolve().parents[1]


def cli(args: list[str], tmp_path: Path, api_url: str | None) -> subprocess.CompletedProcess:
    """`account-tax ARGS` as a user runs it (its own process), against the test API when there is one."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # a log file that falls back to the temp folder lands here
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def api_url(prefect_harness) -> str:
    """The harness's API, handed to the CLI processes so they skip starting a temporary server each."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def error_paragraph(done: subprocess.CompletedProcess, command: str) -> tuple[str, Path]:
    """The one error paragraph on stderr and the log file it names; nothing on either stream is a traceback."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.stderr.count(f"account-tax {command}: error:") == 1
    paragraph = done.stderr[done.stderr.index(f"account-tax {command}: error:") :]
    assert "what to do:" in paragraph
    log_file = Path(re.search(r"full log: (\S+)", paragraph).group(1))
    return paragraph, log_file


def test_missing_input_is_one_paragraph_and_the_log_keeps_the_traceback(tmp_path, api_url):
    # given a ledger path that does not exist
    work = tmp_path / "work"
    # when prepared from the command line
    done = cli(["prepare", "--input", str(tmp_path / "missing.csv"), "--work-dir", str(work)], tmp_path, api_url)
    # then one paragraph names the file and says what to do, and the run's log file has the traceback
    paragraph, log_file = error_paragraph(done, "prepare")
    assert "missing.csv: no such file or folder" in paragraph and "check the path" in paragraph
    assert log_file.parent == work / "logs"
    text = log_file.read_text(encoding="utf-8")
    assert "Traceback" in text and "InputNotFound" in text


def test_unwritable_work_dir_is_one_paragraph_and_the_log_goes_elsewhere(tmp_path, api_url, ledger_csv):
    # given a work dir below a regular file: no folder can be made there, whoever runs the test
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    # when prepared from the command line
    done = cli(["prepare", "--input", str(ledger_csv), "--work-dir", str(blocker / "work")], tmp_path, api_url)
    # then the paragraph names the folder and what to do; the log file is in the temp folder, traceback included
    paragraph, log_file = error_paragraph(done, "prepare")
    assert "work_dir" in paragraph and "is not writable" in paragraph and "make this one writable" in paragraph
    assert log_file.is_relative_to(tmp_path / "account-tax-logs")
    text = log_file.read_text(encoding="utf-8")
    assert "Traceback" in text and "OutputFolderError" in text


def test_bad_parameter_is_one_paragraph_per_field(tmp_path):
    # given an unknown parameter key (no flow starts: the parameters are checked first)
    args = ["prepare", "--input", "x.csv", "--work-dir", str(tmp_path / "w"), "--set", "preprocess.nope=1"]
    # when run, then the paragraph names the key and the log file holds the validation error
    paragraph, log_file = error_paragraph(cli(args, tmp_path, None), "prepare")
    assert "invalid PrepareParams parameters: preprocess.nope: Extra inputs are not permitted" in paragraph
    assert "ValidationError" in log_file.read_text(encoding="utf-8")


def in_process_paragraph(argv: list[str], capsys) -> str:
    """`main(argv)` in this process: exit status 2 and one error paragraph on stderr, no traceback anywhere."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err[-3000:]
    assert "Traceback" not in err and "Traceback" not in out
    assert "encountered an exception" not in err  # Prefect's Failed-state lines do not repeat the message
    assert err.count("account-tax prepare: error:") == 1
    return err[err.index("account-tax prepare: error:") :]


@pytest.mark.usefixtures("prefect_harness")
def test_a_code_column_of_vendor_codes_is_one_paragraph_naming_file_and_column(tmp_path, capsys):
    # given a labelled ledger whose 계정코드 column holds 5-digit 거래처 codes
    rows = [
        "2024-01-05,국민은행,이자,1000,00123",
        "2024-01-06,김민수,급여,2000,00456",
        "2024-01-07,한결,임대료,3000,01234",
    ]
    ledger = write_csv(tmp_path / "vendor_codes.csv", ["일자,거래처,적요,금액,계정코드", *rows])
    # when prepared from the command line
    paragraph = in_process_paragraph(["prepare", "--input", str(ledger), "--work-dir", str(tmp_path / "w")], capsys)
    # then the paragraph names the file, the column and what it seems to hold, and how to point at the right one
    assert "vendor_codes.csv" in paragraph and "'계정코드'" in paragraph and "거래처" in paragraph
    assert "what to do:" in paragraph and "ingest.columns=" in paragraph and "--no-labels" in paragraph


@pytest.mark.usefixtures("prefect_harness")
def test_an_unreadable_xls_is_one_paragraph_naming_the_file(tmp_path, capsys):
    # given bytes that are no workbook and no text, named .xls
    junk = tmp_path / "export.xls"
    junk.write_bytes(bytes(range(256)) * 16)
    # when prepared from the command line
    paragraph = in_process_paragraph(["prepare", "--input", str(junk), "--work-dir", str(tmp_path / "w")], capsys)
    # then the paragraph names the file and its problem, and says to export it again
    first = paragraph.splitlines()[0]
    assert "export.xls: " in first and len(first.split("export.xls: ", 1)[1]) > 10
    assert "what to do: re-export it" in paragraph and "full log:" in paragraph


@pytest.mark.parametrize(
    ("problem", "said"),
    [
        (
            "required column 'amount' not found (aliases tried: ['금액']). Headers in the file: ['x']",
            "conf/columns.yaml",
        ),
        ("column '코드' was taken as the account code, but 90% of its values ...", "--no-labels"),
        ("has no sheet 'Sheet1' (its sheets: ['조회조건', '원장']); set ingest.sheet", "--set ingest.sheet=NAME"),
        ("2 of 3 files cannot be read (a.xls: ...)", "ingest.on_file_error=skip"),
        ("binary data (NUL bytes), not a text ledger", "re-export it"),
    ],
)
def test_a_file_error_gets_the_hint_for_its_problem(problem, said):
    # given a file error of each kind, then what to do fits what is wrong
    assert said in hint_for(LedgerFileError("file:///x.xls", problem))


def test_a_reported_errors_failed_state_line_is_cut_to_its_name():
    # given the terminal filter of a run whose LedgerFileError the CLI reports in its paragraph
    terminal = TerminalFilter(reported=lambda err: isinstance(err, LedgerFileError))
    error = LedgerFileError("file:///x.csv", "required column 'amount' not found " + "long " * 50)
    assert not terminal.filter(record("Task run failed with exception", error))
    # when Prefect logs the task's final state with the whole message
    state = record(f"Finished in state Failed('Task run encountered an exception LedgerFileError: {error}')")
    # then the terminal line is the state and the error's name; the record itself (the log file's) is untouched
    assert terminal.filter(state)
    assert WithoutTraceback(logging.Formatter()).format(state) == "Finished in state Failed: LedgerFileError"
    assert "long long" in logging.Formatter().format(state)
    # and the same error's failed state in the flows above it is not repeated
    assert not terminal.filter(
        record(f"Finished in state Failed('Flow run encountered an exception: LedgerFileError: {error}')")
    )
    # an error the CLI does not report keeps its whole line
    other = record("Finished in state Failed('Task run encountered an exception KeyError: boom')")
    assert terminal.filter(other) and "boom" in WithoutTraceback(logging.Formatter()).format(other)


def outcome(run_dir: Path, resumed_from: str | None, already_finished: bool = False) -> TrainingOutcome:
    return TrainingOutcome(
        run_dir=str(run_dir),
        final_dir=str(run_dir / "final"),
        global_step=60,
        resumed_from=resumed_from,
        already_finished=already_finished,
        metrics={"test_accuracy": 0.5},
        checkpoints=["checkpoint-60", "checkpoint-30"],
    )


@pytest.mark.parametrize(
    ("resumed_from", "finished", "said", "not_said"),
    [
        (None, False, "trained      60 steps, from scratch", "resumed"),
        ("/runs/r/checkpoints/checkpoint-4", False, "trained      60 steps, resumed from checkpoint-4", "scratch"),
        (None, True, "already finished, nothing trained this time", "resumed"),
    ],
)
def test_summary_says_how_the_adapter_was_trained(tmp_path, capsys, resumed_from, finished, said, not_said):
    # given a training outcome (a start from scratch, a resume from checkpoint-4, or a run finished earlier)
    done = outcome(tmp_path / "runs" / "r", resumed_from, finished)
    # when the summary is printed
    print_training(done, "sqlite:////data/mlflow.db")
    text = capsys.readouterr().out
    # then it says what happened, not what was asked for, and names the MLflow store actually used
    assert said in text and not_said not in text
    assert "MLflow       sqlite:////data/mlflow.db" in text and "--backend-store-uri sqlite:////data/mlflow.db" in text


def test_summary_names_a_tracking_server_and_the_run(tmp_path, capsys):
    # given a run logged to a tracking server, its run id beside it
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "mlflow_run_id").write_text("abc123")
    # when printed, then the server is the UI (no local `mlflow ui` command) and the run id is there
    print_training(outcome(run_dir, None), "http://mlflow.internal:5000")
    text = capsys.readouterr().out
    assert "MLflow       http://mlflow.internal:5000, run abc123" in text and "mlflow ui" not in text


def test_resume_event_is_the_truth(tmp_path):
    # given the progress file of a launch asked to resume from 'latest' that found no checkpoint, then of a rerun
    progress = tmp_path / "progress.jsonl"
    progress.write_text('{"event": "resume", "checkpoint": null}\n{"event": "log", "step": 10}\n', encoding="utf-8")
    # then the first launch started from scratch
    assert resumed_checkpoint(progress) is None
    # when a later launch resumed from checkpoint-30, then that is what the outcome says
    with progress.open("a", encoding="utf-8") as fh:
        fh.write('{"event": "resume", "checkpoint": "/runs/r/checkpoints/checkpoint-30"}\n')
    assert resumed_checkpoint(progress) == "/runs/r/checkpoints/checkpoint-30"
    assert resumed_checkpoint(tmp_path / "absent.jsonl") is None


def test_prefect_ui_line_follows_the_settings(capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # given a configured server, then its UI is named
    with temporary_settings({PREFECT_API_URL: "http://prefect.internal:4200/api"}):
        print_prefect_ui()
    assert "Prefect UI   http://prefect.internal:4200 " in capsys.readouterr().out
    # given none (a temporary server per command), then the summary says so and how to keep runs
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        print_prefect_ui()
    text = capsys.readouterr().out
    assert "temporary Prefect server is gone" in text and "server start" in text and "4200" in text


def record(message: str, exc: BaseException | None = None, **extra) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    made = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, message, None, exc_info)
    made.__dict__.update(extra)
    return made


def test_terminal_shows_lines_without_tracebacks_or_child_output():
    try:
        raise RuntimeError("boom")
    except RuntimeError as err:
        failed = record("Encountered exception during execution", err)
    terminal = TerminalFilter(reported=lambda err: isinstance(err, FileNotFoundError))
    # an unexpected error: its line, no traceback; the record itself still has it for the log file
    assert terminal.filter(failed)
    assert WithoutTraceback(logging.Formatter()).format(failed) == "Encountered exception during execution"
    assert failed.exc_info is not None and "Traceback" in logging.Formatter().format(failed)
    # an error the CLI reports in its paragraph, a training-program line, a captured warning: not on the terminal
    assert not terminal.filter(record("Task run failed", FileNotFoundError("x.csv")))
    assert not terminal.filter(record("[INFO] [launch.py:152:main] WORLD INFO DICT", **{CHILD_OUTPUT: True}))
    assert not terminal.filter(logging.LogRecord("py.warnings", logging.WARNING, "", 1, "FutureWarning", None, None))


def test_a_bare_value_error_is_a_bug_report_not_the_users_mistake(monkeypatch, capsys, tmp_path):
    import flows.cli as cli

    # given a command that hits a slip in our own code (a bare ValueError, as pandas or a typo would raise)
    def slip(args):
        raise ValueError("invalid literal for int() with base 10: 'x'")

    monkeypatch.setitem(cli.COMMANDS, "make-tiny-model", slip)
    monkeypatch.chdir(tmp_path)
    # when it runs / then the terminal says it is a bug, where the traceback is, and exits 1 (not 2: no user fix)
    assert cli.main(["make-tiny-model", "--out", str(tmp_path / "m")]) == 1
    said = capsys.readouterr().err
    assert "internal error (a bug in account-tax, not in your input): ValueError" in said
    assert "please report it with that file" in said and "what to do" not in said and "Traceback" not in said
    assert hint_for(ValueError("x")) is None and hint_for(FileNotFoundError("x")) is None


@pytest.mark.parametrize(
    ("err", "said"),
    [
        ("ParameterError", "fix the parameter named above"),
        ("InputNotFound", "check the path"),
        ("ConfFileError", "fix the configuration file named above"),
    ],
)
def test_each_expected_kind_says_what_to_do(err, said, monkeypatch, capsys, tmp_path):
    import flows.cli as cli
    import ledger.errors as errors

    # given a command that fails with one of the expected kinds
    def fail(args):
        raise getattr(errors, err)("split.by=time needs lines from at least 2 months")

    monkeypatch.setitem(cli.COMMANDS, "make-tiny-model", fail)
    monkeypatch.chdir(tmp_path)
    # then it is the one paragraph with its hint, and exit status 2
    assert cli.main(["make-tiny-model", "--out", str(tmp_path / "m")]) == 2
    assert said in capsys.readouterr().err


def test_completed_runs_leave_no_state_line_on_the_terminal():
    terminal = TerminalFilter(reported=lambda err: True)
    done = logging.LogRecord(
        "prefect.flow_runs", logging.INFO, __file__, 1, "Finished in state Completed()", None, None
    )
    cached = logging.LogRecord(
        "prefect.task_runs", logging.INFO, __file__, 1, "Finished in state Cached(type=COMPLETED)", None, None
    )
    failed = logging.LogRecord(
        "prefect.flow_runs", logging.ERROR, __file__, 1, "Finished in state Failed('x')", None, None
    )
    # then a completed flow and a cached task say nothing (the summary does), a failure still shows
    assert not terminal.filter(done) and not terminal.filter(cached) and terminal.filter(failed)


def test_the_prefect_ui_gets_no_completed_state_lines_during_a_cli_command(tmp_path):
    # given the CLI's logging set up around a command, and Prefect's handler that sends run logs to the UI
    from flows.console import api_handlers, cli_logging

    def record(level, msg):
        return logging.LogRecord("prefect.task_runs", level, __file__, 1, msg, None, None)

    with cli_logging(tmp_path / "run.log", reported=lambda err: False):
        handler = api_handlers()[0]  # an empty list fails here: Prefect's logging.yml must still attach one
        # when routine completions, a cached state, a failure and a message are sent
        sent = [handler.filter(record(logging.INFO, "Finished in state Completed()")),
                handler.filter(record(logging.INFO, "Finished in state Cached(type=COMPLETED)")),
                handler.filter(record(logging.ERROR, "Finished in state Failed('x')")),
                handler.filter(record(logging.INFO, "model to deploy: baseline"))]  # fmt: skip
    # then only the completion stays off the UI, and the filter leaves with the command
    assert sent == [False, True, True, True]
    assert handler.filter(record(logging.INFO, "Finished in state Completed()"))


def test_a_line_the_summary_says_again_stays_off_the_terminal():
    from monitor.terminal import SAID_AGAIN

    terminal = TerminalFilter(reported=lambda err: True)
    said = logging.LogRecord("prefect.task_runs", logging.INFO, __file__, 1, "model to deploy: baseline", None, None)
    said.__dict__.update(SAID_AGAIN)
    # then the terminal leaves it to the summary; the record (the log file's, the UI's) is untouched
    assert not terminal.filter(said) and said.getMessage() == "model to deploy: baseline"


def test_subflow_starts_and_prefects_server_advice_stay_off_the_terminal():
    terminal, short = TerminalFilter(reported=lambda err: True), WithoutTraceback(logging.Formatter())
    # given a subflow's start, the top-level run's start and the temporary server's two-line banner
    subflow = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, "Beginning subflow run 'p'", None, None)
    top = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, "Beginning flow run 'demo'", None, None)
    banner = "Starting temporary server on http://127.0.0.1:8250\nSee https://www.prefect.io/docs/v3/... for more"
    server = logging.LogRecord("prefect", logging.INFO, __file__, 1, banner, None, None)
    # then the subflow's line is the log file's, the top run's shows, and the banner is its first line only
    assert not terminal.filter(subflow) and terminal.filter(top)
    assert terminal.filter(server) and short.format(server) == "Starting temporary server on http://127.0.0.1:8250"
    assert server.getMessage() == banner  # the log file keeps both lines


def test_a_training_steps_loss_line_stays_off_the_terminal_its_evaluation_line_shows(tmp_path, prefect_harness):
    from monitor.training_progress import ProgressFollower

    # given the follower's lines for a logged step (loss only) and an evaluation step, caught as the CLI would
    caught: list[logging.LogRecord] = []
    logger = logging.getLogger("test.follower")
    handler = logging.Handler()
    handler.emit = caught.append
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    follower = ProgressFollower(str(tmp_path / "progress.jsonl"), logger, None, None)
    follower._handle({"event": "log", "step": 20, "max_steps": 120, "metrics": {"loss": 1.5}})
    follower._handle({"event": "log", "step": 60, "max_steps": 120, "metrics": {"eval_accuracy": 0.8}})
    follower.close()
    logger.removeHandler(handler)
    # then the run log has both, the terminal only the evaluation's
    terminal = TerminalFilter(reported=lambda err: True)
    steps = [r for r in caught if r.getMessage().startswith("step ")]
    assert [terminal.filter(r) for r in steps] == [False, True], [r.getMessage() for r in steps]
