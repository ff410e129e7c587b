"""Batch prediction: check a trained model folder (LLM run, baseline, or registered MLflow model), classify new
ledger rows with calibrated probabilities, decide auto / review per line, write the file an accountant opens."""

import json
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger, get_run_logger
from pydantic import BaseModel

from contracts.baseline_folder import BaselineFolder
from contracts.calibration import Calibration
from contracts.dataset import PREPARE_PARAMS_FILE
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.run_folder import HEAD_CONFIG_FILE, RUN_CONFIG_FILE, RunFolder, RunFolderError, head_rows
from contracts.train_profile import columns_lost, fill_shares, read_train_columns
from ledger import work_store
from ledger.columns import columns_conf
from ledger.conf import load_yaml
from ledger.frames import StageResult, parquet_columns, read_table, write_frame
from ledger.work_store import WorkDir, on_store
from monitor.progress import ProgressArtifact
from monitor.terminal import SAID_AGAIN
from params.predict import PredictParams
from params.prepare import PrepareParams, read_prepare_params
from schemas import selected_schema
from schemas.predict import prediction_schema
from scoring.predictor import Predictor
from tasks.text import serialize
from training.config import read_run_config


class TrainedRun(BaseModel):
    kind: str  # llm | baseline
    model_dir: str  # the LLM run's final/ or the baseline folder: what scoring.predictor.Predictor opens
    label_map: LabelMap
    prepare_params: PrepareParams
    calibration: Calibration | None = None  # None: a model trained before calibration existed; all lines to review
    train_columns: dict[str, float] | None = None  # each column's share of training lines with a value


def _check_llm(folder: RunFolder) -> tuple[Path, Path]:
    """final/ complete and its head matching its label map; the prepare parameters file beside it."""
    final = folder.final
    if missing := folder.missing_final_files():
        raise RunFolderError(f"{final}: incomplete run folder, missing {missing} (did the training finish?)")
    label_map = LabelMap.read(final / LABEL_MAP_FILE)
    head = json.loads((final / HEAD_CONFIG_FILE).read_text())
    rows = head_rows(folder.weights_file())
    if head.get("num_labels", len(head.get("id2label", {}))) != label_map.num_slots or rows not in (
        None,
        label_map.num_slots,
    ):
        raise RunFolderError(
            f"{final}: label map has {label_map.num_slots} slots but the head has "
            f"{rows or len(head.get('id2label', {}))} outputs; the adapter and label_map.json do not belong together"
        )
    config = read_run_config(final / RUN_CONFIG_FILE, fetch=frozenset())  # only names: the dataset is not downloaded
    candidates = [final / PREPARE_PARAMS_FILE, folder.prepare_params]
    if not work_store.is_store_url(config.dataset_path):  # an older run: the copy beside its dataset
        candidates.append(Path(config.dataset_path).parent / PREPARE_PARAMS_FILE)
    params_file = next((p for p in candidates if p.exists()), None)
    if params_file is None:
        raise RunFolderError(
            f"{final}: no {PREPARE_PARAMS_FILE} beside the run or its dataset: cannot replay its data steps"
        )
    return final, params_file


def run_logger():
    """The task's logger, or the module's when called outside a run (a test calling .fn)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger(__name__)


@task
@on_store
def load_run(model: str) -> TrainedRun:
    """A training run folder (runs/<name> or its final/) or a baseline folder (baselines/<name>), checked whole."""
    if BaselineFolder.holds_baseline(model):
        baseline = BaselineFolder(root=model)
        if missing := baseline.missing_files():
            raise RunFolderError(f"{model}: incomplete baseline folder, missing {missing}")
        folder, params_file, kind = Path(model), baseline.prepare_params, "baseline"
    else:
        folder, params_file = _check_llm(RunFolder.of(model))
        kind = "llm"
    calibration = Calibration.read(folder)
    if calibration is None:
        run_logger().warning("%s has no calibration.json: probabilities are raw and every line goes to review", folder)
    return TrainedRun(
        kind=kind,
        model_dir=str(folder),
        label_map=LabelMap.read(folder / LABEL_MAP_FILE),
        prepare_params=read_prepare_params(params_file),
        calibration=calibration,
        train_columns=read_train_columns(folder),
    )


@task
@on_store
def replay_params(run: TrainedRun, params: PredictParams) -> PrepareParams:
    """The training run's data-preparation parameters on the new ledger, labels not required."""
    # the training ledger's corrections and mis-posting settings are about its lines, not the new ones
    exclude = {"model", "labels", "split", "tokenize", "corrections", "mispostings"}
    saved = run.prepare_params.model_dump(by_alias=True, exclude=exclude)
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


@task
@on_store
def classify_ledger(selected: str, run: TrainedRun, top: int, batch_size: int, work_dir: WorkDir) -> StageResult:
    """Serialize each accepted row with the model's template, classify it (calibrated top-k), decide auto / review."""
    df = read_table(selected, selected_schema(parquet_columns(selected)), "prediction features")
    params = run.prepare_params
    texts = serialize(df, load_yaml(params.text.template)).tolist()
    predictor = Predictor.open(run.model_dir, params.tokenize.max_length)
    progress = ProgressArtifact("predict-progress", len(texts), "rows classified")
    decided = predictor.classify(
        texts, top, df.get("vendor"), df.get("account_code"), batch_size, progress.update
    )  # fmt: skip
    out = pd.concat([pd.DataFrame({"row_id": df["row_id"].to_numpy()}), decided], axis=1)
    width = sum(column.endswith("_code") and column.startswith("pred") for column in decided.columns)
    return StageResult(data=write_frame(out, prediction_schema(width), work_dir, "predict", "predictions"))


@task
@on_store
def check_expected_columns(selected: str, run: TrainedRun) -> list[str]:
    """One warning naming the text's columns most training lines held and the new ledger's accepted lines lack
    (bench/POORER-MONTH.md: without 적요 the auto share fell from 98% to 61%); none for a model without a profile."""
    if run.train_columns is None:
        return []
    fields = load_yaml(run.prepare_params.text.template)["fields"]
    # the template's label (적요), else the column's first header spelling: the name an accountant knows
    conf = columns_conf(run.prepare_params.ingest.columns_conf)
    spelled = {c: spec.aliases[0] for c, spec in conf.columns.items() if spec.aliases}
    labels = {f["column"]: f.get("label") or spelled.get(f["column"], f["column"]) for f in fields}
    found = fill_shares(read_table(selected, selected_schema(parquet_columns(selected)), "prediction features"))
    lost = columns_lost(run.train_columns, found, list(labels))
    if not lost:
        return []
    named = "; ".join(f"{labels[c]} ({c}): {trained:.0%} of training lines, {now:.0%} here" for c, trained, now in lost)
    warning = (
        f"this ledger lacks columns the model learned from: {named}. Its lines are coded from the other columns: "
        "expect more of them to go to review, and map the column if the file has it under another header"
    )
    get_run_logger().warning("%s", warning, extra=SAID_AGAIN)
    return [warning]
