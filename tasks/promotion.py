"""After training: the model this run chose to deploy (the challenger) against the registry's champion, both scored
on the same labelled lines; the alias moves when the challenger is no worse beyond noise (scoring.promotion)."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel

from contracts.baseline_folder import BaselineFolder
from contracts.dataset import read_tokenized_dataset
from contracts.label_map import LabelMap
from contracts.run_folder import FINAL_DIR
from ledger.work_store import WorkDir, on_store
from monitor.mlflow_store import STEADY, RegisteredModel, retrying, store_for
from monitor.registry import alias_target, move_alias, registered_mark, run_version, split_uri, tag_version
from monitor.terminal import SAID_AGAIN
from params.promotion import PromotionParams
from scoring.predictor import Predictor
from scoring.promotion import Verdict, compare
from tasks.tracking import SETUP_DELAYS, create_experiment, download_registered, log_and_register, tracking_uri

COMPARED_SPLIT = "test"  # with the time-ordered split: the newest labelled month, seen by neither model's training


class Promotion(BaseModel):
    """Which model holds the alias after this run, and why."""

    verdict: Verdict
    store: str  # the MLflow registry
    alias: str
    champion: RegisteredModel | None  # the version that held the alias before
    challenger_dir: str
    challenger: RegisteredModel | None  # its version: registered when it won, None when it lost unregistered
    moved: bool
    left_out: int  # suspected mis-postings of the compared split, judged by neither model
    report: str  # promotion.json


def comparison_lines(dataset_path: str) -> tuple[list[str], np.ndarray, int]:
    """The compared split's texts and their codes as written, without its suspected mis-postings."""
    from datasets import DatasetDict

    manifest = read_tokenized_dataset(dataset_path)
    split = DatasetDict.load_from_disk(manifest.path)[COMPARED_SPLIT]
    codes = {slot.id: slot.code for slot in LabelMap.read(manifest.label_map).labels}
    true = np.asarray([codes[i] for i in split["label"]], dtype=object)
    suspected = (
        manifest.mispostings.mask(COMPARED_SPLIT, len(true)) if manifest.mispostings else np.zeros(len(true), bool)
    )
    texts = [t for t, s in zip(split["text"], suspected, strict=True) if not s]
    return texts, true[~suspected], int(suspected.sum())


