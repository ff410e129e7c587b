"""The fitted TF-IDF + logistic regression baseline kept as plain arrays and JSON, never as a pickle: a baseline
folder comes from a shared bucket or a registry, and unpickling runs whatever code the file names.

    save_fitted(model, folder)   # baseline.npz (idf, coef, intercept, classes) + baseline.json (settings, terms)
    model = load_fitted(folder)  # the same sklearn Pipeline, rebuilt from those values

numpy reads the arrays with allow_pickle=False and the JSON holds only numbers and strings, so a tampered file is
an error (`BaselineFileError`), never code that runs. No prefect."""

import json
import zipfile
from pathlib import Path

import numpy as np

from contracts.baseline_folder import BASELINE_ARRAYS_FILE as ARRAYS_FILE
from contracts.baseline_folder import BASELINE_SETTINGS_FILE as SETTINGS_FILE
from contracts.baseline_folder import PICKLED_BASELINE_FILE as PICKLED_FILE
from ledger.errors import ExpectedError

FORMAT = "account-tax-baseline/1"
ARRAYS = ("idf", "coef", "intercept", "classes")
# the TfidfVectorizer settings kept; anything else it has is sklearn's default, as fit_baseline leaves it
VECTORIZER_SETTINGS = ("analyzer", "ngram_range", "sublinear_tf", "max_features", "min_df", "max_df", "lowercase")


class BaselineFileError(ExpectedError, ValueError):
    """A baseline folder whose model files are missing, pickled, or not what they claim to be."""

    hint = "train the baseline again (account-tax baseline, or the pipeline) and predict with the new folder"


def save_fitted(model, folder: str | Path) -> list[Path]:
    """Write a fitted make_pipeline(TfidfVectorizer, LogisticRegression) as arrays + JSON; the paths written."""
    vectorizer, classifier = model.steps[0][1], model.steps[-1][1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    settings = {name: getattr(vectorizer, name) for name in VECTORIZER_SETTINGS}
    dtype = np.dtype(vectorizer.dtype).name
    meta = {"format": FORMAT, "vectorizer": settings, "vocabulary": vocabulary, "dtype": dtype}
    arrays = {
        "idf": vectorizer.idf_,
        "coef": classifier.coef_,
        "intercept": classifier.intercept_,
        "classes": np.asarray(classifier.classes_, dtype="int64"),
    }
    np.savez(folder / ARRAYS_FILE, **arrays)
    (folder / SETTINGS_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return [folder / ARRAYS_FILE, folder / SETTINGS_FILE]


def load_fitted(folder: str | Path):
    """The baseline pipeline of a folder, rebuilt from its arrays; BaselineFileError for anything else."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    folder = Path(folder)
    meta, arrays = _read_settings(folder), _read_arrays(folder)
    vectorizer = TfidfVectorizer(**_vectorizer_settings(meta, folder), dtype=np.dtype(meta.get("dtype", "float32")))
    vocabulary = meta.get("vocabulary")
    if not isinstance(vocabulary, list) or not all(isinstance(term, str) for term in vocabulary):
        raise BaselineFileError(f"{folder / SETTINGS_FILE}: 'vocabulary' is not a list of terms")
    if len(vocabulary) != arrays["idf"].shape[0] or arrays["coef"].shape[1:] != (len(vocabulary),):
        raise BaselineFileError(
            f"{folder}: {len(vocabulary)} terms but idf {arrays['idf'].shape} and coef {arrays['coef'].shape}; "
            f"{ARRAYS_FILE} and {SETTINGS_FILE} do not belong together"
        )
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(vocabulary)}
    vectorizer.idf_ = arrays["idf"]
    classifier = LogisticRegression()
    classifier.coef_, classifier.intercept_ = arrays["coef"], arrays["intercept"]
    classifier.classes_ = arrays["classes"]
    classifier.n_features_in_ = len(vocabulary)
    return make_pipeline(vectorizer, classifier)


def _read_settings(folder: Path) -> dict:
    path = folder / SETTINGS_FILE
    if not path.exists():
        if (folder / PICKLED_FILE).exists():
            raise BaselineFileError(
                f"{folder}: the baseline is kept as {PICKLED_FILE}, a pickle, which is never loaded (it could run "
                "any code); train the baseline again (account-tax baseline ...) to keep it as arrays"
            )
        raise BaselineFileError(f"{folder}: no {SETTINGS_FILE}: not a baseline folder, or an incomplete one")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BaselineFileError(f"{path}: not the baseline's JSON settings ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BaselineFileError(f"{path}: format is not {FORMAT!r}")
    return meta


def _read_arrays(folder: Path) -> dict[str, np.ndarray]:
    path = folder / ARRAYS_FILE
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ARRAYS}
    except FileNotFoundError as err:
        raise BaselineFileError(f"{folder}: no {ARRAYS_FILE}: an incomplete baseline folder") from err
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as err:
        # allow_pickle=False: an object array (a pickle inside) is a ValueError here, not code that runs
        raise BaselineFileError(f"{path}: not the baseline's arrays ({type(err).__name__}: {err})") from err
    if any(array.dtype.kind not in "fi" for array in arrays.values()):
        raise BaselineFileError(f"{path}: arrays of numbers expected, found {[a.dtype.str for a in arrays.values()]}")
    return arrays


def _vectorizer_settings(meta: dict, folder: Path) -> dict:
    settings = meta.get("vectorizer")
    if not isinstance(settings, dict) or set(settings) - set(VECTORIZER_SETTINGS):
        raise BaselineFileError(f"{folder / SETTINGS_FILE}: 'vectorizer' may hold only {VECTORIZER_SETTINGS}")
    if settings.get("analyzer") not in ("char_wb", "char", "word"):  # a callable analyzer would be code
        raise BaselineFileError(f"{folder / SETTINGS_FILE}: analyzer {settings.get('analyzer')!r} is not a known one")
    return {**settings, "ngram_range": tuple(settings.get("ngram_range", (1, 1)))}
