"""One model's calibration end to end (scoring/report.py: calibrate_model) and the Hangul font of its plots
(scoring/fonts.py).

Synthetic overconfident logits: per row a random scale, labels drawn from softmax(z / 2.5), so the raw softmax is
too sure of itself and a temperature above 1 fixes it.
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from contracts.calibration import Calibration
from contracts.predictions import softmax
from scoring import fonts
from scoring.calibration import scaled_probs, top_confidence
from scoring.report import calibrate_model
from scoring.selective import NO_THRESHOLD, select

CLASSES = 8
TRUE_TEMPERATURE = 2.5
TARGET = 0.95
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def overconfident(seed: int, rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Logits from very unsure to very sure rows, and labels drawn at TRUE_TEMPERATURE."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(rows, CLASSES)) * rng.uniform(0, 10, size=(rows, 1))
    probs = softmax(z / TRUE_TEMPERATURE)
    return z, (probs.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1)


def auto_lines(split: tuple[np.ndarray, np.ndarray], temperature: float, threshold: float):
    """The selection at `threshold`, recomputed from the logits without calibrate_model."""
    pred, conf = top_confidence(scaled_probs(split[0], temperature))
    return select(conf, pred == split[1], threshold)


def is_png(path: str | Path) -> bool:
    return Path(path).read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope="module")
def splits():
    return overconfident(seed=0), overconfident(seed=1)


@pytest.fixture(scope="module")
def calibrated(splits, tmp_path_factory) -> tuple[Calibration, Path]:
    out = tmp_path_factory.mktemp("calibration")
    valid, test = splits
    return calibrate_model("llm", valid, test, None, TARGET, out), out


# ---- calibrate_model ------------------------------------------------------------------------------------------


def test_an_overconfident_model_gets_a_temperature_above_one_that_lowers_ece(calibrated):
    calibration, _ = calibrated
    assert calibration.model == "llm" and calibration.target_accuracy == TARGET
    assert calibration.temperature == pytest.approx(TRUE_TEMPERATURE, rel=0.15)
    assert calibration.test.ece_after < calibration.test.ece_before / 2
    assert calibration.valid.ece_after < calibration.valid.ece_before


def test_temperature_does_not_move_accuracy(calibrated, splits):
    # given the raw argmax on test, when calibrated, then accuracy is that of the raw argmax
    calibration, _ = calibrated
    z, y = splits[1]
    assert calibration.test.rows == len(y)
    assert calibration.test.accuracy == pytest.approx(float((z.argmax(axis=1) == y).mean()))


def test_a_reachable_target_gives_a_threshold_whose_valid_lines_reach_it(calibrated, splits):
    # given a target the sure rows can reach
    calibration, _ = calibrated
    valid, _ = splits
    # then: a threshold, and the valid lines at or above it are at the target
    assert calibration.threshold <= 1.0 and calibration.automates
    assert calibration.valid.auto_accuracy >= TARGET
    chosen = auto_lines(valid, calibration.temperature, calibration.threshold)
    assert calibration.valid.auto_lines == chosen.auto_lines


def test_test_coverage_is_the_selection_at_the_chosen_threshold(calibrated, splits):
    # given the temperature and threshold calibrate_model chose
    calibration, _ = calibrated
    # when the test lines at or above the threshold are counted independently
    chosen = auto_lines(splits[1], calibration.temperature, calibration.threshold)
    # then
    assert 0 < calibration.test.coverage == pytest.approx(chosen.coverage)
    assert calibration.test.auto_accuracy == pytest.approx(chosen.accuracy)
    assert calibration.test.auto_lines == chosen.auto_lines


def test_curves_and_bins_describe_the_test_split(calibrated, splits):
    calibration, _ = calibrated
    rows = len(splits[1][1])
    assert calibration.risk_coverage[-1]["coverage"] == 1.0
    assert calibration.risk_coverage[-1]["accuracy"] == pytest.approx(calibration.test.accuracy)
    for name in ("before", "after"):
        assert sum(b["rows"] for b in calibration.reliability[name]) == rows


def test_both_plots_are_written_as_png(calibrated):
    calibration, out = calibrated
    assert set(calibration.plots) == {"reliability", "risk_coverage"}
    for name, path in calibration.plots.items():
        assert Path(path) == out / f"{name}.png"
        assert is_png(path)


def test_the_result_round_trips_through_calibration_json(calibrated, tmp_path):
    calibration, _ = calibrated
    calibration.write(tmp_path)
    assert Calibration.read(tmp_path) == calibration


@pytest.mark.parametrize("valid", [None, (np.zeros((0, CLASSES)), np.zeros(0, dtype="int64"))], ids=["none", "empty"])
def test_without_valid_rows_nothing_is_automatic(valid, splits, tmp_path):
    # given: no valid split to fit on, a test split to describe
    # when
    calibration = calibrate_model("baseline", valid, splits[1], None, TARGET, tmp_path)
    # then: raw softmax, no line coded automatically, the test split still described and plotted
    assert calibration.temperature == 1.0
    assert calibration.threshold == NO_THRESHOLD > 1.0 and not calibration.automates
    assert calibration.valid is None
    assert (calibration.test.coverage, calibration.test.auto_accuracy, calibration.test.auto_lines) == (0.0, None, 0)
    assert calibration.test.ece_after == pytest.approx(calibration.test.ece_before)
    assert all(is_png(p) for p in calibration.plots.values()) and len(calibration.plots) == 2


def test_without_a_test_split_there_is_nothing_to_plot(splits, tmp_path):
    calibration = calibrate_model("llm", splits[0], None, None, TARGET, tmp_path)
    assert calibration.valid is not None and calibration.test is None
    assert calibration.plots == {} and calibration.risk_coverage == []
    assert not list(tmp_path.glob("*.png"))


def test_disallowed_slots_are_never_predicted(splits, tmp_path):
    # given: a model that only knows slots 0..3 of 8, and labels drawn among them
    allowed = np.arange(CLASSES) < 4
    (vz, vy), (tz, ty) = splits
    valid, test = (vz, vy % 4), (tz, ty % 4)
    # when
    calibration = calibrate_model("llm", valid, test, allowed, TARGET, tmp_path)
    # then: the figures are those of the masked softmax
    pred, _ = top_confidence(scaled_probs(tz, calibration.temperature, allowed))
    assert set(pred.tolist()) <= {0, 1, 2, 3}
    assert calibration.test.accuracy == pytest.approx(float((pred == test[1]).mean()))


# ---- scoring.fonts --------------------------------------------------------------------------------------------


def glyph_warnings(family: str | None) -> list[str]:
    """Warnings about missing glyphs while drawing Hangul labels (family None: matplotlib's default font)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught, plt.rc_context({"font.family": family or "DejaVu Sans"}):
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title("복리후생비 소모품비")
        ax.set_xlabel("확신도")
        fig.canvas.draw()
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_font_path_is_the_packaged_ttf():
    path = fonts.font_path()
    assert path.exists() and path.suffix == ".ttf"
    assert path.read_bytes()[:4] in (b"\x00\x01\x00\x00", b"true")  # a TrueType file


def test_hangul_font_draws_hangul_without_missing_glyphs():
    # given: the default font misses Hangul (so the check below can see a missing glyph)
    assert glyph_warnings(None)
    # when drawn with the Hangul font, then no glyph is missing
    family = fonts.hangul_font()
    assert isinstance(family, str) and family
    assert glyph_warnings(family) == []


@pytest.fixture
def find_spec_for_font(monkeypatch):
    """Replace what find_spec answers for the font package only (every other package is found as usual)."""
    real = importlib.util.find_spec

    def install(answer):
        monkeypatch.setattr(
            fonts.importlib.util,
            "find_spec",
            lambda name, *a: answer if name == fonts.FONT_PACKAGE else real(name, *a),
        )

    return install


def test_missing_font_package_raises(find_spec_for_font):
    # given the font package is not installed, when located, then a clear error, not boxes in every plot
    find_spec_for_font(None)
    with pytest.raises(fonts.HangulFontMissing, match="pip install koreanize-matplotlib"):
        fonts.font_path()


def test_a_package_without_its_font_file_raises(find_spec_for_font, tmp_path):
    # given: the package is found, but its folder has no font in it
    spec = importlib.util.spec_from_loader(fonts.FONT_PACKAGE, loader=None, is_package=True)
    spec.submodule_search_locations.append(str(tmp_path))
    find_spec_for_font(spec)
    # when, then
    with pytest.raises(fonts.HangulFontMissing, match="NanumGothic.ttf"):
        fonts.font_path()
