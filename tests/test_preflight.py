"""Faults a long run must catch in its first seconds: an unwritable output folder, an unreachable MLflow server."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.pipeline import pipeline
from flows.predict import predict_ledger
from flows.prepare import prepare_data
from params.pipeline import PipelineParams
from params.predict import PredictParams
from params.prepare import PrepareParams
from tasks.preflight import OutputFolderError, writable_folder
from tasks.tracking import check_mlflow_store
from training.launcher import free_port


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: no folder can be made below it, whoever runs the test (root included)."""
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    return path


# The reason writable_folder reports for read_only_folder: a read-only mount as root, permissions otherwise.
READ_ONLY_REASON = r"\((Read-only file system|Permission denied)"


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A folder nobody can write: a read-only tmpfs as root (root ignores permission bits), mode 0o555 otherwise."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)  # so pytest can remove tmp_path
        return
    mount = [shutil.which("mount") or "mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)]
    done = subprocess.run(mount, capture_output=True, text=True)
    if done.returncode != 0:  # root without CAP_SYS_ADMIN (some containers): nothing is read-only to it
        pytest.skip(f"root cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def dead_server() -> str:
    """An http URI on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


def test_missing_output_folder_is_created(tmp_path):
    # given a nested folder that does not exist yet / when checked / then it exists and is empty
    folder = writable_folder(tmp_path / "a" / "b", "work_dir")
    assert folder.is_dir() and not any(folder.iterdir())


def test_folder_below_a_file_is_an_error_naming_parameter_and_folder(a_file):
    # given a work dir below a regular file / when checked / then the error names both and the reason
    with pytest.raises(OutputFolderError, match=r"work_dir '.*not-a-folder/work' is not writable \(Not a directory"):
        writable_folder(a_file / "work", "work_dir")


def test_read_only_folder_is_an_error(read_only_folder):
    # given a folder nobody may write (root included) / when checked
    with pytest.raises(OutputFolderError, match=rf"out '.*ro' is not writable {READ_ONLY_REASON}"):
        writable_folder(read_only_folder, "out")
    # then nothing was left in it
    assert not any(read_only_folder.iterdir())


@pytest.mark.usefixtures("prefect_harness")
def test_prepare_with_work_dir_in_a_read_only_folder_fails_before_reading_the_ledger(read_only_folder, tmp_path):
    # given a work dir to be created inside a read-only folder, and a ledger path that reading would fail on
    missing_ledger = tmp_path / "no-such-ledger.csv"
    params = PrepareParams(input=str(missing_ledger), work_dir=str(read_only_folder / "work"))
    # when the flow runs
    state = prepare_data(params, return_state=True)
    # then it fails on the work_dir parameter with the read-only reason, not on the ledger it never opened
    assert state.is_failed()
    with pytest.raises(OutputFolderError, match=rf"work_dir '.*ro/work' is not writable {READ_ONLY_REASON}"):
        state.result()


@pytest.mark.usefixtures("prefect_harness")
def test_prepare_with_unwritable_work_dir_fails_before_reading_the_ledger(a_file, ledger_csv):
    # given a valid ledger and a work dir that cannot be created
    params = PrepareParams(input=str(ledger_csv), work_dir=str(a_file / "work"))
    # when the flow runs
    state = prepare_data(params, return_state=True)
    # then it fails with the folder named, and no stage wrote anything
    assert state.is_failed()
    with pytest.raises(OutputFolderError, match="work_dir"):
        state.result()


@pytest.mark.usefixtures("prefect_harness")
def test_predict_to_unwritable_output_fails_before_loading_the_model(a_file, ledger_csv, tmp_path):
    # given an output file below a regular file (and a model folder that would fail later)
    params = PredictParams(
        model=str(tmp_path / "no-run"), input=str(ledger_csv), out=str(a_file / "pred.xlsx"), work_dir=str(tmp_path)
    )
    # when predicting / then the output folder is the error, not the missing model nor a late write
    with pytest.raises(OutputFolderError, match=r"out '.*not-a-folder' is not writable"):
        predict_ledger(params)


def test_store_output_folders_are_mapped_and_probed_not_downloaded(tmp_path, monkeypatch):
    # given a work dir in a store holding a large file, and the folder of an output file below it
    from ledger import work_store
    from tasks.preflight import check_output_folders

    monkeypatch.setenv(work_store.CACHE_ENV, str(tmp_path / "cache"))
    work = f"memory://{tmp_path.name}/work"
    exports = work_store.join(work, "exports")
    fs, big = work_store.store_of(work_store.join(work, "models", "big.bin"))
    fs.pipe_file(big, b"x" * 1000)
    try:
        # when both are checked (the task's parameters typed WorkDir, whatever the flow calls them)
        checked = check_output_folders.fn(work, exports)
        # then both are answered by their store URLs, this host's copies exist, and nothing was downloaded
        assert checked == {"work_dir": work, "out": exports}
        assert work_store.local_path(exports).is_dir()
        assert not (work_store.local_path(work) / "models" / "big.bin").exists()
        assert not [p for p in fs.find(fs._strip_protocol(work)) if ".write-probe" in p]  # the probes are gone
    finally:
        fs.rm(fs._strip_protocol(work), recursive=True)


def test_unreachable_mlflow_server_is_a_connection_error_naming_it(tmp_path):
    # given a tracking URI nothing answers
    uri = dead_server()
    # when the store is checked / then a ConnectionError names the URI and says training did not start
    with pytest.raises(ConnectionError, match=rf"{uri} unreachable, not starting training"):
        check_mlflow_store.fn(uri, "account-tax", str(tmp_path))


def test_default_store_is_a_sqlite_file_in_the_work_dir(tmp_path):
    # given no URI / when checked / then the local sqlite store is created and reachable
    uri = check_mlflow_store.fn(None, "account-tax", str(tmp_path))
    assert uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}" and (tmp_path / "mlflow.db").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_pipeline_with_unreachable_mlflow_fails_before_any_data_work(ledger_csv, tmp_path):
    # given a pipeline whose tracking server is down
    work = tmp_path / "work"
    params = PipelineParams(
        prepare=PrepareParams(input=str(ledger_csv), work_dir=str(work), model=str(tmp_path / "model")),
        train={"mlflow": {"tracking_uri": dead_server()}},
    )
    # when it runs
    with pytest.raises(ConnectionError, match="unreachable, not starting training"):
        pipeline(params)
    # then no data stage ran (nothing written under the work dir's stages)
    assert not (work / "stages").exists()
