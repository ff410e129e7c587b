"""Batch prediction: check a trained run folder, classify new ledger rows, write top-k account codes."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from pydantic import BaseModel

from contracts.dataset import PREPARE_PARAMS_FILE, read_prepare_params
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.predictions import softmax
from contracts.run_folder import RunFolder, head_rows
from ledger.conf import load_yaml
from ledger.frames import StageResult, parquet_columns, read_frame, read_table, write_frame
from ledger.rejects import rule_counts
from ledger.spreadsheet import escape_formulas
from monitor.progress import ProgressArtifact
from params.predict import PredictParams
from params.prepare import PrepareParams
from schemas import RawLedger, Rejects, selected_schema
from schemas.predict import prediction_schema
from tasks.text import serialize
from training.config import read_run_config


class RunFolderError(ValueError):
    """A run folder that cannot be used for prediction; the message says what is missing or wrong."""


class TrainedRun(BaseModel):
    final_dir: str
    model_path: str
    pad_added: bool
    label_map: LabelMap
    prepare_params: PrepareParams


@task
def load_run(run: str) -> TrainedRun:
    """Check that a run folder is complete and that its label map matches its head."""
    folder = RunFolder.of(run)
    final = folder.final
    if missing := folder.missing_final_files():
        raise RunFolderError(f"{final}: incomplete run folder, missing {missing} (did the training finish?)")
    label_map = LabelMap.read(final / LABEL_MAP_FILE)
    head = json.loads((final / "head_config" / "config.json").read_text())
    rows = head_rows(folder.weights_file())
    if head.get("num_labels", len(head.get("id2label", {}))) != label_map.num_slots or rows not in (
        None,
        label_map.num_slots,
    ):
        raise RunFolderError(
            f"{final}: label map has {label_map.num_slots} slots but the head has "
            f"{rows or len(head.get('id2label', {}))} outputs; the adapter and label_map.json do not belong together"
        )
    config = read_run_config(final / "run.yaml")
    dataset_params = Path(config.dataset_path).parent / PREPARE_PARAMS_FILE
    params_file = next((p for p in [folder.prepare_params, dataset_params] if p.exists()), None)
    if params_file is None:
        raise RunFolderError(
            f"{final}: no {PREPARE_PARAMS_FILE} beside the run or its dataset: cannot replay its data steps"
        )
    return TrainedRun(
        final_dir=str(final),
        model_path=config.model_path,
        pad_added=config.pad_added,
        label_map=label_map,
        prepare_params=read_prepare_params(params_file),
    )


@task
def replay_params(run: TrainedRun, params: PredictParams) -> PrepareParams:
    """The training run's data-preparation parameters on the new ledger, labels not required."""
    saved = run.prepare_params.model_dump(by_alias=True, exclude={"model", "labels", "split", "tokenize"})
    return PrepareParams.model_validate(
        {
            **saved,
            "input": params.input,
            "work_dir": params.work_dir,
            "labels_required": False,
            "model": None,
            "refresh_cache": params.refresh_cache,
        }
    )


def load_classifier(run: TrainedRun):
    """The run's classifier (base + adapter merged, its pooling) in eval mode, and its tokenizer."""
    from training.model import load_trained

    return load_trained(run.model_path, run.final_dir, run.pad_added)