def predicted(model_dir: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each line's top code and its calibrated probability, as that model would decide it."""
    predictor = Predictor.open(model_dir)
    frame = predictor.frame(*predictor.predict(texts, 1, 32))
    return frame["pred1_code"].to_numpy(), frame["pred1_prob"].to_numpy()


@task
@on_store
def compare_with_champion(
    challenger_dir: str, dataset_path: str, params: PromotionParams, tracking: str | None, name: str, work_dir: WorkDir,
    target: float,
) -> Promotion:  # fmt: skip
    """Score the challenger and the champion on the newest labelled lines; move the alias when the challenger wins."""
    logger = get_run_logger()
    store = tracking_uri(tracking, work_dir)
    champion = alias_target(store, name, params.alias)
    texts, true, left_out = comparison_lines(dataset_path)
    lines = pd.DataFrame({"true_code": true})
    lines["challenger_code"], lines["challenger_confidence"] = predicted(challenger_dir, texts)
    if champion is not None:
        champion_dir = download_registered(champion.uri, store, work_dir)
        lines["champion_code"], lines["champion_confidence"] = predicted(str(champion_dir), texts)
    verdict = compare(lines, champion and champion.uri, challenger_dir, target, params.resamples, params.seed)
    challenger = registered_version(challenger_dir, store)
    if challenger is not None and champion is not None and challenger == champion:
        verdict = verdict.model_copy(update={"moves": False, "reason": "the challenger already is the champion"})
    if verdict.moves:
        challenger = challenger or register_folder(challenger_dir, store, name, work_dir)
        move_alias(store, challenger, params.alias, {"account_tax.promoted": verdict.reason})
        logger.info("%s is now models:/%s@%s: %s", challenger.uri, name, params.alias, verdict.reason, extra=SAID_AGAIN)
    else:
        if challenger is not None:
            tag_version(store, challenger, {"account_tax.not_promoted": verdict.reason})
        logger.info(
            "models:/%s@%s stays with %s: %s", name, params.alias, champion and champion.uri, verdict.reason,
            extra=SAID_AGAIN,
        )  # fmt: skip
    promotion = Promotion(
        verdict=verdict, store=store, alias=params.alias, champion=champion, challenger_dir=challenger_dir,
        challenger=challenger, moved=verdict.moves, left_out=left_out,
        report=str(Path(work_dir) / "promotions" / f"{model_name(challenger_dir)}.json"),
    )  # fmt: skip
    Path(promotion.report).parent.mkdir(parents=True, exist_ok=True)
    Path(promotion.report).write_text(promotion.model_dump_json(indent=2), encoding="utf-8")
    create_markdown_artifact(
        key="promotion", markdown=promotion_markdown(promotion), description="champion / challenger"
    )
    return promotion


def model_name(model_dir: str) -> str:
    """A baseline folder's name, or the name of the run whose final/ this is."""
    path = Path(model_dir)
    return path.parent.name if path.name == FINAL_DIR else path.name


def registered_version(model_dir: str, store: str) -> RegisteredModel | None:
    """The registry version of a trained LLM run (close_mlflow_run registered it), if any."""
    from contracts.run_folder import RunFolder

    if mark := registered_mark(model_dir):
        name, version, _ = split_uri(mark["uri"])
        return RegisteredModel(name=name, version=version)
    id_file = RunFolder.of(model_dir).mlflow_run_id
    if BaselineFolder.holds_baseline(model_dir) or not id_file.exists():
        return None
    return run_version(store, id_file.read_text().strip())


def register_folder(model_dir: str, store_uri: str, name: str, work_dir: str) -> RegisteredModel:
    """A model folder with no version yet (a baseline; an LLM run whose MLflow run is not in this store) logged to an
    MLflow run of its own and registered."""
    from scoring.mlflow_model import save_pyfunc

    logger = get_run_logger()
    store = store_for(store_uri, STEADY)

    def again(what, call):
        return retrying(what, call, SETUP_DELAYS, logger)

    experiment_id = store.experiment_id(name) or create_experiment(store, store_uri, name, work_dir, again)
    kind = "baseline" if BaselineFolder.holds_baseline(model_dir) else "llm"
    tags = {"account_tax.model_dir": model_dir, "account_tax.kind": kind}
    run_id = again("creating the MLflow run", lambda: store.create_run(experiment_id, Path(model_dir).name, tags))
    with tempfile.TemporaryDirectory() as scratch:
        pyfunc = save_pyfunc(model_dir, Path(scratch) / "mlflow_model")
        registered = log_and_register(store, run_id, pyfunc, name, again)
    again("ending the MLflow run", lambda: store.set_status(run_id, "FINISHED"))
    return registered


def promotion_markdown(promotion: Promotion) -> str:
    """The verdict and both models' figures as the Prefect UI shows them."""
    verdict = promotion.verdict
    rows = ["| model | automatic at target | auto accuracy | macro-F1 | accuracy |", "|---|---|---|---|---|"]
    for role, scores in (("champion", verdict.champion), ("challenger", verdict.challenger)):
        if scores is not None:
            auto = "-" if scores.auto_accuracy is None else f"{scores.auto_accuracy:.1%}"
            rows.append(
                f"| {role}: {scores.model} | {scores.coverage:.1%} | {auto} | {scores.f1_macro:.3f} | "
                f"{scores.accuracy:.1%} |"
            )
    holder = promotion.challenger if promotion.moved else promotion.champion
    head = f"## {'Challenger promoted' if promotion.moved else 'Champion stays'}: @{promotion.alias} -> "
    head += f"{holder.uri if holder else '(none)'}"
    lines = (
        f"{verdict.lines} lines of the {COMPARED_SPLIT} split ({promotion.left_out} suspected mis-postings left out)"
    )
    return "\n\n".join([head, verdict.reason, f"target accuracy {verdict.target:.0%}; {lines}", "\n".join(rows)])
