"""No model file runs code when loaded: the baseline is arrays + JSON, the MLflow model is logged from code, and a
tampered file (a pickle in place of the arrays, a pickled python_model, a pickle beside the weights) is refused
with the file named. The registered model decides auto / review exactly as `predict` does (Predictor.classify)."""

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.run_folder import RunFolderError
from params.baseline import BaselineParams
from params.prepare import PrepareParams
from scoring.baseline_model import BaselineFileError, load_fitted, save_fitted
from scoring.predictor import Predictor, trained_max_length
from scoring.safe_files import UnsafeModelError, check_no_pickles
from tasks.baseline import fit_baseline, train_baseline
from tests.test_baseline import tiny_inputs
from tests.test_baseline_folder import NEW_TEXTS, SPLITS

TEXTS = ["적요: 인터넷 요금 KT", "적요: 야근 식대", "적요: 복사용지 구입", "적요: 토너 교체"] * 6
LABELS = [1, 0, 3, 3] * 6


class Planted:
    """A pickle payload: unpickling it writes a file (what a malicious model file would do, harmlessly)."""

    def __init__(self, mark: Path):
        self.mark = mark

    def __reduce__(self):
        return (Path.write_text, (self.mark, "code ran"))


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory):
    """A calibrated baseline folder with train vendors, trained once for the module."""
    from contracts.train_profile import write_train_vendors

    work_dir = str(tmp_path_factory.mktemp("safe") / "work")
    texts, labels = tiny_inputs(work_dir, SPLITS)
    vendors = write_train_vendors(pd.Series(["(주)쿠팡", "KT"]), tmp_path_factory.mktemp("vendors"))
    prepare = PrepareParams(input=f"{work_dir}/ledger.csv", work_dir=work_dir, model="models/some-llm")
    return train_baseline.fn(texts, labels, BaselineParams(), work_dir, prepare, str(vendors.parent), 0.9).model_dir


def test_the_baseline_kept_as_arrays_predicts_as_the_fitted_pipeline(tmp_path):
    # given a fitted TF-IDF + logistic regression pipeline
    model = fit_baseline(TEXTS, LABELS, BaselineParams(max_df=1.0))
    # when it is saved as arrays + JSON and rebuilt
    written = save_fitted(model, tmp_path)
    rebuilt = load_fitted(tmp_path)
    # then nothing written is a pickle, and the rebuilt pipeline gives the same probabilities on texts it never saw
    assert sorted(p.name for p in written) == ["baseline.json", "baseline.npz"]
    check_no_pickles(tmp_path)
    np.testing.assert_allclose(rebuilt.predict_proba(NEW_TEXTS), model.predict_proba(NEW_TEXTS), rtol=1e-6)
    assert rebuilt.classes_.tolist() == [0, 1, 3]


