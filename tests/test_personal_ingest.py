"""Personal data through ingest: masked at load before anything is written, dedicated columns left out, title
lines and error messages masked, the reports' counts, the user's own cells given back to the prediction file."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledger.errors import LedgerFileError
from ledger.frames import read_table
from monitor.quality import masking_warning, personal_markdown, personal_terminal_lines
from params.prepare import IngestParams, PrivacyParams
from schemas import RawLedger
from synth.ledger import make_ledger, write_ledger
from tasks.ingest import fingerprint_input, load_ledger, rows_as_in_files, standardize_columns
from tests._personal import card_no, leaks, registration_no, seed_personal_data
from tests.conftest import write_csv

PARAMS = IngestParams()
RNG = np.random.default_rng(5)
CARD, RRN = card_no(RNG), registration_no(RNG)


def ingest(path: Path, work_dir: str, privacy: PrivacyParams | None = None, labels_required: bool = True):
    privacy = privacy or PrivacyParams()
    loaded = load_ledger.fn(fingerprint_input.fn(str(path), PARAMS), PARAMS, work_dir, privacy)
    return loaded, standardize_columns.fn(loaded, PARAMS, labels_required, work_dir, privacy)


@pytest.fixture
def seeded(tmp_path):
    """A CP949 ledger with a column of each kind and each kind in the 적요; its raw values and lookalikes."""
    ledger, values, lookalikes = seed_personal_data(make_ledger(56, 8, seed=1))
    path = write_ledger(ledger, str(tmp_path / "in" / "ledger.csv"), encoding="cp949")
    return Path(path), values, lookalikes


def test_load_masks_every_cell_before_anything_is_written_and_counts_per_column(seeded, tmp_path):
    path, values, lookalikes = seeded
    work_dir = str(tmp_path / "work")
    # when the seeded ledger is loaded and standardized
    loaded, standardized = ingest(path, work_dir)
    # then no raw value is in any file under the work dir (UTF-8 or CP949, Parquet decoded)
    assert leaks([Path(work_dir)], [v for kind in values.values() for v in kind]) == []
    # and the counts per column and kind are reported, never a value
    found = loaded.report["personal_data"]
    assert found["masked"] is True
    columns = found["columns"]
    assert columns["적요"]["cells"] == {k: 2 for k in values}  # every fourth of 56 rows, one kind after the other
    holds = {h: c["holds_only"] for h, c in columns.items() if c["holds_only"]}
    assert holds == {"주민등록번호": "rrn", "카드번호": "card", "계좌번호": "account", "연락처": "phone",
                     "이메일": "email", "이용자": "name"}  # fmt: skip
    assert columns["카드번호"]["cells"] == {"card": 56}
    # and the lookalikes that fail their checksum reach the standardized 적요 untouched
    description = " ".join(read_table(standardized.data.path, None, "standardize").description.dropna())
    assert all(fake in description for fake in lookalikes)


def test_a_mapped_column_holding_only_personal_data_is_left_out_unless_kept(tmp_path):
    # given a ledger whose 메모 (a description alias) holds nothing but phone numbers
    lines = ["일자,거래처,메모,금액,계정코드"] + [
        f"2024-01-{i + 1:02d},쿠팡,010-2{i:03d}-3{i:03d},1000,830" for i in range(6)
    ]
    path = write_csv(tmp_path / "memo.csv", lines)
    # when ingested with the defaults
    _, standardized = ingest(path, str(tmp_path / "w1"))
    # then the column is no description: it is listed as left out, with its kind
    layout = standardized.report["layouts"][0]
    assert "description" not in layout["mapping"].values() and layout["personal"] == {"메모": "phone"}
    assert "description" not in read_table(standardized.data.path, None, "standardize").columns
    # when the user asks to keep it, then it is the description, masked
    _, kept = ingest(path, str(tmp_path / "w2"), PrivacyParams(keep_columns=["메모"]))
    assert kept.report["layouts"][0]["mapping"]["메모"] == "description"
    assert read_table(kept.data.path, None, "standardize").description.tolist()[0] == "010-****-3000"


def test_keeping_a_column_the_input_does_not_have_is_an_error_naming_the_headers(tmp_path):
    path = write_csv(tmp_path / "l.csv", ["일자,거래처,메모,금액,계정코드", "2024-01-05,쿠팡,010-2000-3000,1000,830"])
    with pytest.raises(ValueError, match=r"privacy.keep_columns: \['매모'\] is no header.*'메모'"):
        ingest(path, str(tmp_path / "w"), PrivacyParams(keep_columns=["매모"]))


def test_title_lines_are_masked_in_the_report_with_the_card_users_names(tmp_path):
    lines = [
        f"카드번호 {CARD} 이용내역 (홍길동)",
        "일자,이용자,거래처,적요,금액,계정코드",
        "2024-01-05,홍길동,쿠팡,비품,1000,830",
    ]
    loaded, _ = ingest(write_csv(tmp_path / "card.csv", lines), str(tmp_path / "w"))
    assert loaded.report["files"][0]["title_lines"] == [f"카드번호 {CARD[:4]}-****-****-{CARD[-4:]} 이용내역 (홍**)"]


def test_an_error_quoting_a_cell_quotes_it_masked(tmp_path):
    # given a file with no ledger header whose first row carries a 주민등록번호
    path = write_csv(tmp_path / "noheader.csv", [f"홍길동,{RRN},급여", "김철수,x,y"])
    # when it is loaded, then the error names the file and shows the number masked only
    with pytest.raises(LedgerFileError) as info:
        ingest(path, str(tmp_path / "w"))
    assert RRN not in str(info.value) and RRN[:8] + "******" in str(info.value)


def test_with_masking_off_the_values_stay_and_the_reports_warn(seeded, tmp_path):
    path, values, _ = seeded
    loaded, _ = ingest(path, str(tmp_path / "w"), PrivacyParams(mask=False))
    found = loaded.report["personal_data"]
    assert found["masked"] is False and found["columns"]["적요"]["cells"]["card"] == 2
    assert leaks([tmp_path / "w"], values["card"][:1]) != []
    warning = masking_warning(found)
    assert "privacy.mask is off" in warning and "card 58" in warning
    assert any(line.startswith("WARNING") for line in personal_terminal_lines(found, []))
    assert "NOT masked" in "\n".join(personal_markdown(found, []))


def test_reports_say_what_became_of_each_column_without_a_value(seeded, tmp_path):
    path, values, _ = seeded
    loaded, standardized = ingest(path, str(tmp_path / "w"))
    files = [{"url": str(path), "mapping": m, "personal": {}} for m in standardized.report["mapping"].values()]
    markdown = "\n".join(personal_markdown(loaded.report["personal_data"], files))
    assert "| 카드번호 | card | 56 | holds only card: not a feature |" in markdown
    assert "| 적요 | rrn | 2 | other data too: values masked in place |" in markdown
    terminal = "\n".join(personal_terminal_lines(loaded.report["personal_data"], files))
    assert "masked       적요: rrn 2, foreigner_rn 2" in terminal
    raw = [v for kind in values.values() for v in kind]
    assert not any(v in markdown + terminal for v in raw)


def test_the_prediction_file_gets_the_users_cells_back_unless_the_file_changed(seeded, tmp_path):
    path, values, _ = seeded
    loaded, _ = ingest(path, str(tmp_path / "w"), labels_required=False)
    rows = read_table(loaded.data.path, RawLedger, "load")
    # when the masked rows are given their file's cells back
    restored, kept_masked = rows_as_in_files(rows, PARAMS)
    # then they are the file's own, row for row
    assert kept_masked == [] and restored["카드번호"].tolist() == values["card"]
    assert restored["적요"].tolist() == pd.read_csv(path, encoding="cp949", dtype=str)["적요"].tolist()
    # when the file changes after it was read, then its rows stay masked and the file is named
    path.write_bytes(path.read_bytes().replace(values["card"][3].encode(), b"9999-9999-9999-9999"))
    again, kept_masked = rows_as_in_files(rows, PARAMS)
    assert kept_masked == [rows["source_file"][0]] and again["카드번호"].tolist() == rows["카드번호"].tolist()


@pytest.mark.usefixtures("prefect_harness")
def test_the_prepare_flow_reports_counts_in_the_ui_and_warns_when_masking_is_off(seeded, tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.prepare import prepare_data
    from params.prepare import PrepareParams
    from tests._personal import text_leaks

    path, values, _ = seeded
    raw = [v for kind in values.values() for v in kind]
    # when prepared with the defaults, then the data-quality artifact has the counts and no value
    state = prepare_data(PrepareParams(input=str(path), work_dir=str(tmp_path / "on")), return_state=True)
    summary = state.result().summary
    this_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        quality = [a for a in client.read_artifacts(flow_run_filter=this_run) if a.key == "data-quality-prepare-data"]
    markdown = str(quality[0].data)
    assert "## Personal data (masked before anything was written)" in markdown and "| 적요 | card | 2 |" in markdown
    assert text_leaks([markdown], raw) == [] and summary.warnings == []
    # when masking is turned off, then the summary (and summary.json) carries the warning
    off = prepare_data(PrepareParams(input=str(path), work_dir=str(tmp_path / "off"), privacy={"mask": False}))
    assert len(off.summary.warnings) == 1 and "privacy.mask is off" in off.summary.warnings[0]
    assert "privacy.mask is off" in (Path(off.summary.report_dir) / "summary.json").read_text()
