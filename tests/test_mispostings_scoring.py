"""Suspected mis-postings: out-of-sample probabilities and confident learning (scoring/mispostings.py), and the
table an accountant opens (ledger/suspects_file.py), read back as corrections (ledger/corrections.py).

Hand-built probability matrices: many clean lines sure of their written code, a few slips sure of another one."""

import cleanlab.filter
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from ledger.conf import load_yaml
from ledger.corrections import read_corrections
from ledger.suspects_file import localize, pair_counts, suspects_table, write_suspects_xlsx
from scoring.mispostings import find_suspects, out_of_sample_probs

WORDS = load_yaml("misposting_output.yaml")
H = WORDS["headers"]
SLOTS = np.array([3, 7, 12])  # label slots need not be contiguous
BIG_DIGEST = -7810461904071771556


def sure(label: int, of: int | None = None, p: float = 0.96) -> np.ndarray:
    """Probabilities over SLOTS (+ a rare slot 20): `p` on slot `of` (the label itself by default)."""
    row = np.full(4, (1 - p) / 3)
    row[[3, 7, 12, 20].index(label if of is None else of)] = p
    return row


def ledger_probs(*odd: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """30 clean lines per slot of SLOTS, then the `odd` (label, probabilities) lines: labels, probs, classes."""
    labels = [s for s in SLOTS for _ in range(30)] + [label for label, _ in odd]
    probs = np.vstack([sure(s) for s in SLOTS for _ in range(30)] + [p for _, p in odd])
    return np.array(labels), probs, np.array([3, 7, 12, 20])


CLEAN = 90  # position of the first odd line


# ---- find_suspects --------------------------------------------------------------------------------------------


def test_a_slip_against_the_ledgers_habit_is_the_first_suspect():
    # given: a line written 3 that every other line like it says is 7 (0.01 against 0.97)
    labels, probs, classes = ledger_probs((3, sure(3, of=7, p=0.97)))
    # when
    out = find_suspects(labels, probs, classes, min_class_rows=5, max_written_probability=0.3)
    # then: only it, suggested 7 (a slot id, not a column index), rank 1
    assert out.to_dict("records") == [
        {"position": CLEAN, "label": 3, "suggested": 7, "p_written": pytest.approx(0.01),
         "p_suggested": pytest.approx(0.97), "rank": 1},
    ]  # fmt: skip


def test_suspects_are_ranked_by_how_far_the_suggestion_outweighs_the_written_code():
    # given: a slip at 0.02 -> 0.97 before a more blatant one at 0.001 -> 0.989
    labels, probs, classes = ledger_probs(
        (7, np.array([0.005, 0.02, 0.97, 0.005])), (3, np.array([0.001, 0.989, 0.005, 0.005]))
    )
    # when
    out = find_suspects(labels, probs, classes, 5, 0.3)
    # then
    assert out[["position", "suggested", "rank"]].values.tolist() == [[CLEAN + 1, 7, 1], [CLEAN, 12, 2]]


def test_a_plausible_written_code_is_not_suspected():
    # given: twin accounts 7 and 12 the lines tell apart only weakly (7's lines at 0.6 / 0.36), and a line written
    # 12 at 0.36 with 7 at 0.62, which confident learning does flag
    labels, probs, classes = ledger_probs((12, np.array([0.01, 0.62, 0.36, 0.01])))
    probs[30:60] = [0.02, 0.6, 0.36, 0.02]
    flagged = cleanlab.filter.find_label_issues(np.searchsorted(classes, labels), probs, n_jobs=1)
    assert flagged[CLEAN]
    # when the written code may have at most 0.3, then it is not suspected; at 0.4 it is
    assert find_suspects(labels, probs, classes, 5, 0.3).empty
    assert find_suspects(labels, probs, classes, 5, 0.4)["position"].tolist() == [CLEAN]


def test_lines_of_a_rare_code_are_never_suspected():
    # given: slot 20 has two lines, both sure of 7
    labels, probs, classes = ledger_probs((20, sure(20, of=7, p=0.97)), (20, sure(20, of=7, p=0.97)))
    # when judged with min_class_rows 5, then none; with 1 they would have been
    assert find_suspects(labels, probs, classes, 5, 0.3).empty
    assert set(find_suspects(labels, probs, classes, 1, 0.3)["label"]) == {20}


def test_a_trusted_line_is_never_suspected():
    # given: the blatant slip, confirmed by an accountant
    labels, probs, classes = ledger_probs((3, sure(3, of=7, p=0.97)))
    trusted = np.arange(len(labels)) == CLEAN
    # when, then
    assert find_suspects(labels, probs, classes, 5, 0.3, trusted=trusted).empty
    assert len(find_suspects(labels, probs, classes, 5, 0.3, trusted=~trusted)) == 1


def test_the_suggestion_is_never_the_written_code(monkeypatch):
    # given: confident learning flagging every line, and a line whose written code 3 is its likeliest at 0.28
    monkeypatch.setattr(cleanlab.filter, "find_label_issues", lambda y, probs, **_: np.ones(len(y), dtype=bool))
    labels, probs, classes = ledger_probs((3, np.array([0.28, 0.27, 0.25, 0.2])))
    # when
    out = find_suspects(labels, probs, classes, 5, 0.3)
    # then: that line is suggested the next likeliest, 7
    assert out.set_index("position").loc[CLEAN, "suggested"] == 7
    assert (out["suggested"] != out["label"]).all()


# ---- out_of_sample_probs --------------------------------------------------------------------------------------


class Recorder:
    """A fit that remembers what each fold trained on and scored; its model spreads 1 over the classes it saw."""

    def __init__(self):
        self.folds: list[tuple[set, set]] = []

    def __call__(self, texts: pd.Series, y: np.ndarray):
        trained, classes, folds = set(texts), np.unique(y), self.folds

        class Model:
            classes_ = classes

            def predict_proba(self, held: pd.Series) -> np.ndarray:
                folds.append((trained, set(held)))
                return np.full((len(held), len(classes)), 1 / len(classes))

        return Model()


def texts_and_labels(rare: bool = False) -> tuple[pd.Series, np.ndarray]:
    """20 unique texts over slots 3 / 7 (10 each), and one line of slot 12 when `rare`."""
    labels = [3, 7] * 10 + ([12] if rare else [])
    return pd.Series([f"line {i}" for i in range(len(labels))]), np.array(labels)


def test_every_line_is_scored_by_a_model_that_did_not_see_it():
    # given
    texts, labels = texts_and_labels()
    fit, calls = Recorder(), []
    # when
    probs, classes = out_of_sample_probs(texts, labels, fit, folds=4, seed=0, progress=calls.append)
    # then: four folds, none trained on what it scored, together scoring every line once
    assert len(fit.folds) == 4 and calls == [1, 2, 3, 4]
    assert all(not (trained & held) for trained, held in fit.folds)
    assert sorted(t for _, held in fit.folds for t in held) == sorted(texts)
    assert classes.tolist() == [3, 7] and probs.shape == (20, 2)
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_a_code_with_one_line_does_not_crash_and_gets_zero_where_it_was_held_out():
    # given: slot 12 has a single line (it cannot be in the training part of its own fold)
    texts, labels = texts_and_labels(rare=True)
    # when
    probs, classes = out_of_sample_probs(texts, labels, Recorder(), folds=5, seed=0)
    # then: its own column is 0 on its line, yet its row, like every row, sums to 1 over what was trained
    assert classes.tolist() == [3, 7, 12]
    assert probs[20, 2] == 0.0
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_a_real_model_scores_a_slip_against_the_habit_and_it_is_suspected():
    # given: coffee and snacks are 811, paper and toner 830, and one coffee line written 830
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    coffee = ["스타벅스 커피", "이디야 커피", "커피 간식", "간식"]
    paper = ["복사용지 토너", "복사용지", "토너 구입", "사무용품 구입"]
    texts = pd.Series(coffee * 3 + paper * 3 + ["커피 커피"])
    labels = np.array([811] * 12 + [830] * 12 + [830])

    def fit(x, y):
        return make_pipeline(CountVectorizer(), LogisticRegression(C=1.0)).fit(x, y)

    # when
    probs, classes = out_of_sample_probs(texts, labels, fit, folds=3, seed=0)
    out = find_suspects(labels, probs, classes, 5, 0.3)
    # then
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert out[["position", "label", "suggested", "rank"]].values.tolist() == [[24, 830, 811, 1]]


# ---- suspects_table / localize / write_suspects_xlsx ----------------------------------------------------------

FORMULA = '=HYPERLINK("http://x.example","click")'
NAMES = {3: ("830", "소모품비"), 7: ("811", "복리후생비"), 12: ("814", "통신비")}


def lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": [10, 11, 12, 13],
            "source_file": ["원장.xlsx"] * 4,
            "source_row": [2, 3, 4, 5],
            "row_digest": pd.array([BIG_DIGEST, 5, 6, 7], dtype="int64"),
            "split": ["train", "valid", "test", "train"],
            "date": ["2024-01-05"] * 4,
            "vendor": ["쿠팡", "GS25", "KT", "쿠팡"],
            "description": ["커피", FORMULA, "인터넷", "복사용지"],
            "amount": [5500, 11000, 33000, 11000],
        }
    )


