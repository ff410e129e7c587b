"""Caches that never lie: --refresh-cache works, keys cover the code a task runs (and no more), conf files count."""

import shutil
import uuid
from pathlib import Path

import pytest

from flows.cli import main
from ledger.caching import conf_files, task_code
from ledger.code_closure import PACKAGES, ROOT, code_closure, code_fingerprint
from params.prepare import NormalizeParams, PreprocessParams
from tests.conftest import HEADER, ROWS, write_csv


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The project's packages copied, so a test can change a file without touching the checkout."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def fingerprint(root: Path, module_file: str) -> str:
    code_fingerprint.cache_clear()
    return code_fingerprint(str(root / module_file), str(root))


def test_training_key_covers_the_training_program(tree_copy):
    # given the run_training task's code: tasks/train.py plus the program it launches
    before = fingerprint(tree_copy, "tasks/train.py") + fingerprint(tree_copy, "training/__main__.py")
    # when a helper of the training program changes (the class-weight code)
    weights = tree_copy / "training" / "weights.py"
    weights.write_text(weights.read_text() + "\n# a fix\n")
    after = fingerprint(tree_copy, "tasks/train.py") + fingerprint(tree_copy, "training/__main__.py")
    # then the key's code part changes
    assert before != after


def test_run_training_names_the_program_it_launches():
    # given the real task / when its code fingerprint is taken / then it covers training/weights.py
    from tasks.train import run_training

    assert "training.__main__" in run_training.cache_policy.programs
    files = {p.relative_to(ROOT).as_posix() for p in code_closure(ROOT / "training" / "__main__.py")}
    assert {"training/weights.py", "training/trainer.py", "training/model.py"} <= files
    assert task_code(str(ROOT / "tasks/train.py"), ("training.__main__",)) != task_code(str(ROOT / "tasks/train.py"))


def test_a_stage_key_ignores_code_the_stage_does_not_run(tree_copy):
    # given the cleaning stage's code
    before = fingerprint(tree_copy, "tasks/preprocess.py")
    # when the prediction stage and the training program change
    for name in ("tasks/predict.py", "training/weights.py"):
        path = tree_copy / name
        path.write_text(path.read_text() + "\n# unrelated\n")
    # then the cleaning stage keeps its key
    assert fingerprint(tree_copy, "tasks/preprocess.py") == before
    # but a helper it calls counts
    cells = tree_copy / "ledger" / "cells.py"
    cells.write_text(cells.read_text() + "\n# a parsing fix\n")
    assert fingerprint(tree_copy, "tasks/preprocess.py") != before


def test_the_packages_a_key_follows_are_the_packages_the_project_installs():
    # given pyproject's package list / then the code closure follows exactly those (a forgotten one would let a
    # change in it keep an old cached result)
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert sorted(name.rstrip("*") for name in include["include"]) == sorted(PACKAGES)


def test_a_change_in_the_reports_keeps_the_tokenized_dataset(tree_copy):
    # given the tokenizing stage's code / when the preparation reports change / then its key stays
    before = fingerprint(tree_copy, "tasks/tokenize.py")
    report = tree_copy / "tasks" / "report.py"
    report.write_text(report.read_text() + "\n# a new table\n")
    assert fingerprint(tree_copy, "tasks/tokenize.py") == before


def test_conf_files_named_by_parameters_are_hashed_by_content(tmp_path):
    # given value maps outside conf/, named by the normalize section
    maps = tmp_path / "maps.yaml"
    maps.write_text("payment_method: {unmapped_to: null, values: {}}\n")
    params = PreprocessParams(normalize=NormalizeParams(value_maps=str(maps)))
    before = conf_files([params])
    # when the file's content changes / then its hash in the key changes
    maps.write_text("payment_method: {unmapped_to: other, values: {}}\n")
    assert conf_files([params]) != before and str(maps) in before


