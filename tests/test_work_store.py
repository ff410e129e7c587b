"""A work dir in a shared store: store URLs mapped to a host-local cache, pulled once, pushed with completion
markers last, and tasks run on local copies by `on_store`. Against fsspec's in-process memory:// store (fast);
a second host is a second $ACCOUNT_TAX_CACHE folder."""

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem
from pydantic import BaseModel

from ledger import work_store
from ledger.errors import ParameterError
from ledger.work_store import (
    CACHE_ENV,
    COMPLETION_MARKERS,
    NativeUrl,
    OutputFile,
    StoreRole,
    UrlRecord,
    WorkDir,
    is_store_url,
    join,
    local_path,
    localize,
    on_store,
    parameter_roles,
    parent,
    portable,
    pull,
    push,
    remote_url,
    role_of,
)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Choose the host this test runs as: host('a') -> $ACCOUNT_TAX_CACHE is tmp_path/host-a (host A by default)."""

    def become(name: str) -> Path:
        root = tmp_path / f"host-{name}"
        monkeypatch.setenv(CACHE_ENV, str(root))
        return root

    become("a")
    return become


@pytest.fixture
def store(tmp_path, host) -> str:
    """A fresh memory:// folder of its own (the memory store is process-wide): removed afterwards."""
    url = f"memory://{re.sub(r'[^a-zA-Z0-9-]', '-', tmp_path.name)}/work"
    yield url
    fs, root = work_store.store_of(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def fs_of(url: str):
    return work_store.store_of(url)[0]


def put(url: str, data: bytes, modified: datetime | None = None) -> None:
    """A file in the store, as another host uploaded it (optionally dated)."""
    fs, path = work_store.store_of(url)
    fs.pipe_file(path, data)
    if modified is not None:
        fs.store[path].modified = modified


def cat(url: str) -> bytes:
    fs, path = work_store.store_of(url)
    return fs.cat_file(path)


def in_store(url: str) -> bool:
    fs, path = work_store.store_of(url)
    return fs.exists(path)


def recorded(monkeypatch, method: str, path_at: int) -> list[str]:
    """The store paths every call of MemoryFileSystem.<method> received, in order."""
    seen: list[str] = []
    original = getattr(MemoryFileSystem, method)

    def recording(self, *args, **kwargs):
        seen.append(args[path_at])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, method, recording)
    return seen


@pytest.fixture
def downloads(monkeypatch) -> list[str]:
    """Every file the memory store hands out with get_file (what pull downloads), in order."""
    return recorded(monkeypatch, "get_file", 0)


@pytest.fixture
def uploads(monkeypatch) -> list[str]:
    """Every file the memory store receives with put_file (what push uploads), in order."""
    return recorded(monkeypatch, "put_file", 1)


# --- URLs and paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["s3://bucket/work", "gs://bucket/work", "memory://bucket/work"])
def test_object_store_urls_are_store_urls(value):
    # given the URL of a shared object store, when asked, then it is a store URL
    assert is_store_url(value)


@pytest.mark.parametrize(
    "value",
    ["/data/work", "work", "file:///x", "http://127.0.0.1:5000", "sqlite:///x", "models:/name/1", None, 3],
)
def test_local_paths_and_tracking_addresses_are_not_store_urls(value):
    # given a local path, a file:// URL, an MLflow address or a non-string, when asked, then it is no store URL
    assert not is_store_url(value)


def test_a_store_url_maps_into_the_cache_and_back(host):
    # given host A's cache
    root = host("a")
    # when a store URL is mapped to this host's copy and that path back to a URL
    local = local_path("s3://bucket/work/datasets/d/dataset.json")
    # then the copy lies under the cache, by protocol, bucket and key, and the round trip gives the URL again
    assert local == root / "s3" / "bucket" / "work" / "datasets" / "d" / "dataset.json"
    assert remote_url(local) == "s3://bucket/work/datasets/d/dataset.json"


def test_a_path_outside_the_cache_has_no_store_url(host, tmp_path):
    # given a path that is not under this host's cache, when its URL is asked for, then there is none
    assert remote_url(tmp_path / "elsewhere" / "file.txt") is None


def test_a_dotdot_in_a_store_url_is_refused(host):
    # given a URL that climbs out of its bucket, when it is mapped, then it is refused
    with pytest.raises(ValueError, match=r"'\.\.'"):
        local_path("s3://bucket/work/../../etc/passwd")


