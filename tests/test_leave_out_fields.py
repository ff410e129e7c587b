"""text.leave_out: a share of the train lines written again without 적요 or without the vendor, so a next month
exported without them is no cliff (bench/POORER-MONTH.md); valid and test lines keep every field."""

import pandas as pd
import pytest
from pydantic import ValidationError

from ledger.frames import read_frame
from params.prepare import TextParams
from schemas import TextFrame
from tasks.text import leave_out_fields, serialize_text
from tests.test_text import rows, split_stage

TEMPLATE = "text_template.yaml"


def ledger_split(n: int = 40) -> pd.DataFrame:
    """n lines, the first three quarters train, the rest valid; each with its own vendor and 적요."""
    df = rows(*({"vendor": f"거래처{i}", "description": f"적요{i}", "amount": 1000.0 + i} for i in range(n)))
    df["label"] = [i % 4 for i in range(n)]
    df["split"] = ["train" if i < 3 * n // 4 else "valid" for i in range(n)]
    return df


def texts_of(work_dir: str, df: pd.DataFrame, share: float, seed: int = 0):
    params = TextParams(template=TEMPLATE, leave_out=share, seed=seed)
    split = split_stage(work_dir, df)
    written = serialize_text.fn(split, params, work_dir)
    return written, leave_out_fields.fn(written, split, params, work_dir)


def test_a_share_of_the_train_lines_loses_one_group_and_valid_lines_keep_every_field(work_dir):
    # given 30 train and 10 valid lines, each with a vendor and a 적요
    df = ledger_split()
    # when half of the train lines are written poorer
    written, poorer = texts_of(work_dir, df, 0.5)
    before, after = read_frame(written.data, TextFrame), read_frame(poorer.data, TextFrame)
    # then the lines keep their order, split and label, and 15 train lines changed, none of the valid ones
    assert after[["split", "label"]].equals(before[["split", "label"]])
    changed = after["text"].ne(before["text"])
    assert changed.sum() == 15 and not changed[after["split"].eq("valid")].any()
    # and each changed line lacks exactly one group: its 적요, or its vendor, and keeps the rest
    no_description = ~after["text"].str.contains("적요:") & after["text"].str.contains("거래처:")
    no_vendor = ~after["text"].str.contains("거래처:") & after["text"].str.contains("적요:")
    assert (changed == (no_description | no_vendor)).all()
    assert no_description.any() and no_vendor.any()
    assert sum(poorer.report["left_out"].values()) == 15
    assert set(poorer.report["left_out"]) == {"description", "vendor"}  # no business_no column here
    # and the same seed picks the same lines again, another seed others
    assert read_frame(texts_of(work_dir, df, 0.5)[1].data, TextFrame).equals(after)
    assert not read_frame(texts_of(work_dir, df, 0.5, seed=1)[1].data, TextFrame).equals(after)


def test_no_share_leaves_the_texts_as_written(work_dir):
    written, poorer = texts_of(work_dir, ledger_split(), 0.0)
    assert poorer == written


def test_a_line_with_nothing_but_the_group_keeps_its_text(tmp_path, work_dir):
    # given a template whose only field is the 적요, and every train line chosen
    (tmp_path / "only.yaml").write_text(
        "separator: ' | '\nkey_value: ': '\nfields:\n  - {column: description, label: 적요, kind: text}\n"
        "leave_out_groups:\n  - [description]\n",
        encoding="utf-8",
    )
    params = TextParams(template=str(tmp_path / "only.yaml"), leave_out=0.5)
    df = ledger_split(4)
    split = split_stage(work_dir, df)
    written = serialize_text.fn(split, params, work_dir)
    poorer = leave_out_fields.fn(written, split, params, work_dir)
    # then no text became empty (an empty text trains nothing): none changed
    assert read_frame(poorer.data, TextFrame)["text"].equals(read_frame(written.data, TextFrame)["text"])
    assert poorer.report["left_out"] == {"description": 0}


def test_more_than_half_of_the_train_lines_is_refused():
    with pytest.raises(ValidationError, match="leave_out"):
        TextParams(leave_out=0.6)


def test_the_report_line_says_how_many_lines_lost_which_group():
    from tasks.text import left_out_line

    assert left_out_line({"left_out": {"description": 1200, "vendor + business_no": 1180}}) == (
        "train lines written without one field group (text.leave_out): without description 1,200, "
        "without vendor + business_no 1,180"
    )
    assert left_out_line({"example": "x"}) is None
