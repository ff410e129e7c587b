"""The error of a file that cannot be read as a ledger (its own module: every reader module raises it)."""


class LedgerFileError(ValueError):
    """A file that cannot be read as a ledger; the message names the file and what is wrong."""

    def __init__(self, url: str, problem: str):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem
