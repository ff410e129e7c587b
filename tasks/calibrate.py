"""After training: the temperature and the auto / review threshold from the valid split, figures on test; and
final/ made self-contained (data-preparation parameters, train vendors) for prediction and the MLflow model."""

import shutil
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from contracts.calibration import (
    TEST_LOGITS_FILE,
    VALID_LOGITS_FILE,
    Calibration,
    read_logits,
)
from contracts.dataset import PREPARE_PARAMS_FILE
from contracts.label_map import LABEL_MAP_FILE, LabelMap
from contracts.run_folder import RUN_CONFIG_FILE, RunFolder
from contracts.train_profile import copy_train_profile
from ledger.work_store import on_store
from monitor.terminal import SAID_AGAIN
from params.prepare import read_prepare_params
from scoring.choice import ModelChoice, candidate, choose_model
from scoring.report import calibrate_model
from tasks.evaluate import EvalReport


@task
@on_store
def calibrate_training(final_dir: str, target_accuracy: float) -> Calibration:
    """Fit the LLM's temperature and threshold on its valid logits; write final/calibration.json and plots."""
    final = Path(final_dir)
    folder = RunFolder.of(final)
    dataset = Path(_dataset_path(folder)).parent
    if folder.prepare_params.exists() and not (final / PREPARE_PARAMS_FILE).exists():
        shutil.copy(folder.prepare_params, final / PREPARE_PARAMS_FILE)
    copy_train_profile(dataset, final)
    splits = {name: final / file for name, file in (("valid", VALID_LOGITS_FILE), ("test", TEST_LOGITS_FILE))}
    if not all(path.exists() for path in splits.values()):
        score_splits(final, splits)  # a run trained before the program saved its logits
    loaded = {name: read_logits(path) if path.exists() else None for name, path in splits.items()}
    allowed = LabelMap.read(final / LABEL_MAP_FILE).used_mask()
    suspected = suspected_masks(dataset, loaded)
    out_dir = folder.reports / "calibration"
    calibration = calibrate_model("llm", loaded["valid"], loaded["test"], allowed, target_accuracy, out_dir, suspected)
    add_second_opinion(calibration, final, loaded, allowed, suspected, out_dir)
    calibration.write(final)
    logger = get_run_logger()
    if loaded["valid"] is None:
        logger.warning("the dataset has no valid split: no temperature fitted and every predicted line goes to review")
    else:
        logger.info("%s", describe(calibration), extra=SAID_AGAIN)
    return calibration


def suspected_masks(dataset: Path, loaded: dict) -> dict:
    """Per split, which saved logits belong to suspected mis-postings (the dataset manifest says where they are)."""
    from contracts.dataset import read_tokenized_dataset

    set_aside = read_tokenized_dataset(dataset).mispostings
    if set_aside is None:
        return {}
    return {name: set_aside.mask(name, len(part[1])) for name, part in loaded.items() if part is not None}


def add_second_opinion(
    calibration: Calibration, final: Path, loaded: dict, allowed, suspected: dict, out_dir: Path
) -> None:
    """The LLM's own suspected mis-postings among its valid and test lines (out of sample to it), counted beside
    the prepare-time K-fold's and written as a table; only where mis-postings were looked for at prepare."""
    from scoring.calibration import scaled_probs
    from scoring.mispostings import model_second_opinion

    params_file = final / PREPARE_PARAMS_FILE
    looked = read_prepare_params(params_file).mispostings if params_file.exists() else None
    if looked is None or not looked.detect:
        return
    splits = {n: (scaled_probs(p[0], 1.0, allowed), p[1]) for n, p in loaded.items() if p is not None}
    found = model_second_opinion(splits, suspected, looked.min_class_rows, looked.max_written_probability)
    calibration.second_opinion = {
        "lines": sum(len(p[1]) for p in splits.values()),
        "flagged": len(found),
        "agreed": int(found["earlier"].sum()),
        "earlier": int(sum(int(m.sum()) for m in suspected.values())),
    }
    table = out_dir / f"{calibration.model}_suspects.parquet"
    found.to_parquet(table, index=False)
    calibration.second_opinion_table = str(table)


