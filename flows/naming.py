"""Flow-run names that say what ran: kind, model, data and when (shown in the Prefect UI)."""

from datetime import datetime
from pathlib import PurePath


def _short(value: object) -> str:
    text = str(value or "").rstrip("/")
    return PurePath(text).name or text or "-"


def run_namer(kind: str):
    """A flow_run_name callable: e.g. 'train-Qwen3-4B-tokenized-1a2b-20261125-1432'."""

    def name() -> str:
        from prefect.runtime import flow_run

        params = flow_run.parameters.get("params") or {}
        params = params if isinstance(params, dict) else params.model_dump()
        prepare = params.get("prepare") or params
        model = params.get("model") or prepare.get("model")
        data = params.get("dataset") or params.get("input") or prepare.get("input")
        parts = [kind, _short(model) if model else None, _short(data), datetime.now().strftime("%Y%m%d-%H%M")]
        return "-".join(p for p in parts if p)

    return name
