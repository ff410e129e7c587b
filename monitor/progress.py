"""The UI's progress bars for long stages (a helper, not a stage: its own module, so that a change in the
reports does not change the cache key of tokenizing or training)."""

import time

from prefect.artifacts import create_progress_artifact, update_progress_artifact


def elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class ProgressArtifact:
    """A UI progress bar whose description counts and times: '12,000 of 19,862 texts tokenized, 4.1 s'.

    Updates at most every `every` seconds (and always at the end): each one is an API call.
    """

    def __init__(self, key: str, total: int, what: str, every: float = 1.0):
        self.total, self.what, self.every = total, what, every
        self.start = self.shown = time.monotonic()
        self.id = create_progress_artifact(0.0, key=key, description=self.describe(0))

    def describe(self, done: int) -> str:
        return f"{done:,} of {self.total:,} {self.what}, {elapsed(time.monotonic() - self.start)}"

    def update(self, done: int, total: int | None = None) -> None:
        self.total = total if total is not None else self.total
        now = time.monotonic()
        if done < self.total and now - self.shown < self.every:
            return
        self.shown = now
        percent = min(100.0, 100.0 * done / max(self.total, 1))
        update_progress_artifact(self.id, percent, description=self.describe(done))
