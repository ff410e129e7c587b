"""The data-preparation flow: ingest -> preprocess -> features, every stage cached by fingerprint.

python -m flows.prepare --input ledger.csv      (or: account-tax prepare --input ledger.csv)
"""

from prefect import flow

from flows.params import PrepareParams
from tasks.features import build_features, select_features
from tasks.ingest import extract_metadata, fingerprint_input, load_ledger, standardize_columns
from tasks.preprocess import clean_ledger, filter_ledger, normalize_values, validate_ledger
from tasks.report import PrepareSummary, account_rows, publish_prepare_report


@flow(name="prepare_data", flow_run_name="prepare-{params.input}", log_prints=True)
def prepare_data(params: PrepareParams) -> PrepareSummary:
    """Ledger file(s) -> clean, validated feature frame + rejects with reasons + rows accounting."""
    p, wd = params.preprocess, params.work_dir
    source = fingerprint_input(params.input, params.ingest)
    loaded = load_ledger(source, params.ingest, params.labels_required, wd)
    ledger = standardize_columns(loaded, params.ingest, wd)
    metadata = extract_metadata(ledger, loaded)
    cleaned = clean_ledger(ledger, p.clean, params.ingest, wd)
    filtered = filter_ledger(cleaned, p.filter, params.ingest, wd)
    normalized = normalize_values(filtered, p.normalize, wd)
    validated = validate_ledger(normalized, p.validate_, params.labels_required, wd)
    featured = build_features(validated, params.features, wd)
    selected = select_features(featured, params.features, wd)
    stages = {
        "load": loaded,
        "standardize": ledger,
        "clean": cleaned,
        "filter": filtered,
        "normalize": normalized,
        "validate": validated,
        "features": featured,
        "select": selected,
    }
    summary = account_rows(stages, metadata, wd)
    publish_prepare_report(metadata, summary)
    return summary


if __name__ == "__main__":
    from flows.cli import main

    main(["prepare", *__import__("sys").argv[1:]])
