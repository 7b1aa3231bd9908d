"""The table-quality metrics: identical tables score 1, a broken trend or shape shows where it
broke, detection tells obvious fakes, efficacy picks its target, DCR finds copies, and odd tables
(all missing, constant, one category, ten rows, text vs numbers) never stop the report."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from vaekit.evaluation.table_associations import association_matrix, correlation_ratio, cramers_v
from vaekit.evaluation.table_columns import category_keys, column_groups, shared_codes
from vaekit.evaluation.table_quality import (
    column_shapes,
    detection_auc,
    distance_to_closest_record,
    ml_efficacy,
    pair_trends,
    pick_target,
    quality_score,
    table_quality_report,
)
from vaekit.runtime.errors import VaekitWarning

KINDS = {"x": "continuous", "y": "continuous", "k": "count", "c": "categorical", "b": "binary"}


def make_table(n: int, seed: int) -> pd.DataFrame:
    """Numbers and categories that go together: y follows x, the category c and flag b follow x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": x + 0.3 * rng.normal(size=n),
            "k": rng.poisson(np.exp(0.5 * x + 1)),
            "c": np.where(x < -0.5, "low", np.where(x < 0.5, "mid", "high")),
            "b": (x + 0.5 * rng.normal(size=n) > 0).astype(int),
            "id": np.arange(n),  # an identifier: not in KINDS, so never compared
        }
    )


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return make_table(400, seed=0)


def test_identical_tables_score_one_and_cannot_be_told_apart(real):
    shapes = column_shapes(real, real.copy(), KINDS)
    trends = pair_trends(real, real.copy(), KINDS)
    assert set(shapes) == set(KINDS)
    assert set(trends) == {"x|y", "x|k", "x|c", "x|b", "y|k", "y|c", "y|b", "k|c", "k|b", "c|b"}
    assert all(v == pytest.approx(1.0) for v in shapes.values())
    assert all(v == pytest.approx(1.0) for v in trends.values())
    assert quality_score(shapes, trends) == pytest.approx(1.0)
    half = real.iloc[:200]
    assert abs(detection_auc(half, half.copy(), KINDS) - 0.5) < 0.1


def test_shuffled_columns_keep_their_shapes_but_lose_their_trends(real):
    rng = np.random.default_rng(1)
    shuffled = real.copy()
    for name in KINDS:
        shuffled[name] = rng.permutation(shuffled[name].to_numpy())
    shapes, trends = column_shapes(real, shuffled, KINDS), pair_trends(real, shuffled, KINDS)
    assert all(v == pytest.approx(1.0) for v in shapes.values())
    assert trends["x|y"] < 0.6  # r ~ 0.96 real, ~ 0 shuffled: 1 - 0.96 / 2
    assert trends["x|c"] < 0.8 and trends["c|b"] < 0.9
    assert quality_score(shapes, trends) < 0.95


def test_a_shifted_column_lowers_its_own_shape_score_only(real):
    shifted = real.assign(x=real["x"] + 1.0)
    shapes = column_shapes(real, shifted, KINDS)
    assert 0.5 < shapes["x"] < 0.75  # KS of N(0,1) vs N(1,1) is about 0.38
    assert all(shapes[name] == pytest.approx(1.0) for name in KINDS if name != "x")
    relabelled = real.assign(c=real["c"].replace({"low": "mid"}))
    assert column_shapes(real, relabelled, KINDS)["c"] == pytest.approx(1 - (real["c"] == "low").mean())


def test_shapes_and_trends_treat_missing_cells_as_the_brief_says(real):
    holed = real.copy()
    holed.loc[:199, "c"] = None  # half the categories missing: a category of its own
    holed.loc[:199, "x"] = np.nan  # half the numbers missing: KS on the present ones
    shapes = column_shapes(real, holed, KINDS)
    assert shapes["c"] < 0.6
    assert shapes["x"] > 0.8
    assert not math.isnan(pair_trends(real, holed, KINDS)["x|y"])  # rows with both present


def test_detection_of_obviously_different_data_is_near_one(real):
    fake = make_table(400, seed=2).assign(x=lambda t: t["x"] + 4.0, c="mid")
    assert detection_auc(real, fake, KINDS) > 0.95