def test_join_keeps_the_double_slash_of_a_store_url():
    # given a store folder (pathlib would write 's3:/bucket/work/datasets')
    assert str(Path("s3://bucket/work") / "datasets") == "s3:/bucket/work/datasets"
    # when a path below it is built, then the URL keeps its '://' (a trailing slash is not doubled)
    assert join("s3://bucket/work", "datasets", "d") == "s3://bucket/work/datasets/d"
    assert join("s3://bucket/work/", "runs") == "s3://bucket/work/runs"


def test_parent_keeps_the_double_slash_of_a_store_url():
    # given a store URL, when its folder is asked for, then it is a store URL still
    assert parent("s3://bucket/work/datasets/d/dataset.json") == "s3://bucket/work/datasets/d"
    assert parent("s3://bucket/work/runs/r/") == "s3://bucket/work/runs"


def test_join_and_parent_of_a_local_path_are_pathlibs(tmp_path):
    # given a local folder, when joined and climbed, then the result is the path pathlib gives
    assert join(str(tmp_path), "a", "b") == str(tmp_path / "a" / "b")
    assert parent(str(tmp_path / "a")) == str(tmp_path)


# --- pull --------------------------------------------------------------------------------------------------------


def test_a_pulled_file_is_downloaded_once(store, downloads):
    # given a file in the store
    url = join(store, "datasets", "d", "label_map.json")
    put(url, b'{"a": 0}')
    # when it is pulled twice on the same host
    first = pull(url)
    second = pull(url)
    # then the local copy has its bytes, and only the first pull downloaded it
    assert first == second == local_path(url)
    assert first.read_bytes() == b'{"a": 0}'
    assert len(downloads) == 1


def test_a_pulled_folder_comes_whole_but_for_its_checkpoints(store):
    # given a run folder in the store with checkpoints beside its other files
    run = join(store, "runs", "r")
    put(join(run, "run.yaml"), b"model_path: m")
    put(join(run, "final", "adapter_model.safetensors"), b"weights")
    put(join(run, "checkpoints", "checkpoint-4", "trainer_state.json"), b"{}")
    # when the folder is pulled
    local = pull(run)
    # then every file is there except those under checkpoints/
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file() and p.name[0] != ".")
    assert files == ["final/adapter_model.safetensors", "run.yaml"]
    assert not (local / "checkpoints").exists()


def test_pulling_a_url_that_names_nothing_only_maps_it(store, downloads):
    # given a URL with nothing behind it in the store
    url = join(store, "runs", "not-yet")
    # when it is pulled, then its local path comes back, not created, and nothing was downloaded
    local = pull(url)
    assert local == local_path(url)
    assert not local.exists()
    assert downloads == []


def test_a_file_another_host_changed_is_downloaded_again(store):
    # given a file pulled an hour ago
    url = join(store, "reports", "summary.json")
    put(url, b"old")
    local = pull(url)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(local, (an_hour_ago, an_hour_ago))
    # when another host uploads a new version (another size, newer than the local copy) and it is pulled again
    put(url, b"newer and longer", modified=datetime.now(UTC))
    pull(url)
    # then the local copy is the new version
    assert local.read_bytes() == b"newer and longer"


def test_weights_another_host_rewrote_at_the_same_size_are_downloaded_again(store):
    # given a run's final weights pulled on this host
    url = join(store, "runs", "r", "final", "adapter_model.safetensors")
    put(url, b"weights-v1")
    local = pull(url)
    # when another host resumes the run, saves new weights of the same size, and this host pulls again
    put(url, b"weights-v2")
    pull(url)
    # then this host has the new weights, not the ones it had (same name, same size)
    assert local.read_bytes() == b"weights-v2"


def test_a_file_this_host_pushed_is_not_downloaded_back(store, tmp_path, downloads):
    # given a file this host wrote and uploaded
    url = join(store, "stages", "clean", "data-abc.parquet")
    local = local_path(url)
    local.parent.mkdir(parents=True)
    local.write_bytes(b"rows")
    push(local, url)
    # when a later task pulls it
    pull(url)
    # then nothing was downloaded: the copy is the version in the store
    assert downloads == []


def test_a_local_file_newer_than_its_store_copy_is_kept(store):
    # given a file pulled, then appended to on this host after its last upload (as progress.jsonl is)
    url = join(store, "runs", "r", "progress.jsonl")
    put(url, b'{"step": 1}\n', modified=datetime.now(UTC) - timedelta(hours=1))
    local = pull(url)
    with local.open("ab") as fh:
        fh.write(b'{"step": 2}\n')
    # when it is pulled again
    pull(url)
    # then this host's longer, newer copy is kept
    assert local.read_bytes() == b'{"step": 1}\n{"step": 2}\n'


