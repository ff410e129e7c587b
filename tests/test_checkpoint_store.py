"""Checkpoints mirrored to a shared store: pushed with their manifest last, found, pulled whole, cut-off uploads
skipped, old ones pruned. Against a local folder and a real S3-compatible server (moto_server on loopback)."""

import os
import shutil
from pathlib import Path

import pytest

from training.checkpoint_store import MANIFEST, CheckpointStore

BUCKET = "account-tax-test"


@pytest.fixture(scope="module")
def s3_options(moto_s3):
    """The moto server's options, with one bucket for this module."""
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True, **moto_s3.options).mkdir(BUCKET)
    return moto_s3.options


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> CheckpointStore:
    """The run's checkpoint folder in a fresh store of each kind."""
    if request.param == "local":
        return CheckpointStore(str(tmp_path / "bucket" / "runs" / "r" / "checkpoints"))
    options = request.getfixturevalue("s3_options")
    return CheckpointStore(
        f"s3://{BUCKET}/{tmp_path.name}/runs/r/checkpoints", {**options, "skip_instance_cache": True}
    )


def checkpoint(root: Path, step: int) -> Path:
    """A checkpoint folder shaped as the trainer saves it under DeepSpeed (weights, state, partitioned optimizer)."""
    folder = root / f"checkpoint-{step}"
    (folder / f"global_step{step}").mkdir(parents=True)
    (folder / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(2048))
    (folder / "latest").write_text(f"global_step{step}")
    (folder / f"global_step{step}" / "mp_rank_00_model_states.pt").write_bytes(os.urandom(4096))
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_pushed_checkpoint_is_the_latest_and_pulls_back_byte_for_byte(store, tmp_path):
    # given two checkpoints saved on one host and pushed to the store
    for step in (4, 8):
        store.push(checkpoint(tmp_path / "host-a", step))
    # when another host, with an empty folder, asks for the latest and pulls it
    name = store.latest()
    pulled = store.pull(name, tmp_path / "host-b" / "checkpoints")
    # then it is the newest, whole, without the store's manifest
    assert name == "checkpoint-8" and store.names() == ["checkpoint-8", "checkpoint-4"]
    assert files_of(pulled) == files_of(tmp_path / "host-a" / "checkpoint-8")
    assert not (pulled / MANIFEST).exists()


def test_an_upload_cut_off_before_its_manifest_is_skipped(store, tmp_path, caplog):
    # given checkpoint-4 complete and checkpoint-8 whose upload stopped before the manifest was written
    store.push(checkpoint(tmp_path, 4))
    store.push(checkpoint(tmp_path, 8))
    store.fs.rm(store._path("checkpoint-8", MANIFEST))
    # when the latest is asked for, then the cut-off one is skipped, with a warning naming why
    assert store.latest() == "checkpoint-4"
    assert "checkpoint-8" in caplog.text and "upload did not finish" in caplog.text
    # and pulling it is refused
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        store.pull("checkpoint-8", tmp_path / "elsewhere")


def test_a_file_shorter_than_its_manifest_says_is_a_truncated_upload(store, tmp_path):
    # given a pushed checkpoint whose weights file was then cut short in the store
    store.push(checkpoint(tmp_path, 4))
    store.fs.pipe_file(store._path("checkpoint-4", "adapter_model.safetensors"), b"cut")
    # then the checkpoint is not complete, and the problem names the file and both sizes
    assert store.problem("checkpoint-4") == "adapter_model.safetensors: 3 bytes stored, 2048 expected"
    assert store.latest() is None


def test_a_second_push_replaces_a_half_upload(store, tmp_path):
    # given a half upload of checkpoint-4 (a stray file, no manifest) from an earlier try
    store.fs.makedirs(store._path("checkpoint-4"), exist_ok=True)
    store.fs.pipe_file(store._path("checkpoint-4", "stray.bin"), b"x")
    # when the checkpoint is pushed again
    store.push(checkpoint(tmp_path, 4))
    # then it is complete and holds only its own files
    assert store.problem("checkpoint-4") is None
    assert not store.fs.exists(store._path("checkpoint-4", "stray.bin"))


def test_prune_keeps_the_newest_complete_ones_and_drops_cut_off_older_ones(store, tmp_path):
    # given complete checkpoints 4, 8, 12 and a cut-off 6, with save_total_limit 2
    for step in (4, 6, 8, 12):
        store.push(checkpoint(tmp_path, step))
    store.fs.rm(store._path("checkpoint-6", MANIFEST))
    # when pruned
    deleted = store.prune(2)
    # then the two newest complete ones stay
    assert sorted(deleted) == ["checkpoint-4", "checkpoint-6"] and store.names() == ["checkpoint-12", "checkpoint-8"]
    # and no limit keeps everything
    assert store.prune(None) == [] and len(store.names()) == 2


def test_an_empty_store_has_no_latest(store):
    assert store.names() == [] and store.latest() is None


def test_a_local_copy_is_replaced_whole_when_pulled_again(tmp_path):
    # given a local checkpoint left half-written by a host that died
    store = CheckpointStore(str(tmp_path / "store"))
    store.push(checkpoint(tmp_path / "a", 4))
    local = tmp_path / "b" / "checkpoint-4"
    local.mkdir(parents=True)
    (local / "trainer_state.json").write_text("{")
    # when pulled again, then the local folder is the stored one
    store.pull("checkpoint-4", tmp_path / "b")
    assert files_of(local) == files_of(tmp_path / "a" / "checkpoint-4")
    shutil.rmtree(tmp_path / "a")


def test_a_checkpoint_asked_for_by_name_is_pulled_to_a_host_that_lacks_it(tmp_path):
    from training.checkpoint_store import fetch_named

    # given a store holding checkpoint-4 and checkpoint-8, and a fresh host with none
    store = CheckpointStore(str(tmp_path / "bucket" / "runs" / "r" / "checkpoints"))
    for step in (4, 8):
        store.push(checkpoint(tmp_path / "host-a", step))
    fresh = tmp_path / "host-b" / "checkpoints"
    # when the run is resumed from checkpoint-4 by name (not 'latest')
    pulled = fetch_named(store.url, "checkpoint-4", fresh)
    # then that checkpoint, and only it, is on the host, byte for byte
    assert pulled == fresh / "checkpoint-4"
    assert files_of(pulled) == files_of(tmp_path / "host-a" / "checkpoint-4")
    assert sorted(p.name for p in fresh.iterdir()) == ["checkpoint-4"]
    # and asking for a path, or for one the store does not hold, pulls nothing
    assert fetch_named(store.url, str(fresh / "checkpoint-4"), fresh) is None
    assert fetch_named(store.url, "checkpoint-12", fresh) is None
