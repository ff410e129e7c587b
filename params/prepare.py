"""`prepare_data`'s parameters: the input and one section per data stage (the user's, as in the UI form)."""

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from params.base import ConfFile, FlowParams, NativeUrl, Section, WorkDir


class IngestParams(Section):
    """How ledger files are read and their headers mapped."""

    columns_conf: ConfFile = Field("columns.yaml", description="column aliases, a file in conf/ or a path")
    layouts_conf: ConfFile = Field("layouts.yaml", description="summary rows, account blocks, period rows")
    chart_of_accounts: ConfFile = Field(
        "chart_of_accounts.csv", description="account codes a labelled file's code column is checked against"
    )
    year: int | None = Field(
        None,
        ge=1900,
        le=2100,
        description="the year a file covers when no title row names its period: month-day "
        "dates (01-05) take it, and dates of other years are rejected (date_outside_period)",
    )
    on_file_error: Literal["fail", "skip"] = Field(
        "fail", description="a folder's unreadable file stops the run (fail) or is listed and left out (skip)"
    )
    columns: dict[str, str] = Field(
        {}, description='header -> canonical column, before any alias, e.g. {"계정": "account_code"}'
    )
    sheet: str | int | None = Field(
        None, description="sheet name or index; default: the sheet whose header best matches"
    )
    encodings: list[str] = Field(["utf-8-sig", "cp949"], description="CSV encodings tried in order")
    header_search_rows: int = Field(20, ge=1, description="rows scanned for the header line (title rows above it)")
    file_extensions: list[str] = Field(
        [".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".htm", ".html", ".parquet", ".pq"]
    )


class PrivacyParams(Section):
    """Personal and payment data in the cells (주민등록번호, card and account numbers, phones, e-mail, card users'
    names): masked at ingest, before anything is written (README, "Personal data")."""

    mask: bool = Field(
        True,
        description="mask what the detectors find in every cell before anything is written; off: the values stay "
        "in every stage file, text, model, report and log (the summary warns)",
    )
    mask_sole_proprietors: bool = Field(
        False,
        description="also mask sole proprietors' business registration numbers (구분코드 01-79, 90-99); a "
        "company's number is not personal and always stays",
    )
    keep_columns: list[str] = Field(
        [],
        description="columns that hold only personal data (카드번호, 계좌번호...) kept as features, masked; "
        "by the file's header or the column name",
    )
    detectors: ConfFile = Field("personal_data.yaml", description="patterns, checksums and masks; a file in conf/")


class CleanParams(Section):
    """Row cleaning before any value is interpreted."""

    drop_duplicates: bool = Field(True, description="exact duplicate rows go to rejects (first one kept)")
    unicode_form: str = Field("NFC", pattern="^(NFC|NFKC)$")


class FilterParams(Section):
    """Columns and rows left out on purpose (rows go to rejects with the filter's name)."""

    drop_columns: list[str] = Field([], description="optional canonical columns to drop")
    include_account_codes: list[str] = Field([], description="keep only these codes (empty: all)")
    exclude_account_codes: list[str] = Field([], description="codes left out, e.g. balance-sheet accounts")
    exclude_vendors: list[str] = Field([])
    date_from: str | None = Field(None, description="ISO date; earlier rows are filtered out")
    date_to: str | None = Field(None, description="ISO date; later rows are filtered out")


class NormalizeParams(Section):
    """Value spellings mapped to one form (maps in conf/)."""

    value_maps: ConfFile = Field("value_maps.yaml", description="a file in conf/ or a path")
    account_codes: Literal["as_written", "chart"] = Field(
        "as_written",
        description="one account written in several forms across the files (0811, 811, 81100, 811-01): as_written "
        "keeps every code as written and stops with an error naming the files, forms and counts when one account "
        "comes in more than one form; chart makes each the chart's code (811), a written sub-code kept in sub_code",
    )
    code_forms: ConfFile = Field(
        "code_forms.yaml", description="the forms a chart code is read in (zero padding, sub-code digits, separators)"
    )


class ValidateParams(Section):
    """Row rules; a row that breaks one goes to rejects with the rule's name."""

    vat_tolerance_abs: float = Field(10.0, ge=0, description="KRW allowed between supply + VAT and total")
    vat_tolerance_rel: float = Field(0.001, ge=0, description="share of the total allowed, whichever is larger")
    date_min: str = "2000-01-01"
    date_max: str = "2035-12-31"
    allow_negative_amounts: bool = Field(True, description="reversals and refunds are negative in real ledgers")
    warn_rejected_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="a file whose lines one rule rejects more than this share of is named in one warning with the "
        "likely cause (a column no header was mapped to, the headers left unmapped): terminal, data-quality report "
        "and the run's top report",
    )