# --- push --------------------------------------------------------------------------------------------------------


def test_a_pushed_folder_sends_its_completion_markers_last(store, tmp_path, uploads):
    # given a local folder with completion markers and other files, some of them sorting after the markers
    folder = tmp_path / "out"
    files = [
        "dataset.json", "calibration.json", "CHECKPOINT_COMPLETE.json", "final/run.yaml",
        "a.txt", "data/train.arrow", "final/z-weights.bin", "zz/label_map.json",
    ]  # fmt: skip
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(relative)
    # when it is pushed
    sent = push(folder, join(store, "out"))
    # then everything arrived, and every marker was sent after every other file
    names = [p.rsplit("/out/", 1)[1] for p in uploads]
    assert sent == len(files) and sorted(names) == sorted(files)
    markers = [i for i, name in enumerate(names) if name.rsplit("/", 1)[-1] in COMPLETION_MARKERS]
    others = [i for i, name in enumerate(names) if name.rsplit("/", 1)[-1] not in COMPLETION_MARKERS]
    assert len(markers) == 4 and max(others) < min(markers)
    assert cat(join(store, "out", "final", "run.yaml")) == b"final/run.yaml"


def test_a_pushed_folder_leaves_this_hosts_private_files_behind(store, tmp_path):
    # given a folder with checkpoints, logs, an MLflow database and hidden files besides its data
    folder = tmp_path / "run"
    for relative in [
        "final/model.bin", "checkpoints/checkpoint-4/w.bin", "logs/train.log", "mlflow.db", ".lock",
        "final/.model.bin.part-1234",
    ]:  # fmt: skip
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(relative)
    # when it is pushed
    sent = push(folder, join(store, "run"))
    # then only the data went to the store
    fs, root = work_store.store_of(join(store, "run"))
    assert sent == 1
    assert [p.removeprefix(root + "/") for p in fs.find(root)] == ["final/model.bin"]


# --- on_store ----------------------------------------------------------------------------------------------------


class Written(BaseModel):
    report: str
    rows: int


def test_a_task_given_a_store_work_dir_runs_on_its_mapped_copy(store):
    # given a work dir in the store that already holds a large file the task does not need
    put(join(store, "models", "big.bin"), b"x" * 1000)
    seen: list[str] = []

    @on_store
    def write_report(work_dir: WorkDir) -> str:
        seen.append(work_dir)
        return "written"

    # when the task runs on it
    write_report(store)
    # then it got this host's path of the work dir, which exists, and nothing was downloaded into it
    assert seen == [str(local_path(store))]
    assert Path(seen[0]).is_dir()
    assert not (Path(seen[0]) / "models" / "big.bin").exists()


def test_what_a_task_writes_in_a_store_work_dir_is_uploaded_and_returned_as_a_url(store):
    # given a task that writes a report under its work dir and returns its path
    @on_store
    def write_report(work_dir: WorkDir) -> str:
        path = Path(work_dir) / "reports" / "summary.txt"
        path.parent.mkdir(parents=True)
        path.write_text("ok")
        return str(path)

    # when it runs on a store work dir
    returned = write_report(store)
    # then the report is in the store and the task's answer is its store URL
    assert returned == join(store, "reports", "summary.txt")
    assert cat(returned) == b"ok"


def test_a_path_in_a_returned_model_becomes_a_store_url(store):
    # given a task that answers with a pydantic model naming a file it wrote under the work dir
    @on_store
    def write_report(work_dir: WorkDir) -> Written:
        path = Path(work_dir) / "report.txt"
        path.write_text("ok")
        return Written(report=str(path), rows=3)

    # when it runs on a store work dir
    returned = write_report(work_dir=store)
    # then the model names the store URL (other fields unchanged), and the file is there
    assert returned == Written(report=join(store, "report.txt"), rows=3)
    assert in_store(returned.report)


def test_a_store_file_argument_is_pulled_for_the_task(store):
    # given a file in the store
    url = join(store, "datasets", "d", "label_map.json")
    put(url, b'{"a": 0}')
    seen: list[str] = []

    @on_store
    def read_labels(label_map: str) -> str:
        seen.append(label_map)
        return Path(label_map).read_text()

    # when a task is given its URL
    text = read_labels(url)
    # then it read this host's downloaded copy
    assert seen == [str(local_path(url))]
    assert text == '{"a": 0}'