def test_a_pickle_in_place_of_the_baseline_arrays_is_refused_without_running(tmp_path):
    # given a saved baseline whose arrays file was replaced by a pickle that writes a file when loaded
    save_fitted(fit_baseline(TEXTS, LABELS, BaselineParams(max_df=1.0)), tmp_path)
    mark = tmp_path / "pwned.txt"
    np.save(tmp_path / "payload.npy", np.array([Planted(mark)], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "baseline.npz", idf=np.array([Planted(mark)], dtype=object))  # np.savez pickles objects
    # when it is loaded / then it is refused, naming the file, and the payload never ran
    with pytest.raises(BaselineFileError, match="baseline.npz: not the baseline's arrays"):
        load_fitted(tmp_path)
    assert not mark.exists()


def test_a_baseline_settings_file_that_names_code_is_refused(tmp_path):
    # given a saved baseline whose settings ask for an analyzer that is not one of sklearn's names
    save_fitted(fit_baseline(TEXTS, LABELS, BaselineParams(max_df=1.0)), tmp_path)
    settings = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    settings["vectorizer"]["analyzer"] = "os.system"
    (tmp_path / "baseline.json").write_text(json.dumps(settings), encoding="utf-8")
    # then it is refused
    with pytest.raises(BaselineFileError, match="analyzer 'os.system' is not a known one"):
        load_fitted(tmp_path)


def test_a_pickled_baseline_folder_is_refused_before_anything_is_read(baseline_dir, tmp_path):
    import shutil

    # given a baseline folder as older versions kept it: a model.joblib pickle (here one that writes a file)
    folder = tmp_path / "old-baseline"
    shutil.copytree(baseline_dir, folder)
    mark = tmp_path / "pwned.txt"
    (folder / "model.joblib").write_bytes(pickle.dumps(Planted(mark)))
    # when predict opens it / then it is refused with the file named, and nothing ran
    with pytest.raises(UnsafeModelError, match="model.joblib: a pickle inside the model folder"):
        Predictor.open(folder)
    assert not mark.exists()
    # and a pickle under any name is recognised by its first bytes
    (folder / "model.joblib").unlink()
    (folder / "notes.dat").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(UnsafeModelError, match="notes.dat"):
        Predictor.open(folder)


def test_the_token_cut_comes_from_the_run_never_a_default(tmp_path):
    from params.prepare import write_prepare_params

    # given a run's final/ without its data-preparation parameters / then the cut is an error, not a guess of 256
    with pytest.raises(RunFolderError, match="token length this model was trained with is unknown"):
        trained_max_length(tmp_path)
    # and with them, the cut it was trained at
    write_prepare_params(PrepareParams(input="x.csv", tokenize={"max_length": 128}), tmp_path)
    assert trained_max_length(tmp_path) == 128


def test_the_mlflow_model_is_logged_from_code_and_decides_as_predict(baseline_dir, tmp_path):
    import warnings

    import mlflow.pyfunc
    import yaml

    from scoring.mlflow_model import check_logged_from_code, save_pyfunc

    # given the baseline folder saved as an MLflow model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = save_pyfunc(baseline_dir, tmp_path / "pyfunc")
    # then its MLmodel names a code file, no pickled python_model, and MLflow had no pickle to warn about
    flavor = yaml.safe_load((saved / "MLmodel").read_text())["flavors"]["python_function"]
    assert "python_model" not in flavor and flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert not [w for w in caught if "pickle" in str(w.message).lower()]
    check_logged_from_code(saved)
    # when it predicts lines with their vendor and the code the ledger carries
    lines = pd.DataFrame(
        {"text": NEW_TEXTS, "vendor": ["KT", "새거래처", "KT", "KT"], "account_code": ["814", "811", "811", None]}
    )
    got = mlflow.pyfunc.load_model(str(saved)).predict(lines)
    # then it is Predictor.classify's output: the same codes, decisions and reasons as predict_ledger writes
    expected = Predictor.open(baseline_dir).classify(NEW_TEXTS, 3, lines["vendor"], lines["account_code"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    assert "new_vendor" in got.loc[1, "review_reason"] and "code_differs" in got.loc[2, "review_reason"]
    # and texts alone still work (the optional columns left out)
    assert len(mlflow.pyfunc.load_model(str(saved)).predict(lines[["text"]])) == len(NEW_TEXTS)


def test_a_tampered_mlflow_model_is_refused(baseline_dir, tmp_path):
    import yaml

    from scoring.mlflow_model import check_logged_from_code, save_pyfunc

    saved = save_pyfunc(baseline_dir, tmp_path / "pyfunc")
    # given an MLmodel edited to load a pickled python_model
    mlmodel = yaml.safe_load((saved / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["python_model"] = "python_model.pkl"
    (saved / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(UnsafeModelError, match="pickled python_model"):
        check_logged_from_code(saved)
    # and, the MLmodel restored, a pickle slipped in beside the weights
    del mlmodel["flavors"]["python_function"]["python_model"]
    (saved / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (saved / "artifacts" / "final" / "extra.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(UnsafeModelError, match="extra.pt: a pickle inside the model folder"):
        check_logged_from_code(saved)


def test_sync_records_beside_the_model_are_not_shipped(baseline_dir, tmp_path):
    import shutil

    from scoring.mlflow_model import save_pyfunc
    from tasks.tracking import without_sync_records

    # given a model folder synced from a shared store: a record of the store version beside a file, a download left
    model = shutil.copytree(baseline_dir, tmp_path / "model")
    (model / ".baseline.npz.synced").write_text('[1, "etag"]')
    (model / ".baseline.json.part-1a2b3c4d").write_text("{")
    # when it is saved as an MLflow model, then neither record is in the logged model, and the model files are
    saved = {p.name for p in (save_pyfunc(model, tmp_path / "pyfunc") / "artifacts" / "final").iterdir()}
    assert {"baseline.npz", "baseline.json"} <= saved and not {n for n in saved if n.startswith(".")}
    # when a folder of reports is uploaded (MLflow takes every file), then it goes without the records
    with without_sync_records(str(model)) as folder:
        shipped = {p.name for p in Path(folder).iterdir()}
    assert shipped == {p.name for p in model.iterdir()} - {".baseline.npz.synced", ".baseline.json.part-1a2b3c4d"}
    # and a folder without records goes as it is (no copy)
    clean = shutil.copytree(baseline_dir, tmp_path / "clean")
    with without_sync_records(str(clean)) as folder:
        assert folder == str(clean)