def test_a_file_input_is_hashed_by_content(tmp_path):
    from ledger.caching import file_fingerprint

    # given a corrections file an accountant edits in place
    path = tmp_path / "reviewed.csv"
    path.write_text("file,line,digest,code\na.csv,2,1,830\n")
    before = file_fingerprint(str(path))
    # when it is saved again with another code, then its fingerprint (in the stage's key) changes
    path.write_text("file,line,digest,code\na.csv,2,1,811\n")
    assert file_fingerprint(str(path)) != before
    # and no file given, or none there, gives none (the task itself reports a missing file)
    assert file_fingerprint(None) is None and file_fingerprint(str(tmp_path / "gone.csv")) is None


def stage_files(work: Path, stage: str) -> dict[str, int]:
    """A stage's output files and their modification times (content-addressed: a re-run replaces the file)."""
    return {p.name: p.stat().st_mtime_ns for p in (work / "stages" / stage).glob("data-*.parquet")}


@pytest.fixture
def cli_ledger(tmp_path: Path) -> list[str]:
    """`prepare` arguments for a ledger no earlier test has cached."""
    unique = f"2024-04-01,상점{uuid.uuid4().hex[:8]},,용지,9900,,,카드,830,소모품비"
    ledger = write_csv(tmp_path / "ledger.csv", [HEADER, *ROWS, unique])
    return ["prepare", "--input", str(ledger), "--work-dir", str(tmp_path / "work")]


@pytest.mark.slow  # two CLI runs of the whole prepare (~13 s)
@pytest.mark.usefixtures("prefect_harness")
def test_refresh_cache_from_the_cli_runs_every_stage_again(cli_ledger, tmp_path):
    # given a ledger prepared once through the CLI, and a second run that comes from the cache
    work = tmp_path / "work"
    assert main(cli_ledger) == 0
    first = stage_files(work, "clean")
    assert main(cli_ledger) == 0 and stage_files(work, "clean") == first
    # when it runs with --refresh-cache
    assert main([*cli_ledger, "--refresh-cache"]) == 0
    # then the stage ran again: same content (same name), written anew
    again = stage_files(work, "clean")
    assert again.keys() == first.keys() and again != first


@pytest.mark.usefixtures("prefect_harness")
def test_a_cached_stage_whose_output_is_gone_runs_again(cli_ledger, tmp_path):
    # given a prepared ledger whose cleaning output was deleted behind the cache's back
    work = tmp_path / "work"
    assert main(cli_ledger) == 0
    first = stage_files(work, "clean")
    for name in first:
        (work / "stages" / "clean" / name).unlink()
    # when the same run comes again (no refresh asked)
    assert main(cli_ledger) == 0
    # then the stage ran again instead of handing on a path to nothing, and the later stages stayed cached
    assert stage_files(work, "clean").keys() == first.keys()


def test_weights_replaced_at_the_same_path_change_the_training_key(tmp_path):
    import os

    from tasks.train import config_digest

    # given a run.yaml and a base model folder with its weights
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text("model_path: m\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    weights = model / "model.safetensors"
    weights.write_bytes(b"\x00" * 4096)
    before = config_digest(run_yaml, None, (str(model),))
    # when the weights are replaced by others of the same size, at the same path, with the same mtime
    stat = weights.stat()
    weights.write_bytes(b"\x01" * 4096)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # then the key that run_training's cache stands on changes (same run.yaml, same folder path)
    assert config_digest(run_yaml, None, (str(model),)) != before
    # and a warm-start parent's weights count as well
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "adapter_model.safetensors").write_bytes(b"\x02" * 10)
    assert config_digest(run_yaml, None, (str(model), str(parent))) != config_digest(run_yaml, None, (str(model),))


def test_an_optional_output_path_that_is_gone_is_missing(tmp_path):
    # given a misposting report (its files typed OutputPath | None) whose xlsx was deleted
    from ledger.caching import missing_outputs
    from tasks.mispostings import MispostingReport

    table, xlsx = tmp_path / "suspected.parquet", tmp_path / "suspected.xlsx"
    table.write_bytes(b"x")
    report = MispostingReport(lines=10, table=str(table), xlsx=str(xlsx))
    # when its outputs are checked, then the gone file is named and the unset field is not
    assert missing_outputs(report) == [str(xlsx)]
    assert missing_outputs(MispostingReport(lines=10)) == []