def test_fields_a_task_reads_through_fsspec_stay_urls(store):
    # given URLs passed in fields the task reads itself (the ledger source, the tracking store)
    seen: list[tuple[str, str]] = []

    @on_store
    def ingest(source: NativeUrl, tracking_uri: NativeUrl) -> str:
        seen.append((source, tracking_uri))
        return "done"

    ledger, tracking = join(store, "ledger.csv"), join(store, "mlflow")
    # when the task runs
    ingest(ledger, tracking_uri=tracking)
    # then it got the URLs themselves
    assert seen == [(ledger, tracking)]


def test_a_task_given_only_local_paths_runs_untouched(store, tmp_path):
    # given a local work dir and a task that writes a file in it (whose return would be a URL were it cached)
    seen: list[str] = []

    @on_store
    def write_report(work_dir: WorkDir) -> str:
        seen.append(work_dir)
        path = Path(work_dir) / "report.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ok")
        return str(path)

    local = str(tmp_path / "work")
    # when it runs
    returned = write_report(local)
    # then it got the path as given, and returned its own path, not a URL
    assert seen == [local]
    assert returned == str(tmp_path / "work" / "report.txt")


def test_a_local_path_into_the_cache_passes_through_without_a_store_url_argument(host):
    # given a task given a local path that happens to lie in this host's cache (no store URL among its arguments)
    folder = local_path("memory://elsewhere/work")
    folder.mkdir(parents=True)

    @on_store
    def write_report(work_dir: WorkDir) -> str:
        path = Path(work_dir) / "report.txt"
        path.write_text("ok")
        return str(path)

    # when it runs, then its answer stays the local path it returned (nothing published)
    assert write_report(str(folder)) == str(folder / "report.txt")
    assert not in_store("memory://elsewhere/work/report.txt")


def test_an_output_yet_to_be_written_is_mapped_and_uploaded_with_its_siblings(store):
    # given a task that writes its `out` file and a file beside it
    url = join(store, "exports", "predictions.csv")
    seen: list[str] = []

    @on_store
    def export(out: OutputFile) -> str:
        seen.append(out)
        Path(out).write_text("id,label\n")
        Path(out).with_name("predictions.summary.json").write_text("{}")
        return out

    # when it runs with an output URL that does not exist yet
    returned = export(out=url)
    # then it wrote this host's path, both files are in the store, and it answers with the URL
    assert seen == [str(local_path(url))]
    assert cat(url) == b"id,label\n"
    assert cat(join(store, "exports", "predictions.summary.json")) == b"{}"
    assert returned == url


# --- roles by type, not by name -----------------------------------------------------------------------------------


def test_a_work_dir_under_another_name_is_mapped_by_its_marker(store):
    # given a work dir holding a large file the task does not need, and a task whose work dir is called `root`
    put(join(store, "models", "big.bin"), b"x" * 1000)
    seen: list[str] = []

    @on_store
    def write_report(root: WorkDir) -> str:
        seen.append(root)
        Path(root, "report.txt").write_text("ok")
        return "written"

    # when it runs on the store work dir
    write_report(store)
    # then it got the mapped copy, nothing was downloaded into it, and what it wrote is in the store
    assert seen == [str(local_path(store))]
    assert not (Path(seen[0]) / "models" / "big.bin").exists()
    assert cat(join(store, "report.txt")) == b"ok"


def test_an_optional_marker_is_a_marker(store):
    # given a task whose work dir may be left out, typed `WorkDir | None`
    put(join(store, "models", "big.bin"), b"x" * 1000)
    seen: list[str | None] = []

    @on_store
    def write_report(label: str, where: WorkDir | None = None) -> str:
        seen.append(where)
        return label

    # when it runs on a store work dir
    write_report("a", where=store)
    # then the work dir was mapped, not downloaded
    assert seen == [str(local_path(store))]
    assert not (local_path(store) / "models" / "big.bin").exists()


