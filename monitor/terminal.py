"""Flags a task puts on a log record (`extra=`) for the CLI's terminal, which leaves such lines out; the Prefect run
log and the command's log file keep every line."""

CHILD_OUTPUT = "child_output"  # a line the training program printed (it is in the run's train.log)
SUMMARIZED = "summarized"  # a line the command's closing summary says again
SAID_AGAIN = {SUMMARIZED: True}  # extra= of such a line
BAR_SHOWN = "bar_shown"  # a training step's loss line: on a terminal the progress bar stands for it (eval lines stay)
