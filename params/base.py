"""The strict base of every parameter model: an unknown key is an error, not a silent default."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