def suspects() -> pd.DataFrame:
    """Lines 0, 1, 2 suspected, given out of rank order."""
    return pd.DataFrame(
        [(2, 12, 7, 0.02, 0.9, 3), (0, 3, 7, 0.01, 0.97, 1), (1, 3, 7, 0.03, 0.8, 2)],
        columns=["position", "label", "suggested", "p_written", "p_suggested", "rank"],
    )


def test_the_table_has_the_lines_their_codes_and_handling_in_rank_order():
    out = suspects_table(lines(), suspects(), NAMES, train_rows="exclude")
    assert out["rank"].tolist() == [1, 2, 3] and out["row_id"].tolist() == [10, 11, 12]
    assert out["row_digest"].tolist() == [str(BIG_DIGEST), "5", "6"]
    assert out[["written_code", "written_name", "suggested_code"]].values.tolist() == [
        ["830", "소모품비", "811"], ["830", "소모품비", "811"], ["814", "통신비", "811"],
    ]  # fmt: skip
    assert out["handling"].tolist() == ["excluded", "set_aside", "reported"]
    assert out["confirmed_code"].isna().all()
    # and by account pair, most frequent first
    pairs = pair_counts(out)[["written_code", "suggested_code", "lines"]]
    assert pairs.values.tolist() == [["830", "811", 2], ["814", "811", 1]]


