"""The Prefect side of stage caching: the cache policy every stage task uses (its key from ledger.caching's
fingerprints), `STAGE`, and `refreshable` for the flows' `refresh_cache`."""

import contextlib
import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import CachePolicy
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ledger.caching import conf_files, file_fingerprint, key_with_outputs, model_fingerprint, task_code


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value, fallback=repr)


@dataclass
class StageCache(CachePolicy):
    """Key = task name + the code it runs + JSON of the (small) inputs: paths, fingerprints, parameters.

    The code is the import closure of the task's module, plus that of `programs` (modules it launches as
    another process, e.g. the training program). Conf files named by the parameters are hashed by content.
    Inputs named in `model_inputs` are model folders: their tokenizer/config files are hashed too.
    Inputs named in `file_inputs` are files a user edits in place (a corrections file): their bytes are hashed too.
    Inputs named in `exclude` (per-run ids such as an MLflow run id) stay out of the key; "input.field" leaves out
    one field of a parameter section the task takes whole but does not read (a later stage's setting).
    """

    model_inputs: tuple[str, ...] = ()
    file_inputs: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs) -> str:
        fn = task_ctx.task.fn
        kept = {k: v for k, v in sorted(inputs.items()) if k not in self.exclude}
        shown = {k: _jsonable(v) for k, v in kept.items()}
        for dotted in (e for e in self.exclude if "." in e):
            name, field = dotted.split(".", 1)
            if isinstance(shown.get(name), dict):
                shown[name].pop(field, None)
        payload = {
            "task": task_ctx.task.name,
            "code": task_code(sys.modules[fn.__module__].__file__, self.programs),
            "inputs": shown,
            "conf": conf_files(list(kept.values())),
            "models": {k: model_fingerprint(inputs[k]) for k in self.model_inputs},
            "files": {k: file_fingerprint(inputs[k]) for k in self.file_inputs},
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return key_with_outputs(key, getattr(task_ctx, "result_store", None))


def refreshable(flow_fn):
    """Wrap a flow function whose `params` has `refresh_cache`: when set, its tasks (and subflows) ignore cached
    results. Explicit through Prefect's settings context, never through os.environ, which Prefect reads once."""

    @functools.wraps(flow_fn)
    def run(params):
        with refreshing(params.refresh_cache):
            return flow_fn(params)

    return run


@contextlib.contextmanager
def refreshing(enabled: bool):
    """Tasks run inside ignore (and overwrite) their cache records when enabled."""
    if not enabled:
        yield
        return
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):
        yield


# Decorator arguments shared by every cached stage task. No task tags anywhere: the engine checks tag concurrency
# limits for each tagged task run, ~0.5 s per run against a server, which was half of a fully cached re-run.
STAGE = {"cache_policy": StageCache(), "persist_result": True}