class FeatureParams(Section):
    """Calendar and amount features, and the columns kept for the text stage (in this order)."""

    holiday_country: str = "KR"
    round_amount_unit: int = Field(1000, ge=1)
    amount_bins: list[float] = Field([10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000])
    selected: list[str] = Field(
        [
            "date",
            "vendor",
            "business_no",
            "description",
            "amount",
            "supply_amount",
            "vat",
            "evidence_type",
            "payment_method",
            "department",
            "side",
            "weekday",
            "month",
            "quarter",
            "is_weekend",
            "is_month_end",
            "is_holiday",
            "holiday_name",
            "amount_log",
            "amount_bucket",
            "is_round_amount",
            "has_vat",
        ],
        description="feature columns kept, in order; trace and label columns are always kept",
    )


class PreprocessParams(Section):
    clean: CleanParams = CleanParams()
    filter: FilterParams = FilterParams()
    normalize: NormalizeParams = NormalizeParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LabelParams(Section):
    """Label slots of the classifier head: fixed in number so a model can be retrained on new codes."""

    num_slots: int = Field(300, ge=1, description="head size; unused slots hold dummy names")
    label_map: str | None = Field(None, description="label_map.json of an earlier run: its codes keep their ids")
    dummy_prefix: str = "__unused_"


class SplitParams(Section):
    """Train / valid / test: by time (earlier months train, the newest ones valid and test) or stratified at random,
    deterministic for a seed."""

    by: Literal["auto", "time", "random"] = Field(
        "auto",
        description="time: train on the earlier months, validate, calibrate and test on the newest (the promise is "
        "made on months the model did not see); random: stratified over every month (train / valid / test ratios); "
        "auto: time where the ledger spans at least min_months months, else random",
    )
    min_months: int = Field(3, ge=2, description="auto splits by time from this many months of lines")
    holdout_min_rows: int = Field(
        400, ge=1, description="by time: the newest months are held out until they hold this many lines"
    )
    train: float = Field(0.8, gt=0, lt=1)
    valid: float = Field(0.1, ge=0, lt=1, description="random: the valid share; time: valid's share of the held-out")
    test: float = Field(0.1, ge=0, lt=1)
    seed: int = 42
    sample_fraction: float = Field(1.0, gt=0, le=1, description="stratified sample for quick runs, e.g. 0.01")
    min_class_rows: int = Field(3, ge=1, description="smaller classes stay in train only (reported)")

    @model_validator(mode="after")
    def _ratios_sum_to_one(self):
        if abs(self.train + self.valid + self.test - 1) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, got {self.train} + {self.valid} + {self.test}")
        return self


