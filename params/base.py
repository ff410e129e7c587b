"""The strict base of every parameter model: an unknown key is an error, not a silent default."""

from pydantic import BaseModel, ConfigDict, Field

from ledger.conf import ConfFile  # noqa: F401  (re-exported: the parameter modules mark conf files with it)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlowParams(Section):
    """The top-level parameters of a flow: its sections plus what every flow run takes."""

    refresh_cache: bool = Field(
        False, description="ignore cached task results: every step runs again (and its new result is cached)"
    )
