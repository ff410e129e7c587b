"""Batch prediction pieces: top-k over used slots, formula escaping, run-folder and label-map checks."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.run_folder import FINAL_FILES
from ledger.spreadsheet import escape_formulas
from scoring.predictor import top_k
from scoring.review import label_check
from tasks.predict import RunFolderError, load_run
from training.config import RunConfig, write_run_config


def test_top_k_is_sorted_sums_to_at_most_one_and_skips_unused_slots():
    # given logits where an unused slot (2) has the highest score
    logits = np.array([[1.0, 3.0, 9.0, 2.0], [0.5, 0.1, 9.0, 0.2]])
    used = np.array([True, True, False, True])
    # when the top 2 are taken
    ids, probs = top_k(logits, used, 2)
    # then slot 2 never appears, probabilities are sorted and sum to <= 1
    assert (ids != 2).all() and ids[0].tolist() == [1, 3]
    assert (np.diff(probs, axis=1) <= 0).all() and (probs.sum(axis=1) <= 1 + 1e-12).all()


def test_top_k_never_asks_for_more_than_the_used_slots():
    ids, probs = top_k(np.zeros((1, 5)), np.array([True, False, False, False, True]), 3)
    assert ids.shape == (1, 2) and probs.sum() == pytest.approx(1.0)


def test_formula_cells_are_escaped_but_numbers_are_not():
    # given cells a spreadsheet would run as formulas, and plain (negative) numbers
    df = pd.DataFrame(
        {"v": ["=SUM(A1:A9)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "-1,200", "1200", "쿠팡", None]}
    )
    # when escaped
    out = escape_formulas(df)["v"].tolist()
    # then formulas get a leading quote, numbers and text stay, missing stays missing
    assert out[:5] == ["'=SUM(A1:A9)", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "'\tx"]
    assert out[5:8] == ["-1,200", "1200", "쿠팡"] and pd.isna(out[8])


def test_label_check_tells_match_differs_unknown_and_leaves_unlabelled_rows_blank():
    # given codes from a ledger (one never trained on, one missing) and the top predictions
    given = pd.Series(["830", "811", "999", None], index=[10, 11, 12, 13])
    top = pd.Series(["830", "830", "830", "811"])
    # when checked against the model's codes
    check = label_check(given, top, {"830", "811"})
    # then each row says which, and a row without a code has no check
    assert check[:3].tolist() == ["match", "differs", "unknown to the model"] and pd.isna(check[3])


def fake_final(tmp_path: Path, num_slots: int = 5, head_labels: int = 5) -> Path:
    """A run folder with the files predict needs (weights header only: the check reads no tensors)."""
    from safetensors.numpy import save_file

    final = tmp_path / "run" / "final"
    (final / "head_config").mkdir(parents=True)
    save_file(
        {"base_model.model.score.modules_to_save.weight": np.zeros((head_labels, 4), dtype="float32")},
        str(final / "adapter_model.safetensors"),
    )
    (final / "adapter_config.json").write_text("{}")
    (final / "tokenizer_config.json").write_text("{}")
    (final / "head_config" / "config.json").write_text(json.dumps({"num_labels": head_labels}))
    (final / "label_map.json").write_text(
        json.dumps({"num_slots": num_slots, "dummy_prefix": "__unused_", "labels": []})
    )
    run = tmp_path / "run"
    config = RunConfig(
        model_path="m",
        dataset_path=f"{tmp_path}/ds/data",
        label_map=str(final / "label_map.json"),
        tokenizer_path=str(final),
        output_dir=str(run),
        progress_file=str(run / "progress.jsonl"),
    )
    write_run_config(config, final / "run.yaml")
    (tmp_path / "run" / "prepare_params.json").write_text(json.dumps({"input": "x"}))
    return final


def test_complete_run_folder_loads(tmp_path):
    run = load_run.fn(str(fake_final(tmp_path).parent))
    assert run.label_map.num_slots == 5 and run.prepare_params.input == "x"


@pytest.mark.parametrize("missing", FINAL_FILES)
def test_incomplete_run_folder_names_what_is_missing(tmp_path, missing):
    # given a run folder without one of its files
    final = fake_final(tmp_path)
    (final / missing).unlink()
    # when loaded, then the error names the file
    with pytest.raises(RunFolderError, match="incomplete run folder.*" + Path(missing).name):
        load_run.fn(str(final))


def test_label_map_that_does_not_match_the_head_is_an_error(tmp_path):
    # given an adapter with a 5-output head and a label map of 7 slots
    final = fake_final(tmp_path, num_slots=7, head_labels=5)
    # when loaded, then the mismatch is named
    with pytest.raises(RunFolderError, match="label map has 7 slots but the head has 5 outputs"):
        load_run.fn(str(final))


def test_run_without_saved_data_parameters_is_an_error(tmp_path):
    final = fake_final(tmp_path)
    (final.parent / "prepare_params.json").unlink()
    shutil.rmtree(final.parent.parent / "ds", ignore_errors=True)
    with pytest.raises(RunFolderError, match="prepare_params.json"):
        load_run.fn(str(final))
