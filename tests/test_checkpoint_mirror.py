"""A run's checkpoints copied to a shared store as they are saved, and a fresh host resuming from there.
(The two-pool deployment test with a killed worker and an S3 server is issue 15's; this is the mirror itself.)"""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
SHORT = {"save_steps": 4, "eval_steps": 4, "logging_steps": 2, "per_device_train_batch_size": 16, "save_total_limit": 2}


def test_a_fresh_host_resumes_from_the_newest_checkpoint_in_the_store(tmp_path):
    from flows.prepare import prepare_data
    from flows.train import train_model
    from params.prepare import PrepareParams
    from params.train import TrainParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model
    from training.checkpoint_store import CheckpointStore

    # given a dataset and two hosts that share nothing but a store (a folder here; any fsspec URL in production)
    model = str(make_tiny_model(tmp_path / "tiny-model"))
    ledger = write_ledger(make_ledger(600, 10, seed=2), str(tmp_path / "ledger.csv"))
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(tmp_path / "prep"), model=model))
    store = str(tmp_path / "bucket" / "runs")

    def on_host(host: str, steps: int, **extra) -> TrainParams:
        return TrainParams(
            dataset=str(Path(prepared.dataset.path).parent), model=model, work_dir=str(tmp_path / host),
            launcher="python", run_name="shared", checkpoint_store=store, trainer={**SHORT, "max_steps": steps},
            **extra,
        )  # fmt: skip

    # when host A trains 8 steps, saving every 4
    first = train_model(on_host("host-a", 8))
    # then both checkpoints are in the store, complete
    mirror = CheckpointStore(f"{store}/shared/checkpoints")
    assert first.global_step == 8 and mirror.names() == ["checkpoint-8", "checkpoint-4"]
    assert mirror.latest() == "checkpoint-8"
    # when host B, with an empty work dir, continues the run to 12 steps from 'latest'
    second = train_model(on_host("host-b", 12, resume_from="latest"))
    # then it pulled checkpoint-8 from the store and continued from there
    assert second.resumed_from is not None and Path(second.resumed_from).name == "checkpoint-8"
    assert Path(second.run_dir).is_relative_to(tmp_path / "host-b") and second.global_step == 12
    # and the store follows save_total_limit (2): the newest two remain
    assert mirror.names() == ["checkpoint-12", "checkpoint-8"]