@pytest.mark.parametrize("train_rows, word", [("exclude", "학습에서 제외"), ("keep", "장부 코드로 학습"),
                                              ("relabel", "제안 코드로 학습")])  # fmt: skip
def test_handling_reads_in_words_by_split_and_setting(train_rows, word):
    shown = localize(suspects_table(lines(), suspects(), NAMES, train_rows), WORDS)
    assert shown["처리"].tolist() == [word, "보정·기준에서 제외", "시험에서 따로 집계"]
    assert shown["구분"].tolist() == ["학습", "검증", "시험"] and "row_id" not in shown


@pytest.fixture
def workbook(tmp_path):
    table = suspects_table(lines(), suspects(), NAMES, "exclude")
    return write_suspects_xlsx(table, [("의심 분개", "3")], tmp_path / "suspects.xlsx", WORDS)


def test_the_xlsx_has_both_sheets_and_the_korean_headers(workbook):
    book = load_workbook(workbook)
    assert book.sheetnames == ["의심 분개", "요약"]
    sheet = book["의심 분개"]
    assert [c.value for c in sheet[1]] == list(H.values())
    code_column = list(H.values()).index(H["confirmed_code"]) + 1
    assert sheet.cell(row=2, column=code_column).fill.start_color.rgb.endswith(WORDS["review_fill"])
    summary = [c.value for c in book["요약"]["A"]]
    assert "입력 방법" in summary and H["written_code"] in summary


def test_the_digest_is_text_and_a_formula_is_defused(workbook):
    sheet = load_workbook(workbook)["의심 분개"]
    column = {c.value: c.column for c in sheet[1]}
    digest = sheet.cell(row=2, column=column[H["row_digest"]])
    assert (digest.data_type, digest.value) == ("s", str(BIG_DIGEST))
    assert sheet.cell(row=3, column=column[H["description"]]).value == "'" + FORMULA
    assert sheet.cell(row=3, column=column[H["handling"]]).value == "보정·기준에서 제외"


def test_a_filled_file_reads_back_as_corrections_with_the_exact_digest(workbook):
    # given: the accountant fills 확정 계정코드 on the first two lines and saves
    book = load_workbook(workbook)
    sheet = book["의심 분개"]
    column = [c.value for c in sheet[1]].index(H["confirmed_code"]) + 1
    sheet.cell(row=2, column=column, value="811")
    sheet.cell(row=3, column=column, value=830)
    book.save(workbook)
    # when
    out = read_corrections(workbook, WORDS)
    # then: the 19-digit digest survived as it was, the number typed as a code is a code
    assert out.to_dict("records") == [
        {"source_file": "원장.xlsx", "source_row": 2, "row_digest": BIG_DIGEST, "confirmed_code": "811"},
        {"source_file": "원장.xlsx", "source_row": 3, "row_digest": 5, "confirmed_code": "830"},
    ]
