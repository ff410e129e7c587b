"""Prefect cache keys built from input fingerprints, parameters and code, never from pickled frames."""

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ledger.conf import conf_dir

_ROOT = Path(__file__).resolve().parents[1]
# Code a stage may run: Prefect's TASK_SOURCE hashes only the task's own body and misses the helpers it
# calls, so a stage's key covers all of tasks/, schemas/ and conf/ (a code change re-runs every stage).
_CODE = ["tasks", "schemas"]


@functools.lru_cache(maxsize=64)
def code_fingerprint(module_file: str) -> str:
    """Hash of the task's module, tasks/, schemas/ and conf/."""
    digest = hashlib.sha256()
    paths = [Path(module_file)] + [_ROOT / p for p in _CODE] + [conf_dir()]
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.name).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value, fallback=repr)


# Files of a model folder that decide how text is tokenized and how the head is built (not the weights).
MODEL_META_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
)


def model_fingerprint(model_path: str) -> str:
    """Hash of a model folder's tokenizer and config files (a different tokenizer -> a different key)."""
    digest = hashlib.sha256()
    folder = Path(model_path)
    if not folder.is_dir():
        raise FileNotFoundError(f"model path {model_path} is not a folder (a local model or hub-cache snapshot)")
    for name in MODEL_META_FILES:
        if (folder / name).is_file():
            digest.update(name.encode())
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()


@dataclass
class StageCache(CachePolicy):
    """Key = task name + code fingerprint + JSON of the (small) inputs: paths, fingerprints, parameters.

    Inputs named in `model_inputs` are model folders: their tokenizer/config files are hashed too.
    Inputs named in `exclude` (per-run ids such as an MLflow run id) stay out of the key.
    """

    model_inputs: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs) -> str:
        fn = task_ctx.task.fn
        payload = {
            "task": task_ctx.task.name,
            "code": code_fingerprint(fn.__code__.co_filename),
            "inputs": {k: _jsonable(v) for k, v in sorted(inputs.items()) if k not in self.exclude},
            "models": {k: model_fingerprint(inputs[k]) for k in self.model_inputs},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# Decorator arguments shared by every cached stage task. No task tags anywhere: the engine checks tag concurrency
# limits for each tagged task run, ~0.5 s per run against a server, which was half of a fully cached re-run.
STAGE = {"cache_policy": StageCache(), "persist_result": True}
