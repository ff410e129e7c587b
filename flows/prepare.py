"""The data-preparation flow: ingest -> preprocess -> features -> labels, split, text, tokens.

account-tax prepare --input ledger.csv --model models/tiny     (--model bundled:all-MiniLM-L6-v2: the bundled model)
"""

from prefect import flow
from pydantic import BaseModel

from flows.naming import run_namer
from flows.ui_logs import quiet_routine_completions
from ledger.frames import StageResult
from params.prepare import PrepareParams
from tasks.caching import refreshable
from tasks.features import build_features, select_features
from tasks.ingest import extract_metadata, fingerprint_input, load_ledger, standardize_columns
from tasks.mispostings import MispostingReport, apply_corrections, find_mispostings, set_aside_mispostings
from tasks.preflight import check_output_folders, provide_base_model
from tasks.preprocess import clean_ledger, filter_ledger, normalize_values, validate_ledger
from tasks.report import PrepareSummary, publish_dataset_report, publish_prepare_report, reconcile_rows
from tasks.split import LabelMapFile, assign_label_slots, save_train_profile, split_dataset
from tasks.text import leave_out_fields, serialize_text
from tasks.tokenize import TokenizedDataset, save_prepare_params, tokenize_dataset


class PrepareResult(BaseModel):
    summary: PrepareSummary
    texts: StageResult | None = None  # split, text, label per row (TextFrame), when the ledger is labelled
    label_map: LabelMapFile | None = None
    dataset: TokenizedDataset | None = None  # when a model was given
    split: dict = {}
    train_profile: str | None = None  # the train split's vendors and column fill shares (contracts.train_profile)
    mispostings: MispostingReport | None = None  # suspected mis-postings, when the ledger is labelled


@flow(name="prepare_data", flow_run_name=run_namer("prepare"), log_prints=True)
@quiet_routine_completions
@refreshable
def prepare_data(params: PrepareParams) -> PrepareResult:
    """Ledger file(s) -> validated features + rejects + rows accounting -> tokenized DatasetDict on disk."""
    p, wd = params.preprocess, params.work_dir
    check_output_folders(wd)
    if params.model:  # 'bundled:...' becomes the unpacked folder before any data work
        params = params.model_copy(update={"model": provide_base_model(params.model, wd)})
    source = fingerprint_input(params.input, params.ingest)
    loaded = load_ledger(source, params.ingest, wd, params.privacy)
    standardized = standardize_columns(loaded, params.ingest, params.labels_required, wd, params.privacy)
    ledger = apply_corrections(standardized, params.corrections, wd)
    metadata = extract_metadata(ledger, loaded)
    cleaned = clean_ledger(ledger, p.clean, wd)
    filtered = filter_ledger(cleaned, p.filter, params.ingest, wd)
    normalized = normalize_values(filtered, p.normalize, params.ingest, wd)
    validated = validate_ledger(normalized, p.validate_, params.ingest, params.labels_required, wd)
    featured = build_features(validated, params.features, wd)
    selected = select_features(featured, params.features, wd)
    stages = {
        "load": loaded, "standardize": standardized, **({"correct": ledger} if params.corrections else {}),
        "clean": cleaned, "filter": filtered, "normalize": normalized, "validate": validated, "features": featured,
        "select": selected,
    }  # fmt: skip
    summary = reconcile_rows(stages, metadata, wd, params.ingest, p.validate_)
    publish_prepare_report(metadata, summary)
    if not params.labels_required:
        return PrepareResult(summary=summary)
    labels = assign_label_slots(selected, params.labels, wd)
    split = split_dataset(selected, labels, params.split, wd)
    profile = save_train_profile(split, wd)
    texts = serialize_text(split, params.text, wd)
    suspects = find_mispostings(split, texts, ledger, labels, params.mispostings, wd)  # on the texts as written
    texts = leave_out_fields(texts, split, params.text, wd)
    texts = set_aside_mispostings(texts, suspects, wd)
    found = {"texts": texts, "label_map": labels, "split": split.report, "train_profile": profile}
    found["mispostings"] = suspects
    if params.model is None:
        return PrepareResult(summary=summary, **found)
    dataset = tokenize_dataset(texts, labels, params.model, params.tokenize, wd)
    save_prepare_params(dataset, params, profile)
    publish_dataset_report(labels, split, texts, dataset)
    return PrepareResult(summary=summary, dataset=dataset, **found)
