"""Which checkpoint the training program resumes from: none, the newest complete one, or a given folder."""

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from training.checkpoints import CheckpointError, checkpoint_problem, list_checkpoints, resolve_resume

LOGGER_NAME = "training.checkpoints"


def hf_checkpoint(root: Path, step: int) -> Path:
    """A complete Hugging Face checkpoint: trainer state, adapter weights, optimizer state."""
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    save_file({"w": torch.zeros(4)}, str(folder / "adapter_model.safetensors"))
    (folder / "optimizer.pt").write_bytes(b"\x00optimizer")
    return folder


def deepspeed_checkpoint(root: Path, step: int) -> Path:
    """A complete DeepSpeed-style checkpoint: no optimizer.pt, `latest` naming a global_stepN folder."""
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    save_file({"w": torch.zeros(4)}, str(folder / "adapter_model.safetensors"))
    (folder / "latest").write_text("global_step4")
    (folder / "global_step4").mkdir()
    return folder


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == LOGGER_NAME]


@pytest.mark.parametrize("resume_from", [None, "none", ""])
def test_no_resume_gives_none(tmp_path, resume_from):
    # given: a complete checkpoint that must not be picked
    hf_checkpoint(tmp_path, 5)
    # when / then
    assert resolve_resume(resume_from, tmp_path) is None


@pytest.mark.parametrize("make", [hf_checkpoint, deepspeed_checkpoint])
def test_complete_checkpoints_have_no_problem(tmp_path, make):
    # given / when / then: both layouts count as complete
    assert checkpoint_problem(make(tmp_path, 3)) is None


def test_latest_picks_the_newest_complete_checkpoint(tmp_path):
    # given: an HF checkpoint at 4 and a DeepSpeed one at 8
    hf_checkpoint(tmp_path, 4)
    newest = deepspeed_checkpoint(tmp_path, 8)
    # when / then
    assert resolve_resume("latest", tmp_path) == str(newest)


def corrupt_truncated_weights(folder: Path) -> None:
    truncate(folder / "adapter_model.safetensors", 0.5)


def corrupt_cut_off_data(folder: Path) -> None:
    # the header is intact, only the tensor bytes at the end are missing
    path = folder / "adapter_model.safetensors"
    path.write_bytes(path.read_bytes()[:-4])


def corrupt_state(folder: Path) -> None:
    (folder / "trainer_state.json").write_text("{not json")


def corrupt_latest(folder: Path) -> None:
    (folder / "latest").write_text("global_step99")


def corrupt_no_weights(folder: Path) -> None:
    (folder / "adapter_model.safetensors").unlink()


def corrupt_no_optimizer(folder: Path) -> None:
    (folder / "latest").unlink()


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        (corrupt_truncated_weights, "truncated or corrupt"),
        (corrupt_cut_off_data, "truncated or corrupt"),
        (corrupt_state, "trainer_state.json"),
        (corrupt_latest, "'global_step99' missing"),
        (corrupt_no_weights, "no weights"),
        (corrupt_no_optimizer, "no optimizer state"),
    ],
)
def test_latest_skips_a_corrupt_newest_checkpoint_with_a_warning(tmp_path, caplog, corrupt, problem):
    # given: a complete checkpoint-10 and a newer checkpoint-20 broken in one way
    previous = hf_checkpoint(tmp_path, 10)
    newest = deepspeed_checkpoint(tmp_path, 20)
    corrupt(newest)
    # when
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        resolved = resolve_resume("latest", tmp_path)
    # then: the previous complete one, and a warning naming the skipped folder and why
    assert resolved == str(previous)
    assert any("checkpoint-20" in m and problem in m for m in warnings_of(caplog))


def test_latest_without_checkpoints_starts_from_scratch_saying_so_without_a_warning(tmp_path, caplog):
    # given: an empty folder and one that does not exist
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        caplog.clear()
        # when
        with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
            resolved = resolve_resume("latest", folder)
        # then: a first start is not a problem (info, not a warning)
        assert resolved is None
        assert not warnings_of(caplog)
        assert any("no complete checkpoint" in r.getMessage() for r in caplog.records)


def test_latest_with_only_incomplete_checkpoints_gives_none(tmp_path, caplog):
    # given
    corrupt_state(hf_checkpoint(tmp_path, 3))
    # when
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        resolved = resolve_resume("latest", tmp_path)
    # then: one warning for the skipped folder, one for starting from scratch
    assert resolved is None
    messages = warnings_of(caplog)
    assert any("skipping" in m and "checkpoint-3" in m for m in messages)
    assert any("no complete checkpoint" in m for m in messages)


def test_a_given_complete_path_is_returned(tmp_path):
    # given
    folder = deepspeed_checkpoint(tmp_path, 7)
    # when / then
    assert resolve_resume(str(folder), tmp_path) == str(folder)


def test_a_missing_path_lists_the_available_checkpoints(tmp_path):
    # given: a complete checkpoint-5 and an incomplete checkpoint-9
    hf_checkpoint(tmp_path, 5)
    corrupt_truncated_weights(hf_checkpoint(tmp_path, 9))
    # when
    with pytest.raises(CheckpointError) as caught:
        resolve_resume(str(tmp_path / "checkpoint-77"), tmp_path)
    # then: the message names the request and every checkpoint, newest first, marking the incomplete one
    message = str(caught.value)
    assert "checkpoint-77" in message and "no such checkpoint" in message
    assert "checkpoint-9 (incomplete), checkpoint-5" in message
    assert "checkpoint-5 (incomplete)" not in message


def test_a_missing_path_with_no_checkpoints_says_none(tmp_path):
    # given / when
    with pytest.raises(CheckpointError, match="Available in .*: none"):
        resolve_resume(str(tmp_path / "nope"), tmp_path)


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        (corrupt_truncated_weights, "weights file truncated or corrupt"),
        (corrupt_state, "trainer_state.json missing or unreadable"),
        (corrupt_latest, "DeepSpeed state folder 'global_step99' missing"),
    ],
)
def test_a_given_incomplete_path_names_the_problem(tmp_path, corrupt, problem):
    # given
    folder = deepspeed_checkpoint(tmp_path, 12)
    corrupt(folder)
    # when
    with pytest.raises(CheckpointError) as caught:
        resolve_resume(str(folder), tmp_path)
    # then
    message = str(caught.value)
    assert "incomplete checkpoint" in message and problem in message
    assert "checkpoint-12 (incomplete)" in message


def test_list_checkpoints_is_numeric_newest_first_and_ignores_other_folders(tmp_path):
    # given: checkpoint-9/-10/-2, HF's temporary save folder, a file with a checkpoint name, other folders
    for step in (9, 10, 2):
        hf_checkpoint(tmp_path, step)
    (tmp_path / "tmp-checkpoint-12").mkdir()
    (tmp_path / "checkpoint-13").write_text("a file, not a folder")
    (tmp_path / "checkpoint-final").mkdir()
    (tmp_path / "runs").mkdir()
    # when
    names = [p.name for p in list_checkpoints(tmp_path)]
    # then: 10 before 9 (numeric, not text order)
    assert names == ["checkpoint-10", "checkpoint-9", "checkpoint-2"]


def test_list_checkpoints_of_a_missing_folder_is_empty(tmp_path):
    # given / when / then
    assert list_checkpoints(tmp_path / "missing") == []
