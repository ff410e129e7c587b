"""A trained model folder (an LLM run's final/ or a baseline folder) that turns texts into calibrated top-k
account codes. Shared by the prediction flow and the MLflow model; never imports prefect."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from contracts.baseline_folder import BaselineFolder
from contracts.calibration import Calibration
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.run_folder import RUN_CONFIG_FILE, RunFolderError
from contracts.train_profile import read_train_vendors
from scoring.calibration import PROB_FLOOR, scaled_probs
from scoring.review import label_check, review_reasons
from scoring.safe_files import check_no_pickles
from scoring.selective import NO_THRESHOLD

Progress = Callable[[int, int], None]  # (done, total)
BASELINE_CHUNK = 8192


def baseline_logits(model, texts, num_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """A fitted baseline's log-probabilities over every label slot (-inf for the classes it never saw) and the mask
    of the slots it has."""
    classes = np.asarray(model.classes_, dtype="int64")
    allowed = np.zeros(num_slots, dtype=bool)
    allowed[classes] = True
    logits = np.full((len(texts), num_slots), -np.inf)
    if len(texts):
        logits[:, classes] = np.log(np.maximum(model.predict_proba(texts), PROB_FLOOR))
    return logits, allowed


def base_model_folder(path: str) -> str:
    """The base model a run was trained from, on this machine: the bundled one is unpacked again where run.yaml
    says; any other must be there (a 4B model is not copied into the run or the MLflow model)."""
    from training.architecture import ModelConfigError
    from training.bundled_model import FOLDER_NAME, bundled_model

    folder = Path(path)
    if folder.is_dir():
        return path
    if folder.name == FOLDER_NAME:
        return str(bundled_model(folder.parent))
    raise ModelConfigError(
        f"{path}: the base model this run was trained from is not on this machine; copy that folder there "
        "(or the same model to the same path) before predicting"
    )


def trained_max_length(final: Path) -> int:
    """The token cut a run's final/ was trained with, from the data-preparation parameters kept beside it."""
    from contracts.dataset import PREPARE_PARAMS_FILE
    from params.prepare import read_prepare_params

    path = final / PREPARE_PARAMS_FILE
    if not path.exists():  # guessing would cut lines where training did not, and shift every probability
        raise RunFolderError(
            f"{final}: no {PREPARE_PARAMS_FILE}, so the token length this model was trained with is unknown; "
            "predict from the run folder (its prepare_params.json is beside final/) or calibrate the run again"
        )
    return read_prepare_params(path).tokenize.max_length


