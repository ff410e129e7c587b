"""Work dirs in a shared store, seen by the rest of the code: 'latest' resolved in the store, cached outputs
checked there, a store folder probed for writes (a real S3-compatible server, moto_server on loopback), and a
resumed run's MLflow run reopened only where the tracking store knows it."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ledger import work_store
from ledger.caching import output_exists
from ledger.work_store import join
from params.paths import latest_dataset, latest_run


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh memory:// work dir of its own (the memory store is process-wide), host cache in tmp_path."""
    monkeypatch.setenv(work_store.CACHE_ENV, str(tmp_path / "host-a"))
    url = f"memory://{re.sub(r'[^a-zA-Z0-9-]', '-', tmp_path.name)}/work"
    yield url
    fs, root = work_store.store_of(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def put(url: str, data: bytes = b"x", age: timedelta = timedelta(0)) -> None:
    """A file in the store, last modified `age` ago (no waiting between writes to order them)."""
    fs, path = work_store.store_of(url)
    fs.pipe_file(path, data)
    fs.store[path].modified = datetime.now(UTC) - age


def same_place(url: str, expected: str) -> bool:
    """Two URLs of one store object (memory:// writes its keys with a leading slash: memory:///bucket/...)."""
    same_store = url.split("://", 1)[0] == expected.split("://", 1)[0]
    return same_store and work_store.store_of(url)[1] == work_store.store_of(expected)[1]


# --- 'latest' in a store work dir --------------------------------------------------------------------------------


def test_the_latest_dataset_in_a_store_is_the_one_with_the_newest_manifest(store):
    # given two complete datasets (the newer one sorting first by name) and a newer one still being written
    datasets = join(store, "datasets")
    put(join(datasets, "tokenized-a", "dataset.json"), age=timedelta(minutes=1))
    put(join(datasets, "tokenized-b", "dataset.json"), age=timedelta(minutes=10))
    put(join(datasets, "tokenized-c", "data", "train.arrow"))
    # when 'latest' is resolved
    found = latest_dataset(store)
    # then it is the URL of the dataset whose manifest is newest
    assert isinstance(found, str) and work_store.is_store_url(found)
    assert same_place(found, join(datasets, "tokenized-a"))


def test_no_dataset_in_a_store_names_the_parameter_to_set(store):
    # given a store work dir with no complete dataset, when 'latest' is resolved, then the error says what to do
    put(join(store, "datasets", "tokenized-a", "data", "train.arrow"))
    with pytest.raises(ValueError, match=r"^no tokenized dataset under memory://") as caught:
        latest_dataset(store)
    assert "params.dataset" in str(caught.value) and join(store, "datasets") in str(caught.value)


def test_the_latest_run_in_a_store_is_a_finished_one(store):
    # given a finished run (final/run.yaml uploaded) and a newer run whose final/ is incomplete
    runs = join(store, "runs")
    put(join(runs, "finished", "final", "adapter_model.safetensors"), age=timedelta(minutes=10))
    put(join(runs, "finished", "final", "run.yaml"), age=timedelta(minutes=10))
    put(join(runs, "crashed", "final", "adapter_model.safetensors"))
    put(join(runs, "crashed", "run.yaml"))
    # when 'latest' is resolved, then it is the finished run's folder
    assert same_place(latest_run(store), join(runs, "finished"))


def test_of_two_finished_runs_in_a_store_the_newer_is_latest(store):
    # given two finished runs, the newer sorting first by name
    runs = join(store, "runs")
    put(join(runs, "a-new", "final", "run.yaml"), age=timedelta(minutes=1))
    put(join(runs, "b-old", "final", "run.yaml"), age=timedelta(minutes=10))
    # when 'latest' is resolved, then it is the newer one
    assert same_place(latest_run(store), join(runs, "a-new"))


def test_no_finished_run_in_a_store_names_the_parameter_to_set(store):
    # given runs that never finished, when 'latest' is resolved, then the error names params.model
    put(join(store, "runs", "crashed", "progress.jsonl"))
    with pytest.raises(ValueError, match=r"^no finished run under memory://") as caught:
        latest_run(store)
    assert "params.model" in str(caught.value)


# --- cached outputs ------------------------------------------------------------------------------------------------


def test_a_store_output_exists_until_it_is_removed(store):
    # given an output file in the store
    url = join(store, "datasets", "tokenized-a", "dataset.json")
    put(url)
    # then it exists; and when it is removed, it no longer does
    assert output_exists(url)
    fs, path = work_store.store_of(url)
    fs.rm(path)
    assert not output_exists(url)


def test_a_store_output_folder_exists(store):
    # given a folder in the store (a prefix of its files), when checked, then it exists
    put(join(store, "runs", "r", "final", "run.yaml"))
    assert output_exists(join(store, "runs", "r"))


def test_local_outputs_exist_as_files_on_this_disk(tmp_path):
    # given a local file and a file:// URL of it, then both exist; a missing path does not
    path = tmp_path / "out.parquet"
    path.write_bytes(b"x")
    assert output_exists(str(path)) and output_exists(path.as_uri())
    assert not output_exists(str(tmp_path / "gone.parquet"))


# --- a store folder's write probe ----------------------------------------------------------------------------------


@pytest.fixture
def s3_env(moto_s3, monkeypatch):
    """This process pointed at the moto server through the environment (as a host's AWS_* settings would)."""
    import s3fs

    for name, value in moto_s3.env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance made before the environment was set would not see it
    yield moto_s3
    s3fs.S3FileSystem.clear_instance_cache()


def test_the_latest_dataset_in_an_s3_work_dir_is_named_by_its_plain_url(s3_env):
    import s3fs

    # given an S3 work dir with one complete dataset and one without its manifest
    bucket = f"latest-{uuid.uuid4().hex[:12]}"
    fresh = s3fs.S3FileSystem(skip_instance_cache=True, **s3_env.options)
    fresh.mkdir(bucket)
    fresh.pipe_file(f"{bucket}/work/datasets/tokenized-a/dataset.json", b"{}")
    fresh.pipe_file(f"{bucket}/work/datasets/tokenized-b/data/train.arrow", b"x")
    # when 'latest' is resolved, then it is the complete dataset's s3:// URL, as a user would write it
    assert latest_dataset(f"s3://{bucket}/work") == f"s3://{bucket}/work/datasets/tokenized-a"


def test_a_store_folder_in_a_missing_bucket_is_not_writable(s3_env):
    from tasks.preflight import OutputFolderError, writable_store

    # given a folder in a bucket that does not exist on the server
    url = f"s3://missing-{uuid.uuid4().hex[:12]}/work"
    # when it is probed, then the error names the folder and says what to check
    with pytest.raises(OutputFolderError) as caught:
        writable_store(url, "work_dir")
    message = str(caught.value)
    assert f"work_dir {url!r} cannot be written" in message
    assert "check the bucket name and the credentials" in message


def test_a_store_folder_in_an_existing_bucket_is_writable_and_left_clean(s3_env):
    import s3fs

    from tasks.preflight import writable_store

    # given an existing bucket
    bucket = f"present-{uuid.uuid4().hex[:12]}"
    fresh = s3fs.S3FileSystem(skip_instance_cache=True, **s3_env.options)
    fresh.mkdir(bucket)
    # when a folder in it is probed, then it passes and no probe object is left behind
    writable_store(f"s3://{bucket}/work", "work_dir")
    assert s3fs.S3FileSystem(skip_instance_cache=True, **s3_env.options).find(bucket) == []


# --- reopening a resumed run's MLflow run ----------------------------------------------------------------------------


@pytest.fixture
def mlflow_store(tmp_path):
    from monitor.mlflow_store import store_for

    return store_for(f"sqlite:///{tmp_path / 'mlflow.db'}")


def immediately(what, call):
    return call()


def test_a_run_the_tracking_store_does_not_know_is_not_reopened(mlflow_store):
    from tasks.tracking import reopened

    # given a run id from another host's store, when it is reopened here, then it is not (no error either)
    assert reopened(uuid.uuid4().hex, mlflow_store, immediately) is False


def test_a_known_run_is_reopened_as_running(mlflow_store):
    from tasks.tracking import reopened

    # given a run of this store that ended
    experiment = mlflow_store.create_experiment("reopen")
    run_id = mlflow_store.create_run(experiment, "r", {})
    mlflow_store.set_status(run_id, "FAILED")
    # when it is reopened
    again = reopened(run_id, mlflow_store, immediately)
    # then it is RUNNING again
    assert again is True
    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"
