"""One measured piece of `make bench`, in a fresh interpreter: prints one JSON line with its figures.

python -m bench.child '{"kind": "prepare", ...}'   (bench.run starts these; not meant to be run by hand)
"""

import json
import sys
import time


def task_runs(flow_run_id, settle: float = 3.0, timeout: float = 60.0) -> dict[str, dict]:
    """Task name -> seconds it ran and its final state, from the Prefect API.

    The API records task runs from events, after the flow returns: wait until they stop changing.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    seen, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            now = {
                r.name.rsplit("-", 1)[0]: {"s": round(r.total_run_time.total_seconds(), 2), "state": r.state_name}
                for r in runs
            }
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= settle and all(t["state"] in FINAL for t in now.values()):
                break
            time.sleep(0.5)
    return seen


def prepare(spec: dict) -> dict:
    """The data flow from ledger file to tokenized dataset, timed around the flow call."""
    from flows.prepare import prepare_data
    from params.prepare import PrepareParams

    params = PrepareParams(input=spec["input"], work_dir=spec["work_dir"], model=spec["model"])
    start = time.perf_counter()
    state = prepare_data(params, return_state=True)
    seconds = time.perf_counter() - start
    result = state.result()
    return {
        "flow_s": seconds,
        "state": state.name,
        "tasks": task_runs(state.state_details.flow_run_id),
        "rows_in": result.summary.rows_in,
        "rows_accepted": result.summary.rows_accepted,
        "texts": result.texts.data.path,
        "dataset": str(__import__("pathlib").Path(result.dataset.path).parent),
        "tokens_p50": result.dataset.stats["all"]["p50"],
    }


def floor(spec: dict) -> dict:
    """The floor of the data flow: the same tokenizer encoding the same final texts, nothing else."""
    import pandas as pd

    from params.prepare import TokenizeParams
    from tasks.tokenize import load_tokenizer, tokenizer_threads

    texts = pd.read_parquet(spec["texts"], columns=["text"])["text"].tolist()
    tokenizer, _ = load_tokenizer(spec["model"])
    defaults = TokenizeParams()  # the flow's own batch size and threading: the floor differs only in doing less
    size = defaults.batch_size
    start = time.perf_counter()
    tokens = 0
    with tokenizer_threads(defaults.parallel):
        for i in range(0, len(texts), size):
            batch = tokenizer(texts[i : i + size], add_special_tokens=True, return_attention_mask=False)
            tokens += sum(map(len, batch["input_ids"]))
    return {"floor_s": time.perf_counter() - start, "texts": len(texts), "tokens": tokens}


KINDS = {"prepare": prepare, "floor": floor}
FINAL = {"Completed", "Cached", "Failed", "Crashed", "Cancelled"}


def main() -> int:
    spec = json.loads(sys.argv[1])
    if spec["kind"] in ("train_launcher", "train_inprocess", "predict"):
        from bench import model_steps

        report = model_steps.KINDS[spec["kind"]](spec)
    else:
        report = KINDS[spec["kind"]](spec)
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
