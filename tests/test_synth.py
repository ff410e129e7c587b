"""Synthetic ledger generator: shape, determinism, dirt, file round-trips and learnability (tiny sizes)."""

import io
import re
import shutil

import fsspec
import pandas as pd
import pytest

from synth.ledger import CP949_REPLACEMENTS, conf_dir, load_chart, make_ledger, synth_vocab, write_ledger

# The export's columns, written out here so that a change in conf/synth_ledger.yaml shows up as a failure.
EXPECTED_HEADERS = [
    "일자",
    "전표번호",
    "차대구분",
    "거래처",
    "사업자번호",
    "적요",
    "금액",
    "공급가액",
    "부가세",
    "증빙구분",
    "결제수단",
    "부서",
    "계정코드",
    "계정과목",
]
CANONICAL_EVIDENCE = {"세금계산서", "계산서", "신용카드", "현금영수증", "영수증", "없음"}


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return make_ledger(3000, 120, seed=11)


@pytest.fixture(scope="module")
def dirty() -> pd.DataFrame:
    return make_ledger(3000, 120, seed=11, dirty=0.2)


def _csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def _read_back(path, **kw) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


def test_chart_of_accounts_is_complete_and_cp949_safe():
    # given the shipped chart of accounts
    chart = load_chart()
    # then it covers the standard accounts, every category, and only cp949-encodable text
    assert len(chart) >= 230 and chart["code"].is_unique
    assert set(chart["category"]) == {"자산", "부채", "자본", "수익", "비용"}
    for code in (
        "101",
        "103",
        "108",
        "131",
        "134",
        "135",
        "146",
        "212",
        "251",
        "253",
        "254",
        "255",
        "401",
        "801",
        "802",
        "811",
        "812",
        "813",
        "814",
        "815",
        "817",
        "819",
        "820",
        "821",
        "822",
        "824",
        "826",
        "830",
        "831",
        "833",
        "901",
        "931",
    ):
        assert code in set(chart["code"]), code
    for col in ("vendors", "keywords"):
        sizes = chart[col].str.split("|").str.len()
        assert sizes.between(3, 8).all(), chart.loc[~sizes.between(3, 8), "code"].tolist()
    for col in chart.columns:
        for value in chart[col].astype(str):
            value.encode("cp949")
    assert chart["amount_sigma"].between(0.3, 1.5).all() and (chart["amount_median"] > 0).all()


def test_chart_location_follows_env_override(tmp_path, monkeypatch):
    # given a conf folder elsewhere holding a two-account chart
    full = load_chart()
    full.head(2).to_csv(tmp_path / "chart_of_accounts.csv", index=False)
    monkeypatch.setenv("ACCOUNT_TAX_CONF", str(tmp_path))
    # when the chart is loaded without a path
    chart = load_chart()
    # then it is the overriding one, and asking for more accounts than it has names the maximum
    assert len(chart) == 2
    with pytest.raises(ValueError, match="maximum is 2"):
        make_ledger(10, 3)


def test_same_seed_gives_identical_output_and_other_seeds_differ():
    # given two calls with the same arguments, and one with another seed
    a = make_ledger(1500, 60, seed=3, dirty=0.1)
    b = make_ledger(1500, 60, seed=3, dirty=0.1)
    c = make_ledger(1500, 60, seed=4, dirty=0.1)
    # then the first two are byte-identical and the third is not
    assert _csv_bytes(a) == _csv_bytes(b)
    assert _csv_bytes(a) != _csv_bytes(c)


def test_headers_are_exact_and_all_cells_are_strings(clean):
    # given a clean ledger
    # then the headers are exactly the Korean export's, in order, and every cell is a str
    assert list(clean.columns) == EXPECTED_HEADERS == list(synth_vocab().headers)
    assert len(clean) == 3000
    assert all(pd.api.types.is_string_dtype(clean[c]) for c in clean.columns)
    assert not clean.isna().any().any()