def top_k(logits: np.ndarray, used: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Slot ids and probabilities of the k best used slots; unused (dummy) slots never win."""
    probs = softmax(logits, allowed=used)
    k = min(k, int(used.sum()))
    ids = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(probs, ids, axis=1)


def classify(texts: list[str], model, tokenizer, used: np.ndarray, k: int, batch_size: int, max_length: int):
    """Top-k per text, in batches sorted by length so padding stays small; tqdm and a UI progress bar."""
    import torch
    from tqdm import tqdm

    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in encoded], kind="stable")
    ids = np.zeros((len(texts), min(k, int(used.sum()))), dtype="int64")
    probs = np.zeros(ids.shape, dtype="float64")
    progress = ProgressArtifact("predict-progress", len(order), "rows classified")
    batches = range(0, len(order), batch_size)
    with torch.inference_mode():
        for start in tqdm(batches, desc="classify", unit="batch"):
            rows = order[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt").to(model.device)
            logits = model(**batch).logits.float().cpu().numpy()
            ids[rows], probs[rows] = top_k(logits, used, k)
            progress.update(min(start + batch_size, len(order)))
    return ids, probs


@task
def classify_ledger(selected: str, run: TrainedRun, top: int, batch_size: int, work_dir: str) -> StageResult:
    """Serialize each accepted row with the run's template and classify it: top-k codes, names, probabilities."""
    df = read_table(selected, selected_schema(parquet_columns(selected)), "prediction features")
    params = run.prepare_params
    texts = serialize(df, load_yaml(params.text.template)).tolist()
    used, by_id = run.label_map.used_mask(), run.label_map.by_id()
    model, tokenizer = load_classifier(run)
    ids, probs = classify(texts, model, tokenizer, used, top, batch_size, params.tokenize.max_length)
    out = pd.DataFrame({"row_id": df["row_id"].to_numpy()})
    for rank in range(ids.shape[1]):
        out[f"pred{rank + 1}_code"] = [by_id[i].code for i in ids[:, rank]]
        out[f"pred{rank + 1}_name"] = [by_id[i].name for i in ids[:, rank]]
        out[f"pred{rank + 1}_prob"] = probs[:, rank].round(6)
    if "account_code" in df.columns and df["account_code"].notna().any():
        out["label_check"] = label_check(df["account_code"], out["pred1_code"], set(run.label_map.code_to_id()))
    return StageResult(data=write_frame(out, prediction_schema(ids.shape[1]), work_dir, "predict", "predictions"))


def label_check(given: pd.Series, top: pd.Series, known: set[str]) -> pd.Series:
    """Per row with a given code: match, differs, or unknown to the model (a code it never trained on)."""
    given = given.reset_index(drop=True).astype("str").where(given.notna().to_numpy())
    check = pd.Series(np.where(given.to_numpy() == top.to_numpy(), "match", "differs"), dtype="str")
    check = check.mask(~given.isin(known), "unknown to the model")
    return check.where(given.notna())


class PredictSummary(BaseModel):
    rows_in: int
    rows_predicted: int
    rows_rejected: int
    rejected_by_rule: dict[str, int] = {}  # summary rows of an export are not lines to classify: they show here
    label_checks: dict[str, int] = {}  # when the ledger carries codes: match / differs / unknown to the model
    output: str
    rejects: str


@task
def write_prediction_file(
    source: str, predictions: StageResult, rejects_parquet: str, rows_in: int, out: str
) -> PredictSummary:
    """The input rows (their own headers) plus top-k predictions, as CSV or xlsx; rejects beside it."""
    rows = read_table(source, RawLedger, "ledger as read")
    ranks = sum(c.endswith("_code") for c in parquet_columns(predictions.data.path))
    preds = read_frame(predictions.data, prediction_schema(ranks), "predictions")
    table = preds.merge(rows, on="row_id", how="left")
    original = [c for c in rows.columns if c not in ("row_id", "row_digest")]  # the digest is ours, not the file's
    table = escape_formulas(table[["row_id", *original, *[c for c in preds.columns if c != "row_id"]]])
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        table.to_excel(path, index=False)
    else:
        table.to_csv(path, index=False, encoding="utf-8-sig")
    rejects = read_table(rejects_parquet, Rejects, "rejects")
    if "label_check" in preds and (unknown := preds["label_check"].eq("unknown to the model").sum()):
        get_run_logger().warning(
            "%d predicted rows carry an account code the model never trained on (label_check column)", unknown
        )
    rejects_out = path.with_name(f"{path.stem}.rejects.csv")
    escape_formulas(rejects).to_csv(rejects_out, index=False, encoding="utf-8-sig")
    return PredictSummary(
        rows_in=rows_in,
        rows_predicted=len(table),
        rows_rejected=len(rejects),
        rejected_by_rule=rule_counts(rejects),
        label_checks=preds["label_check"].value_counts().to_dict() if "label_check" in preds else {},
        output=str(path),
        rejects=str(rejects_out),
    )