class MispostingParams(Section):
    """Suspected mis-postings: labelled lines whose written code is unlikely under out-of-sample probabilities
    (K-fold TF-IDF + logistic regression, then cleanlab's confident learning; README, "Mis-postings")."""

    detect: bool = Field(True, description="look for suspected mis-postings in the labelled lines")
    train_rows: Literal["exclude", "keep", "relabel"] = Field(
        "exclude",
        description="suspected lines of the train split: left out of training (exclude), trained on as written "
        "(keep) or trained on with the suggested code (relabel); valid and test lines keep their code and are "
        "left out of calibration and the threshold either way",
    )
    folds: int = Field(5, ge=2, le=20, description="each line is scored by a model fitted on the other folds")
    fit_lines: int = Field(
        50_000,
        ge=1000,
        description="each fold's detector is fitted on at most about this many lines (a sample keeping every code; "
        "every line is still scored), and a large ledger is scored in fewer folds: the fit's cost grows with its "
        "lines, a 1M-line ledger would take hours in 5 full folds (bench/README.md, P1)",
    )
    max_written_probability: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="a flagged line is suspected only when its written code had at most this probability out of "
        "sample (higher: more lines of easily confused accounts are suspected)",
    )
    min_class_rows: int = Field(5, ge=2, description="codes with fewer lines are never judged")
    C: float = Field(20.0, gt=0, description="the detector's inverse regularisation (sharper than the baseline's)")
    max_iter: int = Field(300, ge=1, description="the detector's lbfgs iterations")
    seed: int = 0


class TextParams(Section):
    """How a row becomes one text: a template in conf/."""

    template: ConfFile = Field(
        "text_template_compact.yaml",
        description="a file in conf/ or a path; text_template.yaml names every field (about 2x the tokens: "
        "bench/RESULTS.md, Training cost)",
    )
    leave_out: float = Field(
        0.2,
        ge=0,
        le=0.5,
        description="share of the train lines written again without one of the template's leave_out_groups (적요, "
        "the vendor): a next month exported without them is no cliff (bench/POORER-MONTH.md)",
    )
    seed: int = Field(0, description="which train lines leave_out writes poorer, and without which group")


class TokenizeParams(Section):
    """Tokenization with the model's own tokenizer; sequences stay unpadded (padding happens per batch)."""

    max_length: int = Field(256, ge=8)
    parallel: bool = Field(True, description="the tokenizer's own threads on every core (Rust, no fork)")
    batch_size: int = Field(10_000, ge=1, description="texts per tokenizer call")


class PrepareParams(FlowParams):
    """Everything `prepare_data` takes: the input ledger(s) and one section per stage."""

    input: NativeUrl = Field(..., description="ledger file, folder or glob; any fsspec URL")
    work_dir: WorkDir = Field("data", description="where stage outputs and reports are written")
    labels_required: bool = Field(True, description="training data: a row without an account code is rejected")
    ingest: IngestParams = IngestParams()
    privacy: PrivacyParams = PrivacyParams()
    preprocess: PreprocessParams = PreprocessParams()
    features: FeatureParams = FeatureParams()
    model: str | None = Field(
        None, description="model folder whose tokenizer builds the dataset; none: stop after features"
    )
    corrections: str | None = Field(
        None,
        description="a confirmed suspects file (xlsx or csv: file, line, digest, confirmed code): its codes replace "
        "the ledger's, matched on file, line and the row's digest",
    )
    labels: LabelParams = LabelParams()
    split: SplitParams = SplitParams()
    mispostings: MispostingParams = MispostingParams()
    text: TextParams = TextParams()
    tokenize: TokenizeParams = TokenizeParams()


def write_prepare_params(params: PrepareParams, folder: str | Path) -> Path:
    """prepare_params.json in a dataset, run or baseline folder: what `predict_ledger` replays."""
    from contracts.dataset import PREPARE_PARAMS_FILE  # not at the top: it pulls pandas into every parameter import

    path = Path(folder) / PREPARE_PARAMS_FILE
    path.write_text(params.model_dump_json(indent=2, by_alias=True), encoding="utf-8")
    return path


def read_prepare_params(path: str | Path) -> PrepareParams:
    return PrepareParams.model_validate_json(Path(path).read_text(encoding="utf-8"))
