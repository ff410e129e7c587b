"""The strict base of every parameter model: an unknown key is an error, not a silent default."""

from pydantic import BaseModel, ConfigDict, Field

from ledger.conf import ConfFile  # noqa: F401  (re-exported: the parameter modules mark conf files with it)
from ledger.work_store import NativeUrl, OutputFile, WorkDir  # noqa: F401  (re-exported: store roles, by type)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlowParams(Section):
    """The top-level parameters of a flow: its sections plus what every flow run takes."""

    refresh_cache: bool = Field(
        False, description="ignore cached task results: every step runs again (and its new result is cached)"
    )


def target_accuracy_field():
    """The accuracy the lines coded automatically must reach on the valid split (the auto / review threshold)."""
    return Field(
        0.98,
        ge=0.5,
        lt=1.0,
        description="accuracy the automatically coded lines must reach on validation; the rest go to review",
    )
