"""The errors a user can fix, by kind, each with what to do (`hint`), in the lowest room so that every room raises
them. The CLI prints an ExpectedError as one paragraph; any other exception is a bug, reported as one with its log
file. A ValueError or FileNotFoundError raised by a library or by our own code is no longer taken for the user's
mistake."""


class ExpectedError(Exception):
    """An error the user can fix; the message names what (the file, column, parameter) and the hint what to do."""

    hint = "fix the value named above"


class ParameterError(ExpectedError, ValueError):
    """A parameter that cannot work (for this data); the message names it and what to set instead."""

    hint = "fix the parameter named above (--set, --config, the options, or the Prefect UI form)"


class InputNotFound(ExpectedError, FileNotFoundError):
    """A file, folder or glob the user named that is not there."""

    hint = "check the path (a file, folder or glob; any fsspec URL)"


class ConfFileError(ExpectedError, ValueError):
    """A file in conf/ (or one a parameter names in its place) that is missing or says something that cannot work."""

    hint = "fix the configuration file named above (conf/, or the file the parameter names)"


class LedgerFileError(ExpectedError, ValueError):
    """A file that cannot be read as a ledger; the message names the file and what is wrong."""

    hint = (
        "re-export it from the accounting program as xlsx or CSV (UTF-8 or CP949) with its header row, "
        "or leave it out of --input"
    )

    def __init__(self, url: str, problem: str):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class HeaderClashError(LedgerFileError):
    """Two headers of a file that fit one column only loosely (적요란 and 비고란: description), or one header that fits
    two columns at once: the reader never guesses between them."""

    hint = (
        'say which header is the column for this run: --set \'ingest.columns={"<header>": "<column>"}\' (the line '
        "above names it), or add the header's spelling to that column's aliases in conf/columns.yaml (an exact "
        "spelling always wins over a loosened one)"
    )


class CodeFormsError(ExpectedError, ValueError):
    """One account written in more than one form across the files of a run (0811, 811, 81100, 811-01): kept as
    written they would be several labels of one account, so the run stops; the message names the files, the forms
    and their counts."""

    hint = (
        "make each the chart's code, a written sub-code kept in a sub_code column: --set "
        "preprocess.normalize.account_codes=chart (pipeline: prepare.preprocess.normalize.account_codes=chart), or "
        "export the files with one code form; the forms read are in conf/code_forms.yaml"
    )
