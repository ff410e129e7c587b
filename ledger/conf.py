"""Where conf/ lives and how its files are read: data, not code."""

import functools
import os
from pathlib import Path
from typing import Annotated, Any

import yaml

from ledger.errors import ConfFileError


class _ConfFileMarker:
    """Marks a field that names a file in conf/ (or a path): its content belongs in the cache keys."""

    def __repr__(self) -> str:
        return "ConfFile"


CONF_FILE = _ConfFileMarker()
# A parameter naming a conf file: the stages that get it read the file, so their cache keys hash its bytes.
ConfFile = Annotated[str, CONF_FILE]


def conf_dir() -> Path:
    """The conf/ folder: $ACCOUNT_TAX_CONF, else the one beside the code."""
    return Path(os.environ.get("ACCOUNT_TAX_CONF") or Path(__file__).resolve().parents[1] / "conf")


def conf_path(name_or_path: str) -> Path:
    """A file given by path, or by name inside conf/."""
    path = Path(name_or_path)
    return path if path.is_absolute() or path.exists() else conf_dir() / name_or_path


@functools.lru_cache(maxsize=32)
def _read_yaml(path: str, mtime: float) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_yaml(name_or_path: str) -> Any:
    """Parse a YAML file from conf/ (cached per file version)."""
    path = conf_path(name_or_path)
    if not path.exists():
        raise ConfFileError(f"configuration file not found: {path}")
    return _read_yaml(str(path), path.stat().st_mtime)