def test_unmarked_parameters_are_inputs_and_downloaded_whatever_their_names(store):
    # given files and a folder in the store, and a task taking them in unmarked parameters named as an output, a
    # ledger source and a work dir used to be
    put(join(store, "exports", "earlier.csv"), b"id,label\n")
    put(join(store, "in", "ledger.csv"), b"a,b\n")
    put(join(store, "old", "models", "big.bin"), b"x" * 10)
    seen: list[tuple[str, str, str]] = []

    @on_store
    def read(out: str, source: str, work_dir: str) -> str:
        seen.append((out, source, work_dir))
        return "read"

    # when the task is given their URLs
    read(join(store, "exports", "earlier.csv"), join(store, "in", "ledger.csv"), join(store, "old"))
    # then the names played no part: each is this host's downloaded copy, the folder's files included
    out, source, work_dir = seen[0]
    assert (out, source, work_dir) == tuple(
        str(local_path(join(store, p))) for p in ("exports/earlier.csv", "in/ledger.csv", "old")
    )
    assert (Path(out).read_bytes(), Path(source).read_bytes()) == (b"id,label\n", b"a,b\n")
    assert Path(work_dir, "models", "big.bin").read_bytes() == b"x" * 10


def test_a_native_url_stays_a_url_whatever_it_is_called(store):
    # given a ledger file in the store and a task that reads it through fsspec itself, in a parameter named `path`
    url = join(store, "in", "ledger.csv")
    put(url, b"a,b\n")
    seen: list[str] = []

    @on_store
    def ingest(path: NativeUrl) -> str:
        seen.append(path)
        return "done"

    # when the task runs
    ingest(url)
    # then it got the URL itself, and nothing was downloaded
    assert seen == [url]
    assert not local_path(url).exists()


class Declared(BaseModel):
    """Fields whose roles come from their types, their names chosen to mislead."""

    out: str  # unmarked: downloaded
    data: WorkDir | None = None  # mapped
    work_dir: NativeUrl  # left as a URL
    inputs: list[NativeUrl] = []  # left as URLs


def test_model_fields_are_treated_as_their_types_declare(store):
    # given a model whose fields name a store file, a work dir and ledger files, in misleading field names
    put(join(store, "labels.json"), b"{}")
    put(join(store, "models", "big.bin"), b"x" * 1000)
    ledgers = [join(store, "in", "a.csv"), join(store, "in", "b.csv")]
    given = Declared(out=join(store, "labels.json"), data=store, work_dir=ledgers[0], inputs=ledgers)
    seen: list[Declared] = []

    @on_store
    def use(declared: Declared) -> str:
        seen.append(declared)
        return "done"

    # when a task is given the model
    use(given)
    # then the unmarked file was downloaded, the work dir mapped (nothing in it downloaded), the URLs left alone
    assert seen == [
        Declared(out=str(local_path(join(store, "labels.json"))), data=str(local_path(store)), work_dir=ledgers[0],
                 inputs=ledgers)
    ]  # fmt: skip
    assert Path(seen[0].out).read_bytes() == b"{}"
    assert not (local_path(store) / "models" / "big.bin").exists()


def test_a_url_record_keeps_the_urls_it_names_and_an_unmarked_dict_is_downloaded(store):
    # given a file in the store named in a record (a report, logged parameters) and in an unmarked dict
    url = join(store, "in", "ledger.csv")
    put(url, b"a,b\n")
    seen: list[tuple[dict, dict]] = []

    @on_store
    def log(record: UrlRecord, plain: dict) -> str:
        seen.append((record, plain))
        return "done"

    # when a task is given both, under keys that used to decide
    log({"files": [{"url": url}], "work_dir": store}, {"url": url})
    # then the record is as given, and the unmarked dict's file was downloaded, its key notwithstanding
    assert seen == [({"files": [{"url": url}], "work_dir": store}, {"url": str(local_path(url))})]


def test_roles_are_read_through_optional_unions_and_containers():
    # given annotations that wrap a marker / then the marker is found; unmarked types have none
    assert role_of(WorkDir | None) is StoreRole.WORK_DIR
    assert role_of(list[NativeUrl] | None) is StoreRole.NATIVE
    assert role_of(dict[str, OutputFile]) is StoreRole.OUTPUT
    assert role_of(str) is None and role_of(dict) is None and role_of(None) is None
    # and one value declared two ways is an error
    with pytest.raises(TypeError, match="two store roles"):
        role_of(WorkDir | NativeUrl)


def test_a_task_reads_its_parameters_roles_once_when_wrapped():
    # given a task with marked and unmarked parameters
    def task(root: WorkDir, ledger: NativeUrl | None, target: OutputFile, model: str, count: int = 1) -> str:
        return root

    # when it is wrapped / then its roles are known, by parameter
    expected = {
        "root": StoreRole.WORK_DIR, "ledger": StoreRole.NATIVE, "target": StoreRole.OUTPUT, "model": None,
        "count": None,
    }  # fmt: skip
    assert parameter_roles(task) == expected
    assert on_store(task).store_roles == expected