def test_label_frequencies_are_zipf_like_with_a_rare_tail():
    # given 2000 rows over 50 accounts
    df = make_ledger(2000, 50, seed=5)
    counts = df["계정코드"].value_counts()
    # then every account appears, at least 3 have <= 3 rows, and the head dwarfs the median
    assert len(counts) == 50
    assert (counts <= 3).sum() >= 3
    assert counts.iloc[0] > 10 * counts.median()


def test_clean_ledger_is_consistent(clean):
    # given a clean ledger
    df = clean
    # then there are no duplicates, amounts are plain integers, dates ISO and VAT columns add up
    assert not df.duplicated().any()
    amounts = df["금액"].map(int)
    assert (amounts > 0).all()
    assert pd.to_datetime(df["일자"], format="%Y-%m-%d").between("2023-01-01", "2024-12-31").all()
    assert df["전표번호"].str.fullmatch(r"\d{8}-\d{5}").all() and df["전표번호"].is_unique
    assert (df["전표번호"].str[:8] == df["일자"].str.replace("-", "")).all()
    with_vat = df["부가세"] != ""
    assert with_vat.any()
    supply, vat = df.loc[with_vat, "공급가액"].map(int), df.loc[with_vat, "부가세"].map(int)
    assert (supply + vat == amounts[with_vat]).all()
    taxed = with_vat & (df["부가세"] != "0")
    ratio = df.loc[taxed, "부가세"].map(int) / df.loc[taxed, "공급가액"].map(int)
    assert ratio.between(0.09, 0.11).all()
    assert set(df["증빙구분"]) <= CANONICAL_EVIDENCE
    assert (df.loc[df["증빙구분"] == "신용카드", "결제수단"] == "법인카드").all()
    for col in ("일자", "거래처", "적요", "금액", "계정코드", "계정과목"):
        assert (df[col] != "").all(), col
    assert (df["적요"] == df["적요"].str.strip()).all()
    # and a vendor's registration number never changes
    assert (df[df["사업자번호"] != ""].groupby("거래처")["사업자번호"].nunique() == 1).all()


def test_dirty_ledger_has_every_kind_of_dirt_and_keeps_the_row_count(dirty):
    # given a ledger with 20% dirty rows
    df = dirty
    # then the row count is unchanged and the dirt counts add up
    assert len(df) == 3000
    assert sum(df.attrs["dirt"].values()) == 600
    # and it holds duplicates, formatted amounts, several date formats, spaces and alternative spellings
    assert df.duplicated().sum() > 0
    assert df["금액"].str.endswith("원").any()
    assert df["금액"].str.contains("[₩￦]").any()
    assert df["금액"].str.contains(",").any()
    date_shapes = {re.sub(r"\d", "9", d) for d in df["일자"]}
    assert {"9999-99-99", "9999.99.99", "99999999", "9999/99/99"} <= date_shapes
    spaced = r"^\s|\s$|  |\u3000"
    assert df["거래처"].str.contains(spaced).any() and df["적요"].str.contains(spaced).any()
    assert (~df["증빙구분"].isin(CANONICAL_EVIDENCE | {""})).any()
    # and some rows are invalid: unparsable amounts, impossible dates, blank labels
    assert df["금액"].isin(["abc", "N/A", "12O00", "확인필요"]).any()
    assert pd.to_datetime(df["일자"], format="%Y-%m-%d", errors="coerce").isna().sum() > 0
    assert (df["계정코드"] == "").any()


def test_cp949_csv_round_trip(tmp_path, dirty):
    # given a dirty ledger (it holds "₩", which cp949 lacks)
    path = tmp_path / "nested" / "ledger.csv"
    # when it is written as cp949 and read back
    write_ledger(dirty, str(path), encoding="cp949")
    back = _read_back(path, encoding="cp949")
    # then it is equal, with "₩" written as its cp949 look-alike
    expected = dirty.copy()
    for bad, good in CP949_REPLACEMENTS.items():
        expected = expected.apply(lambda s, b=bad, g=good: s.str.replace(b, g, regex=False))
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")