def score_splits(final: Path, splits: dict[str, Path]) -> None:
    """The valid and test logits of a finished run computed here from its dataset's texts (the training program
    saves them since calibration exists; an older run gets them once, then they are in final/)."""
    from datasets import load_from_disk

    from contracts.calibration import save_logits
    from scoring.predictor import Predictor

    dataset = load_from_disk(_dataset_path(RunFolder.of(final)))
    predictor = Predictor.open(final)
    get_run_logger().info("scoring the valid and test splits for calibration (%s has no saved logits)", final)
    for name, path in splits.items():
        if name in dataset and len(dataset[name]) and not path.exists():
            part = dataset[name]
            logits = predictor.logits(list(part["text"]))
            save_logits(logits, part["label"], path)


def describe(calibration: Calibration) -> str:
    """One line: temperature, ECE before/after on test, valid accuracy as written and on the lines not suspected,
    threshold, coverage and accuracy of the auto lines, and the basis of the promise."""
    parts = [f"{calibration.model}: temperature {calibration.temperature:.3g}"]
    if (rejected := calibration.rejected_temperature) is not None:
        parts[0] += f" (the fitted {rejected:.3g} made valid ECE worse: not applied)"
    if calibration.test is not None:
        parts.append(f"test ECE {calibration.test.ece_before:.3f} -> {calibration.test.ece_after:.3f}")
    valid, written, suspected = calibration.valid, calibration.valid_as_written, calibration.suspected.get("valid", 0)
    if valid is not None and written is not None:
        parts.append(
            f"valid accuracy {written.accuracy:.1%} against the codes as written, {valid.accuracy:.1%} on the "
            f"{valid.rows:,} lines not suspected; {suspected:,} valid lines suspected"
        )
    if opinion := calibration.second_opinion:
        parts.append(
            f"{calibration.model}'s own probabilities flag {opinion['flagged']:,} of its {opinion['lines']:,} valid "
            f"and test lines, {opinion['agreed']:,} of them among the {opinion['earlier']:,} suspected at prepare"
        )
    basis = f"the {valid.rows:,} valid lines not suspected" if suspected and valid is not None else "valid"
    if not calibration.automates:
        text = f"no threshold reached {calibration.target_accuracy:.0%} on {basis}: every line goes to review"
        if reach := calibration.reachable:
            text += (
                f"; {reach['target']:.0%} is within reach ({reach['coverage']:.1%} of valid lines automatic): set "
                f"target_accuracy={reach['target']} to code them"
            )
        parts.append(text)
    elif calibration.test is not None:
        held = calibration.test
        accuracy = "-" if held.auto_accuracy is None else f"{held.auto_accuracy:.1%}"
        parts.append(
            f"auto at p >= {calibration.threshold:.3f} (set on {basis}): test coverage {held.coverage:.1%}, "
            f"accuracy {accuracy} (target {calibration.target_accuracy:.0%})"
        )
    return "; ".join(parts)


def _dataset_path(folder: RunFolder) -> str:
    from training.config import read_run_config

    return read_run_config(folder.final / RUN_CONFIG_FILE).dataset_path


@task
@on_store
def choose_deployment(reports: list[EvalReport | None], target_accuracy: float) -> ModelChoice | None:
    """The model to deploy among the calibrated ones (LLM, baseline), with the reason; None when none is."""
    candidates = [
        candidate(r.name, r.model_dir, r.calibration)
        for r in reports
        if r is not None and r.calibration and r.model_dir
    ]
    if not candidates:
        return None
    choice = choose_model(candidates, target_accuracy)
    get_run_logger().info("model to deploy: %s", choice.reason, extra=SAID_AGAIN)
    return choice