def test_fetching_a_field_a_model_does_not_have_is_an_error():
    # given a model, when localized with `only` naming a field it lacks (a renamed field), then it says so
    with pytest.raises(ParameterError, match="no field model_path"):
        localize(Declared(out="x", work_dir="y"), frozenset({"model_path"}))


def test_fetching_only_some_fields_leaves_the_others_urls(store):
    # given a model naming two files in the store
    put(join(store, "a.bin"), b"a")
    put(join(store, "b.bin"), b"b")
    given = Manifest(data=join(store, "a.bin"), rows=1)
    # when only `data` is fetched, then it is this host's copy; with nothing to fetch, it stays the URL
    assert localize(given, frozenset({"data"})).data == str(local_path(join(store, "a.bin")))
    assert localize(Manifest(data=join(store, "b.bin"), rows=1), frozenset()).data == join(store, "b.bin")
    assert not local_path(join(store, "b.bin")).exists()


# --- portable / localize ------------------------------------------------------------------------------------------


class Manifest(BaseModel):
    data: str
    rows: int


def test_a_model_written_portable_reads_back_on_another_host(store, host):
    # given a file in host A's copy of the store, pushed, and a model naming it
    url = join(store, "datasets", "d", "train.arrow")
    local_a = local_path(url)
    local_a.parent.mkdir(parents=True)
    local_a.write_bytes(b"rows")
    push(local_a, url)
    written = portable(Manifest(data=str(local_a), rows=4))
    # when host B localizes what host A wrote
    root_b = host("b")
    read = localize(written)
    # then host A wrote the URL, and host B reads its own path, with the file downloaded there
    assert written == Manifest(data=url, rows=4)
    assert read.data == str(local_path(url))
    assert Path(read.data).is_relative_to(root_b)
    assert Path(read.data).read_bytes() == b"rows"


def test_portable_leaves_paths_outside_the_cache_alone(host, tmp_path):
    # given a model naming a path outside the cache, when it is made portable, then it is unchanged
    model = Manifest(data=str(tmp_path / "local.arrow"), rows=1)
    assert portable(model) == model


def test_a_resolved_path_into_a_symlinked_cache_is_written_as_its_url(tmp_path, monkeypatch):
    # given a host whose cache is reached through a symlink (a home dir on a linked mount), and a task's path into
    # it written resolved, as tasks write their run folders
    (tmp_path / "disk").mkdir()
    (tmp_path / "cache-link").symlink_to(tmp_path / "disk")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache-link"))
    resolved = local_path("memory://bucket/work/runs/r").resolve()
    assert remote_url(resolved) == "memory://bucket/work/runs/r"
    # when it is made portable, then another host reads the store URL, not this host's disk path
    assert portable(Manifest(data=str(resolved), rows=1)).data == "memory://bucket/work/runs/r"


def test_a_dataset_manifest_written_on_one_host_is_read_on_another(store, host):
    from contracts.dataset import MANIFEST_FILE, TokenizedDataset, read_tokenized_dataset

    # given a tokenized dataset prepared on host A in its copy of the store, manifest written, folder pushed
    url = join(store, "datasets", "tokenized-abc")
    folder = local_path(url)
    (folder / "data" / "train").mkdir(parents=True)
    (folder / "data" / "train" / "data-00000.arrow").write_bytes(b"arrow")
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer.json").write_text("{}")
    (folder / "label_map.json").write_text('{"0": "830"}')
    dataset = TokenizedDataset(
        path=str(folder / "data"), label_map=str(folder / "label_map.json"), tokenizer=str(folder / "tokenizer"),
        num_labels=1, rows={"train": 1}, pad_token="[PAD]", pad_added=False, stats={"max_length": 8},
    )  # fmt: skip
    dataset.write_manifest()
    push(folder, url)
    assert cat(join(url, MANIFEST_FILE)).count(b"memory://") == 3  # written as URLs, not host A's paths
    # when host B reads the dataset by its URL
    root_b = host("b")
    read = read_tokenized_dataset(url)
    # then every path is host B's, and the files are there
    for path in (read.path, read.label_map, read.tokenizer):
        assert Path(path).is_relative_to(root_b)
    assert Path(read.path, "train", "data-00000.arrow").read_bytes() == b"arrow"
    assert Path(read.label_map).read_text() == '{"0": "830"}'
    assert Path(read.tokenizer, "tokenizer.json").is_file()
    assert (read.num_labels, read.rows, read.pad_token) == (1, {"train": 1}, "[PAD]")