def test_utf8_sig_csv_round_trip(tmp_path, dirty):
    # given a dirty ledger written as utf-8 with a BOM
    path = write_ledger(dirty, str(tmp_path / "ledger.csv"), encoding="utf-8-sig")
    # then the file starts with the BOM and reads back equal
    with open(path, "rb") as f:
        assert f.read(3) == b"\xef\xbb\xbf"
    pd.testing.assert_frame_equal(_read_back(path, encoding="utf-8-sig"), dirty, check_dtype=False)


def test_xlsx_and_parquet_round_trip(tmp_path):
    # given a small dirty ledger
    df = make_ledger(400, 60, seed=2, dirty=0.3)
    # when written as xlsx and parquet (format from the extension)
    xlsx = write_ledger(df, str(tmp_path / "out" / "ledger.xlsx"))
    parquet = write_ledger(df, str(tmp_path / "out" / "ledger.parquet"))
    # then both read back equal
    back_x = pd.read_excel(xlsx, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back_x, df, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), df, check_dtype=False)


def test_write_to_fsspec_url_and_explicit_format():
    # given an in-memory fsspec URL without a telling extension
    url = "memory://synth-test/deep/folder/ledger.dat"
    df = make_ledger(200, 30, seed=1)
    # when written with an explicit format
    assert write_ledger(df, url, fmt="csv") == url
    # then it reads back equal
    with fsspec.open(url, "rb") as f:
        back = _read_back(io.BytesIO(f.read()))
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    with pytest.raises(ValueError):
        write_ledger(df, "memory://synth-test/ledger.dat")


def test_too_many_accounts_is_refused():
    # given the chart's size
    n = len(load_chart())
    # then asking for one more account fails and names the maximum, while all of them is fine
    with pytest.raises(ValueError, match=f"maximum is {n}"):
        make_ledger(100, n + 1)
    assert make_ledger(n, n, seed=0)["계정코드"].nunique() == n


def test_label_is_learnable_but_not_trivially():
    # given a clean ledger and a rule: the most frequent label per (vendor, first word of 적요)
    df = make_ledger(5000, 120, seed=7)
    key = df["거래처"] + "|" + df["적요"].str.split(" ").str[0]
    half = len(df) // 2
    rule = df.iloc[:half].assign(k=key.iloc[:half]).groupby("k")["계정코드"].agg(lambda s: s.mode().iloc[0])
    in_sample = df.assign(k=key).groupby("k")["계정코드"].agg(lambda s: s.mode().iloc[0])
    chance = df["계정코드"].value_counts(normalize=True).iloc[0]
    # when it predicts the rows
    fit_acc = (key.map(in_sample) == df["계정코드"]).mean()
    holdout_acc = (key.iloc[half:].map(rule) == df["계정코드"].iloc[half:]).mean()
    # then it beats the majority class by far but is not perfect
    assert chance < 0.4
    assert fit_acc > chance + 0.3 and holdout_acc > chance + 0.3
    assert fit_acc < 0.99


def test_chart_copy_without_value_maps_still_generates_dirt(tmp_path, monkeypatch):
    # given a conf folder with the chart but no value_maps.yaml
    shutil.copy(conf_dir() / "chart_of_accounts.csv", tmp_path)
    monkeypatch.setenv("ACCOUNT_TAX_CONF", str(tmp_path))
    # when a dirty ledger is made
    df = make_ledger(500, 40, seed=0, dirty=0.2)
    # then it still has the requested size and dirt
    assert len(df) == 500 and sum(df.attrs["dirt"].values()) == 100


@pytest.mark.parametrize("bad", [{"rows": -1}, {"dirty": 1.5}, {"accounts": 0}, {"mispostings": -0.1}])
def test_bad_arguments_are_refused(bad):
    args = {"rows": 10, "accounts": 5, "dirty": 0.0, "mispostings": 0.0} | bad
    with pytest.raises(ValueError):
        make_ledger(args["rows"], args["accounts"], dirty=args["dirty"], mispostings=args["mispostings"])
