"""The baseline kept as a folder `predict` can use: complete, calibrated on valid, loaded like a run, and refused
with the missing file named when it is not complete."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.baseline_folder import BASELINE_FILES, BaselineFolder
from contracts.calibration import Calibration
from contracts.label_map import LabelMap
from contracts.train_profile import read_train_vendors, write_train_vendors
from params.baseline import BaselineParams
from params.prepare import PrepareParams, read_prepare_params
from scoring.baseline_model import load_fitted
from scoring.predictor import Predictor
from tasks.baseline import train_baseline
from tasks.predict import RunFolderError, load_run
from tests.test_baseline import tiny_inputs

# Per account: 2 test, 4 valid, 8 train rows.
SPLITS = ["test"] * 2 + ["valid"] * 4 + ["train"] * 8
NEW_TEXTS = ["적요: 인터넷 요금 KT 99", "적요: 야근 식대 99", "적요: 복사용지 99", "적요: 토너 식대 요금"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One baseline, trained once for the module, with the train split's vendors (tests copy it to break it)."""
    work_dir = str(tmp_path_factory.mktemp("baseline") / "work")
    texts, labels = tiny_inputs(work_dir, SPLITS)
    vendors = write_train_vendors(pd.Series(["(주)쿠팡", "KT"]), tmp_path_factory.mktemp("vendors"))
    prepare = PrepareParams(input=f"{work_dir}/ledger.csv", work_dir=work_dir, model="models/some-llm")
    report = train_baseline.fn(texts, labels, BaselineParams(), work_dir, prepare, str(vendors.parent), 0.9)
    return report, texts


def test_training_writes_a_complete_baseline_folder(trained):
    # given a baseline trained on train, calibrated on valid, with the train vendors
    report, texts = trained
    folder = BaselineFolder(root=report.model_dir)
    # then it sits under baselines/, named after the texts' fingerprint, with every file predict needs
    assert Path(folder.root).name == f"baseline-{texts.data.fingerprint[:12]}"
    assert Path(folder.root).parent.name == "baselines"
    assert folder.missing_files() == []
    assert BaselineFolder.holds_baseline(folder.root)
    # and the label map and train vendors are copies, the prepare parameters carry no model (texts, not tokens)
    assert LabelMap.read(folder.label_map).code_to_id() == {"811": 0, "814": 1, "830": 3}
    assert read_train_vendors(folder.root) == {"쿠팡", "kt"}
    assert read_prepare_params(folder.prepare_params).model is None
    # and the reports are inside the folder
    assert Path(report.report_dir) == folder.reports and Path(report.per_class_csv).is_file()


def test_calibration_file_has_a_temperature_and_a_threshold_fitted_on_valid(trained):
    # given the trained baseline
    report, _ = trained
    # when its calibration.json is read back
    calibration = Calibration.read(report.model_dir)
    raw = json.loads((Path(report.model_dir) / "calibration.json").read_text(encoding="utf-8"))
    # then it is the report's, for the baseline, at the target it was trained for
    assert calibration == report.calibration
    assert calibration.model == "baseline" and calibration.target_accuracy == 0.9
    assert raw["temperature"] > 0 and np.isfinite(raw["temperature"])
    # and valid (12 rows, three easy accounts) reached the target, so some lines are coded automatically
    assert 0 < calibration.threshold <= 1 and calibration.automates
    assert calibration.valid.rows == 12 and calibration.test.rows == 6
    assert calibration.valid.coverage > 0


def test_load_run_takes_the_baseline_folder(trained):
    # given the trained baseline folder
    report, _ = trained
    # when predict checks it
    run = load_run.fn(report.model_dir)
    # then it is a baseline, with its label map, calibration and data parameters
    assert run.kind == "baseline" and run.model_dir == report.model_dir
    assert run.label_map.num_slots == 6 and len(run.label_map.labels) == 3
    assert run.calibration == report.calibration
    assert run.prepare_params.work_dir == str(Path(report.model_dir).parent.parent)


def test_predictor_gives_calibrated_top_k_that_agree_with_the_model(trained):
    # given the trained baseline and texts it never saw
    report, _ = trained
    predictor = Predictor.open(report.model_dir)
    # when the top 3 are asked for
    ids, probs = predictor.predict(NEW_TEXTS, 3)
    # then each row has 3 used slots, best first, probabilities that sum to at most 1
    assert ids.shape == probs.shape == (len(NEW_TEXTS), 3)
    assert set(ids.ravel()) <= {0, 1, 3}
    assert (np.diff(probs, axis=1) <= 0).all() and (probs.sum(axis=1) <= 1 + 1e-9).all()
    # and the top-1 is what the fitted pipeline itself predicts (temperature scaling keeps the order)
    model = load_fitted(report.model_dir)
    assert ids[:, 0].tolist() == model.predict(NEW_TEXTS).tolist()
    assert ids[:3, 0].tolist() == [1, 0, 3]
    # and the frame names them by code and name, with the threshold from calibration.json
    frame = predictor.frame(ids, probs)
    assert frame["pred1_code"].tolist()[:3] == ["814", "811", "830"]
    assert frame["pred1_name"].tolist()[0] == "통신비"
    assert predictor.threshold == report.calibration.threshold


@pytest.mark.parametrize("missing", ["calibration.json", "label_map.json", "prepare_params.json"])
def test_incomplete_baseline_folder_names_the_missing_file(trained, tmp_path, missing):
    # given a copy of the baseline folder without one of its files
    import shutil

    report, _ = trained
    broken = tmp_path / "baseline-broken"
    shutil.copytree(report.model_dir, broken)
    (broken / missing).unlink()
    assert missing in BASELINE_FILES
    # when predict checks it, then it refuses, naming the file
    with pytest.raises(RunFolderError, match=rf"incomplete baseline folder, missing \['{missing}'\]"):
        load_run.fn(str(broken))
