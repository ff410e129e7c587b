"""The TF-IDF + logistic regression baseline: the task on a tiny frame, the flow on a learnable synthetic ledger."""

from pathlib import Path

import pandas as pd
import pytest

from contracts.label_map import LabelMap, LabelSlot
from ledger.frames import StageResult, write_frame
from params.baseline import BaselineParams
from params.prepare import PrepareParams
from schemas import TextFrame
from scoring.baseline_model import load_fitted
from tasks.baseline import train_baseline
from tasks.split import LabelMapFile

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Three accounts in slots 0, 1, 3 of a 6-slot head; each has its own words, so the texts are separable.
ACCOUNTS = {
    0: ("811", "복리후생비", "야근 식대 김밥"),
    1: ("814", "통신비", "인터넷 요금 KT"),
    3: ("830", "소모품비", "복사용지 토너"),
}


def tiny_inputs(work_dir: str, splits: list[str] | None = None) -> tuple:
    """A TextFrame with one row per entry of `splits` per account (default: 2 test + 8 train) and the label map
    file it refers to."""
    splits = splits or ["test"] * 2 + ["train"] * 8
    rows = [
        {"split": split, "text": f"적요: {words} {i} | 금액: {1000 * (i + 1):,}원", "label": slot}
        for slot, (_, _, words) in ACCOUNTS.items()
        for i, split in enumerate(splits)
    ]
    frame = write_frame(pd.DataFrame(rows), TextFrame, work_dir, "text")
    label_map = LabelMap(
        num_slots=6,
        dummy_prefix="__unused_",
        labels=[LabelSlot(id=slot, code=code, name=name) for slot, (code, name, _) in ACCOUNTS.items()],
    )
    path = Path(work_dir) / "labels" / "label_map-test.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(label_map.model_dump_json(), encoding="utf-8")
    labels = LabelMapFile(path=str(path), fingerprint="test", num_slots=6, used=3, new_codes=[])
    return StageResult(data=frame), labels


def prepare_params(work_dir: str) -> PrepareParams:
    """The data-preparation parameters the texts were made with (kept beside the baseline for predict)."""
    return PrepareParams(input=str(Path(work_dir) / "ledger.csv"), work_dir=work_dir)


def train(texts, labels, work_dir: str, params: BaselineParams | None = None):
    return train_baseline.fn(texts, labels, params or BaselineParams(), work_dir, prepare_params(work_dir))


def assert_report_files(report) -> None:
    """The CSV and both PNGs are in the report folder, inside the baseline folder that holds the fitted model."""
    folder = Path(report.report_dir)
    assert folder == Path(report.model_dir) / "reports"
    for path in (report.per_class_csv, report.confusion_png, report.f1_png):
        assert Path(path).is_file() and Path(path).parent == folder, path
    for png in (report.confusion_png, report.f1_png):
        data = Path(png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 1024
    assert {"baseline.npz", "baseline.json"} <= {p.name for p in Path(report.model_dir).iterdir()}


def test_task_on_a_tiny_frame(work_dir):
    # given 30 labelled texts (24 train, 6 test) of three easily told apart accounts
    texts, labels = tiny_inputs(work_dir)
    # when the baseline is trained (min_df 1 on a tiny train split; max_df drops the field names)
    report = train(texts, labels, work_dir)
    # then it separates them and reports on the 6 test rows, in a folder named after the texts' fingerprint
    assert report.name == "baseline"
    assert report.metrics["n_test"] == 6
    assert report.metrics["accuracy"] == 1.0
    assert Path(report.model_dir) == Path(work_dir) / "baselines" / f"baseline-{texts.data.fingerprint[:12]}"
    assert_report_files(report)
    # and, with no valid rows to fit on, the calibration is the identity and no line is coded automatically
    assert report.calibration is not None and report.calibration.temperature == 1.0
    assert not report.calibration.automates
    table = pd.read_csv(report.per_class_csv, encoding="utf-8-sig", dtype={"code": str})
    assert sorted(table["code"]) == ["811", "814", "830"] and set(table["support"]) == {2}
    # and the saved pipeline predicts label slots from raw text
    model = load_fitted(report.model_dir)
    assert model.predict(["적요: 인터넷 요금 KT 9"]).tolist() == [1]


def saved_vocabulary(report) -> set[str]:
    """The n-grams the fitted TF-IDF step of the saved pipeline kept."""
    model = load_fitted(report.model_dir)
    return set(model.steps[0][1].vocabulary_)


@pytest.mark.parametrize(("max_df", "kept"), [(0.9, False), (1.0, True)])
def test_max_df_drops_ngrams_present_in_every_training_text(tmp_path, max_df, kept):
    # given texts whose field name "적요" is in every training row (the template's labels, no signal)
    work = str(tmp_path / f"work-{max_df}")
    texts, labels = tiny_inputs(work)
    # when the baseline is trained with that max_df
    report = train(texts, labels, work, BaselineParams(max_df=max_df))
    # then the n-gram is left out of the vocabulary below 1.0 and kept at 1.0, while the account words stay
    vocabulary = saved_vocabulary(report)
    assert ("적요" in vocabulary) is kept
    assert {"요금", "토너"} <= vocabulary


def test_task_needs_test_rows(work_dir):
    # given texts with no test split
    texts, labels = tiny_inputs(work_dir)
    df = pd.read_parquet(texts.data.path).assign(split="train")
    no_test = texts.model_copy(update={"data": write_frame(df, TextFrame, work_dir, "text", name="train-only")})
    # when the baseline is trained, then it says why it cannot report
    with pytest.raises(ValueError, match="test"):
        train(no_test, labels, work_dir)


def test_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="extra"):
        BaselineParams.model_validate({"no_such_option": 1})


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_flow_learns_a_synthetic_ledger(tmp_path, work_dir):
    # given a labelled synthetic ledger of 4,000 rows and 30 accounts
    from flows.baseline import baseline
    from params.baseline import BaselineFlowParams
    from params.prepare import PrepareParams
    from synth.ledger import make_ledger, write_ledger

    ledger = write_ledger(make_ledger(4000, 30, seed=1), str(tmp_path / "ledger.csv"))
    params = BaselineFlowParams(prepare=PrepareParams(input=ledger, work_dir=work_dir))
    # when the baseline flow runs (prepare_data without a model, then TF-IDF + logistic regression)
    report = baseline(params)
    # then it beats the majority class by far
    table = pd.read_csv(report.per_class_csv, encoding="utf-8-sig", dtype={"code": str})
    majority = table["support"].max() / report.metrics["n_test"]
    assert report.metrics["accuracy"] > 3 * majority, (report.metrics, majority)
    assert report.metrics["f1_weighted"] > 0.5, report.metrics
    assert 0 < report.metrics["f1_macro"] <= 1
    # and every report file is there, in a baseline folder under the work dir, calibrated on the valid split
    assert Path(report.model_dir).parent == Path(work_dir) / "baselines"
    assert_report_files(report)
    assert report.calibration is not None and report.calibration.valid is not None