def test_ml_efficacy_picks_the_last_category_or_the_given_target(real):
    assert pick_target(KINDS) == ("b", "category")
    assert pick_target({"x": "continuous", "k": "count", "id": "ignore"}) == ("k", "number")
    assert pick_target({}) == (None, None)
    with pytest.raises(ValueError, match="not a modelled column"):
        pick_target(KINDS, "id")
    train, test = make_table(400, seed=3), make_table(200, seed=4)
    result = ml_efficacy(train, real, test, KINDS)
    assert result["target"] == "b" and result["task"] == "classification"
    assert result["real"]["accuracy"] > 0.7 and result["synthetic"]["accuracy"] > 0.7
    assert 0.8 < result["ratio"]["accuracy"] < 1.2
    assert set(result["real"]) == {"accuracy", "macro_f1"}
    regression = ml_efficacy(train, real, test, KINDS, target="y")
    assert regression["task"] == "regression" and regression["real"]["r2"] > 0.8
    useless = real.assign(y=np.random.default_rng(5).normal(size=len(real)))  # y no longer follows x
    assert ml_efficacy(train, useless, test, KINDS, target="y")["ratio"]["r2"] < 0.2


def test_dcr_finds_exact_copies_and_compares_with_new_real_rows(real):
    holdout = make_table(200, seed=6)
    copies = pd.concat([real.iloc[:100], make_table(100, seed=7)], ignore_index=True)
    result = distance_to_closest_record(real, copies, holdout, KINDS)
    assert result["exact_copies"]["synthetic"] == pytest.approx(0.5)
    assert result["exact_copies"]["holdout"] == 0.0
    assert result["synthetic"]["p5"] == 0.0 and result["holdout"]["p5"] > 0.0
    assert result["synthetic"]["median"] <= result["holdout"]["median"]
    fresh = distance_to_closest_record(real, make_table(200, seed=8), holdout, KINDS)
    assert fresh["exact_copies"]["synthetic"] == 0.0
    assert 0.5 < fresh["median_ratio"] < 2.0  # new rows from the same law sit as far as real ones


def test_category_keys_match_across_int_float_and_text_labels():
    frames = [
        pd.DataFrame({"c": [1, 2, 2]}),
        pd.DataFrame({"c": [1.0, np.nan, 2.0]}),
        pd.DataFrame({"c": ["1", None, "2"]}),
    ]
    keys = [category_keys(f, "c") for f in frames]
    assert [list(k) for k in keys] == [["1", "2", "2"], ["1", "(missing)", "2"], ["1", "(missing)", "2"]]
    codes, vocabulary = shared_codes(keys)
    assert vocabulary[0] == "2" and list(codes[0]) == [1, 0, 0]
    with pytest.raises(ValueError, match="unknown kind"):
        column_groups({"a": "float"})


def test_associations_are_pearson_cramers_v_and_eta(real):
    names, matrix = association_matrix(real, KINDS)
    assert names == list(KINDS) and np.allclose(matrix, matrix.T, equal_nan=True)
    assert matrix[0, 1] == pytest.approx(np.corrcoef(real["x"], real["y"])[0, 1])
    a = np.array([0, 0, 1, 1] * 25)
    assert cramers_v(a, a) == pytest.approx(1.0) and cramers_v(a, np.roll(a, 1)) < 0.1
    assert math.isnan(cramers_v(a, np.zeros_like(a)))
    assert correlation_ratio(a, a * 10.0) == pytest.approx(1.0)
    assert math.isnan(correlation_ratio(a, np.ones(a.size)))