def encode_like_training(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids cut exactly as the training dataset was (tasks/tokenize.py encode_texts): the text with its
    special tokens, then its first max_length ids. The tokenizer's own truncation would keep a final [SEP] the
    model never saw on long lines (measured: 2 points of accuracy on the demo's encoder)."""
    ids = tokenizer(texts, add_special_tokens=True, return_attention_mask=False)["input_ids"]
    return [row[:max_length] for row in ids]


def top_k(logits: np.ndarray, used: np.ndarray, k: int, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Slot ids and calibrated probabilities of the k best used slots; unused (dummy) slots never win."""
    probs = scaled_probs(logits, temperature, allowed=used)
    k = min(k, int(used.sum()))
    ids = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(probs, ids, axis=1)


class Predictor:
    """Loads once; `predict` maps texts to top-k slots with calibrated probabilities."""

    def __init__(
        self, folder: str | Path, kind: str, model_path: str | None = None, pad_added: bool = False,
        max_length: int | None = None,
    ):  # fmt: skip
        self.folder, self.kind = Path(folder), kind
        self.label_map = LabelMap.read(self.folder / LABEL_MAP_FILE)
        self.calibration = Calibration.read(self.folder)
        self.train_vendors = read_train_vendors(self.folder)
        self.used = self.label_map.used_mask()
        self.max_length = max_length  # the token cut it was trained with; None for a baseline (no tokens)
        self._model_path, self._pad_added, self._loaded = model_path, pad_added, None

    @classmethod
    def open(cls, folder: str | Path, max_length: int | None = None) -> "Predictor":
        """A baseline folder, or a run's final/ (base model path and pad flag from its run.yaml; the token cut from
        its data-preparation parameters unless given: an older run keeps them beside the run, not in final/)."""
        folder = Path(folder)
        check_no_pickles(folder)  # before anything in it is read: it may come from a bucket or a registry
        if BaselineFolder.holds_baseline(folder):
            return cls(folder, "baseline")
        from training.config import read_run_config

        config = read_run_config(folder / RUN_CONFIG_FILE, fetch=frozenset({"model_path"}))
        return cls(folder, "llm", config.model_path, config.pad_added, max_length or trained_max_length(folder))

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration else 1.0

    @property
    def threshold(self) -> float:
        return self.calibration.threshold if self.calibration else NO_THRESHOLD

    def load(self):
        """The model (an LLM: model and tokenizer), loaded on first use."""
        if self._loaded is None:
            if self.kind == "baseline":
                from scoring.baseline_model import load_fitted

                self._loaded = load_fitted(self.folder)
            else:
                from training.model import load_trained

                self._loaded = load_trained(base_model_folder(self._model_path), self.folder, self._pad_added)
        return self._loaded

    def classify(
        self, texts: list[str], k: int, vendor: pd.Series | None = None, given_codes: pd.Series | None = None,
        batch_size: int = 32, progress: Progress | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """pred1..predk, label_check (where the lines carry a code), decision and review_reason: the one decision
        path, for predict_ledger and the registered MLflow model alike."""
        frame = self.frame(*self.predict(texts, k, batch_size, progress))
        check = None
        if given_codes is not None and given_codes.notna().any():
            check = label_check(given_codes, frame["pred1_code"], set(self.label_map.code_to_id()))
            frame["label_check"] = check
        decided = review_reasons(frame["pred1_prob"].to_numpy(), self.threshold, vendor, self.train_vendors, check)
        return pd.concat([frame, decided], axis=1)

    def predict(
        self, texts: list[str], k: int, batch_size: int = 32, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, probs), each rows x min(k, used slots), best first; calibrated."""
        width = min(k, int(self.used.sum()))
        ids, probs = np.zeros((len(texts), width), dtype="int64"), np.zeros((len(texts), width), dtype="float64")
        for rows, logits, allowed in self._batches(texts, batch_size, progress):
            ids[rows], probs[rows] = top_k(logits, self.used & allowed, k, self.temperature)
        return ids, probs

    def logits(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        """Raw scores over every label slot, rows x slots (a baseline: log-probabilities, -inf where it has none)."""
        out = np.zeros((len(texts), self.label_map.num_slots), dtype="float32")
        for rows, logits, _ in self._batches(texts, batch_size, progress):
            out[rows] = logits
        return out

    def _batches(self, texts: list[str], batch_size: int, progress: Progress | None):
        """(row indices, logits, allowed slots) batch by batch."""
        if self.kind == "baseline":
            yield from self._baseline_batches(texts, progress)
        else:
            yield from self._llm_batches(texts, batch_size, self.max_length, progress)

    def _baseline_batches(self, texts: list[str], progress: Progress | None):
        model = self.load()
        for start in range(0, len(texts), BASELINE_CHUNK):
            rows = np.arange(start, min(start + BASELINE_CHUNK, len(texts)))
            logits, allowed = baseline_logits(model, texts[start : start + BASELINE_CHUNK], self.label_map.num_slots)
            yield rows, logits, allowed
            if progress:
                progress(int(rows[-1]) + 1, len(texts))

    def _llm_batches(self, texts: list[str], batch_size: int, max_length: int, progress: Progress | None):
        """In batches sorted by length, so padding stays small."""
        import torch
        from tqdm import tqdm

        model, tokenizer = self.load()
        encoded = encode_like_training(tokenizer, texts, max_length)
        order = np.argsort([len(x) for x in encoded], kind="stable")
        everywhere = np.ones(self.label_map.num_slots, dtype=bool)
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc="classify", unit="batch"):
                rows = order[start : start + batch_size]
                batch = tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
                yield rows, model(**batch.to(model.device)).logits.float().cpu().numpy(), everywhere
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))

    def frame(self, ids: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
        """pred1..predk code / name / probability columns."""
        codes = np.full(self.label_map.num_slots, "", dtype=object)
        names = codes.copy()
        for slot in self.label_map.labels:
            codes[slot.id], names[slot.id] = slot.code, slot.name
        out = {}
        for rank in range(ids.shape[1]):
            out[f"pred{rank + 1}_code"] = codes[ids[:, rank]]
            out[f"pred{rank + 1}_name"] = names[ids[:, rank]]
            out[f"pred{rank + 1}_prob"] = probs[:, rank].round(6)
        return pd.DataFrame(out)