def odd_tables() -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(what, real, synthetic) pairs that must not stop any metric."""
    base = make_table(60, seed=9)
    tiny = make_table(10, seed=10)
    return [
        ("all missing on one side", base, base.assign(x=np.nan, c=None)),
        ("all missing on both sides", base.assign(y=np.nan), base.assign(y=np.nan)),
        ("constant columns", base.assign(x=1.0, k=3), base.assign(x=1.0, k=3)),
        ("one category", base.assign(c="only", b=1), base.assign(c="only", b=1)),
        ("ten rows", tiny, make_table(10, seed=11)),
        ("three against two rows", tiny.iloc[:3], tiny.iloc[3:5]),
        ("text vs number categories", base.assign(b=np.where(base["b"] == 1, "yes", "no")), base),
        ("text in a number column", base, base.assign(y=["n/a"] * 30 + list(base["y"].iloc[30:]))),
        ("a column absent from synthetic", base, base.drop(columns=["k"])),
        ("no synthetic rows", base, base.iloc[:0]),
    ]


@pytest.mark.filterwarnings("ignore:.*exact copies of training rows:vaekit.runtime.errors.VaekitWarning")  # real rows as both sides
@pytest.mark.parametrize("what, odd_real, odd_synthetic", odd_tables(), ids=[t[0] for t in odd_tables()])
def test_odd_tables_never_stop_the_report(what, odd_real, odd_synthetic):
    report = table_quality_report(odd_real, odd_real, odd_synthetic, KINDS)
    json.dumps(report, allow_nan=False)  # strict JSON: NaN became None
    assert set(report) >= {"quality", "column_shapes", "pair_trends", "detection", "ml_efficacy", "privacy", "notes"}
    for name, entry in report["column_shapes"].items():
        assert entry["score"] is None or 0.0 <= entry["score"] <= 1.0, name
        assert entry["score"] is not None or entry.get("note"), name
    for pair, entry in report["pair_trends"].items():
        assert entry["score"] is None or 0.0 <= entry["score"] <= 1.0, pair
    auc = report["detection"]["auc"]
    assert auc is None or 0.0 <= auc <= 1.0


@pytest.mark.filterwarnings("ignore:.*exact copies of training rows:vaekit.runtime.errors.VaekitWarning")  # real rows as both sides
def test_undefined_numbers_are_nan_with_a_note():
    base = make_table(60, seed=12)
    details = table_quality_report(base, base, base.assign(x=np.nan), KINDS)
    assert details["column_shapes"]["x"]["score"] is None
    assert "synthetic" in details["column_shapes"]["x"]["note"]
    assert details["quality"]["not_computed"]["column_shapes"] == ["x"]
    assert details["pair_trends"]["x|y"]["score"] is None and details["pair_trends"]["x|y"]["note"]
    assert math.isnan(column_shapes(base, base.assign(x=np.nan), KINDS)["x"])
    constant = base.assign(y=2.0)
    assert math.isnan(pair_trends(constant, constant, KINDS)["x|y"])
    assert math.isnan(detection_auc(base.iloc[:1], base, KINDS))
    empty = ml_efficacy(base, base.iloc[:0], base, KINDS)
    assert math.isnan(empty["synthetic"]["accuracy"]) and "synthetic" in empty["note"]
    assert math.isnan(quality_score({}, {}))


def test_report_puts_everything_in_one_rounded_dict(real):
    train, holdout = make_table(400, seed=13), make_table(150, seed=14)
    report = table_quality_report(train, holdout, real, KINDS, target="c", seed=1)
    assert report["rows"] == {"train": 400, "holdout": 150, "synthetic": 400}
    assert report["columns"] == {"number": ["x", "y", "k"], "category": ["c", "b"]}
    quality = report["quality"]
    assert 0.8 < quality["score"] <= 1.0 and 0.8 < quality["reference_score"] <= 1.0
    assert quality["score"] == pytest.approx((quality["column_shapes"] + quality["pair_trends"]) / 2, abs=1e-3)
    assert report["pair_trends"]["x|y"]["metric"] == "correlation" and "real" in report["pair_trends"]["x|y"]
    assert report["pair_trends"]["x|c"]["metric"] == "contingency"
    assert report["detection"]["auc"] < 0.75  # the same law on both sides
    assert report["ml_efficacy"]["target"] == "c"
    assert report["privacy"]["exact_copies"]["synthetic"] == 0.0
    assert all(isinstance(v, float) and round(v, 4) == v for v in report["seconds"].values() if v)
    assert set(report["notes"]) >= {"column_shapes", "pair_trends", "detection", "ml_efficacy", "privacy"}
    text = json.dumps(report, allow_nan=False)
    assert len(str(report["quality"]["score"])) <= 6 and "id" not in report["column_shapes"] and text


def test_the_report_warns_once_when_the_held_out_rows_are_training_rows(real):
    train = make_table(300, seed=15)
    with pytest.warns(VaekitWarning) as caught:
        report = table_quality_report(train, train.iloc[:120], real, KINDS, target="c", seed=1)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert str(caught[0].message).startswith("120 of the 120 real rows judged (100%) are exact copies of training rows")
    assert "held-out figures" in str(caught[0].message) and "not held out" in str(caught[0].message)
    assert report["privacy"]["exact_copies"] == {"synthetic": 0.0, "holdout": 1.0, "train": 0.0}
    assert report["warnings"] == [str(caught[0].message)]


def test_new_rows_that_repeat_training_rows_by_chance_are_no_warning(real):
    # Two flags: every row repeats another, held out or not, so copies are no sign of training rows.
    rng = np.random.default_rng(16)
    flags = pd.DataFrame({"c": rng.choice(["a", "b"], 400), "b": rng.integers(0, 2, 400)})
    kinds = {"c": "categorical", "b": "binary"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", VaekitWarning)
        report = table_quality_report(flags.iloc[:300], flags.iloc[300:], flags.iloc[:100], kinds, seed=1)
        fresh = table_quality_report(make_table(300, seed=17), make_table(100, seed=18), real, KINDS, seed=1)
    assert report["privacy"]["exact_copies"]["holdout"] == 1.0 and report["privacy"]["exact_copies"]["train"] == 1.0
    assert "warnings" not in report and "warnings" not in fresh
