"""TableCodec: layout and blocks, round trips, missing cells, point masses, the log Jacobian,
clipping and rounding, dtypes, conditions, bad new data, and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from vaekit.data.tables import TableCodec, infer_schema, read_table
from vaekit.data.tables.modes import Modes
from vaekit.data.tables.numbers import Numbers
from vaekit.runtime.errors import DataError, VaekitWarning

from .conftest import real_table


def fitted(df: pd.DataFrame, **options) -> TableCodec:
    kinds = options.pop("kinds", None)
    return TableCodec.fit(df, infer_schema(df, kinds=kinds), **options)


def assert_same_observed_cells(df: pd.DataFrame, back: pd.DataFrame, rtol: float = 1e-5) -> None:
    """The decoded table has df's columns, order and dtypes, and df's value in every observed cell."""
    assert list(back.columns) == list(df.columns)
    assert back.dtypes.astype(str).to_dict() == df.dtypes.astype(str).to_dict()
    assert not back.isna().any().any()
    for name in df.columns:
        observed = ~df[name].isna().to_numpy()
        a, b = df[name][observed], back[name][observed]
        if pd.api.types.is_float_dtype(a.dtype):
            # x is float32: a standardised slot keeps about 7 digits of the column's spread
            spread = float(a.max() - a.min()) or 1.0
            np.testing.assert_allclose(
                b.to_numpy(float), a.to_numpy(float), rtol=rtol, atol=1e-6 * spread, err_msg=name
            )
        else:
            assert a.tolist() == b.tolist(), name


def zero_inflated(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dollars = np.where(rng.random(n) < 0.3, 0.0, np.round(rng.lognormal(4.0, 1.2, n), 2))
    flag = np.where(rng.random(n) < 0.96, rng.integers(0, 2, n).astype(float), rng.random(n))
    return pd.DataFrame({"dollars": dollars, "flag": flag, "height": rng.normal(170.0, 10.0, n)})


@pytest.mark.parametrize("continuous", ["auto", "standard", "modes"])
def test_encode_then_decode_gives_the_table_back(frame, continuous):
    codec = fitted(frame, continuous=continuous)
    x = codec.encode(frame)
    assert x.dtype == np.float32 and x.shape == (len(frame), codec.width)
    assert_same_observed_cells(frame, codec.decode(x))
    assert_same_observed_cells(frame, codec.decode(x[:, : codec.value_width]))
    assert_same_observed_cells(frame, codec.decode(torch.from_numpy(x)))


def test_blocks_tile_the_value_slots_and_point_into_the_mask_area(frame):
    for codec in (fitted(zero_inflated()), fitted(frame), fitted(frame, continuous="modes")):
        slots = []
        for block in codec.blocks:
            slots += list(range(block["slot"], block["slot"] + block.get("size", 1)))
            assert codec.value_width <= block["mask"] < codec.width
        assert slots == list(range(codec.value_width))
        masks = sorted({b["mask"] for b in codec.blocks})
        assert masks == list(range(codec.value_width, codec.width))
        json.dumps(codec.blocks)


def test_the_kinds_become_their_blocks(frame):
    codec = fitted(frame)
    kinds = [(b["column"], b["kind"]) for b in codec.blocks]
    assert kinds == [
        ("species", "categorical"),
        ("body_mass_g", "gaussian"),
        ("bill_length_mm", "gaussian"),
        ("sex", "bernoulli"),
        ("adult", "bernoulli"),
        ("site", "categorical"),
        ("visits", "negbin"),
        # whether the cell is missing, for the columns with missing training cells
        ("body_mass_g", "bernoulli"),
        ("bill_length_mm", "bernoulli"),
        ("sex", "bernoulli"),
    ]
    negbin = next(b for b in codec.blocks if b["kind"] == "negbin")
    logs = np.log1p(frame["visits"].to_numpy())
    assert negbin["shift"] == pytest.approx(logs.mean()) and negbin["scale"] == pytest.approx(logs.std())
    x = codec.encode(frame)
    counts = np.rint(np.expm1(x[:, negbin["slot"]] * negbin["scale"] + negbin["shift"]))
    assert counts.tolist() == frame["visits"].tolist()


def test_missing_cells_get_mask_zero_and_value_zero(frame):
    codec = fitted(frame)
    x = codec.encode(frame)
    by_column = value_blocks(codec)
    for name, rows in (("sex", [3, 7]), ("body_mass_g", [1, 5]), ("bill_length_mm", [2])):
        block = by_column[name]
        assert (x[rows, block["mask"]] == 0).all() and (x[rows, block["slot"]] == 0).all()
        others = np.setdiff1d(np.arange(len(frame)), rows)
        assert (x[others, block["mask"]] == 1).all()
        # The missingness block: its slot is 1 exactly where the cell is missing, scored in every row.
        gone = next(b for b in codec.blocks if b["column"] == name and b["slot"] >= codec.value_width - 3)
        assert x[:, gone["slot"]].tolist() == [float(i in rows) for i in range(len(frame))]
        assert (x[:, gone["mask"]] == 1).all()


def test_decode_puts_missing_cells_back_only_when_asked(frame):
    codec = fitted(frame)
    x = codec.encode(frame)
    assert not codec.decode(x).isna().any().any()
    again = codec.decode(x, missing=True)
    assert again.isna().to_numpy().tolist() == frame[codec.columns].isna().to_numpy().tolist()
    assert str(again["body_mass_g"].dtype) == "Int64"
    assert codec.missing_columns == ["body_mass_g", "bill_length_mm", "sex"]
    assert TableCodec.from_dict(codec.to_dict()).missing_columns == codec.missing_columns


def value_blocks(codec):
    """Each column's first block (the missingness blocks come after all value blocks)."""
    first = {}
    for block in codec.blocks:
        first.setdefault(block["column"], block)
    return first


def test_a_zero_inflated_amount_is_a_point_mass_plus_a_log_gaussian():
    df = zero_inflated()
    codec = fitted(df)
    blocks = [b for b in codec.blocks if b["column"] == "dollars"]
    assert [b["kind"] for b in blocks] == ["bernoulli", "gaussian"]
    spike, rest = blocks
    x = codec.encode(df)
    zeros = df["dollars"].to_numpy() == 0
    assert x[:, spike["slot"]].mean() == pytest.approx(zeros.mean())
    assert (x[:, spike["mask"]] == 1).all()
    assert (x[:, rest["mask"]] == ~zeros).all() and (x[zeros, rest["slot"]] == 0).all()
    transform = codec.to_dict()["columns"][0]["transform"]
    assert transform["spikes"] == [0.0] and transform["rest"]["log"] and transform["rest"]["offset"] > 0
    # the log makes the rest nearly symmetric
    slots = x[~zeros, rest["slot"]]
    assert abs(np.mean(slots**3)) < 0.5 and slots.std() == pytest.approx(1.0, rel=1e-3)
    assert_same_observed_cells(df, codec.decode(x))


def test_two_point_masses_and_a_rest_are_one_categorical_and_a_gaussian():
    df = zero_inflated()
    codec = fitted(df)
    blocks = [b for b in codec.blocks if b["column"] == "flag"]
    assert [(b["kind"], b.get("size")) for b in blocks] == [("categorical", 3), ("gaussian", None)]
    x = codec.encode(df)
    cat = x[:, blocks[0]["slot"] : blocks[0]["slot"] + 3]
    flag = df["flag"].to_numpy()
    assert cat[:, 0].mean() == pytest.approx((flag == 0).mean())
    assert cat[:, 1].mean() == pytest.approx((flag == 1).mean())
    assert cat[:, 2].mean() == pytest.approx(((flag != 0) & (flag != 1)).mean())


def test_standard_has_no_point_masses():
    codec = fitted(zero_inflated(), continuous="standard")
    assert [b["kind"] for b in codec.blocks] == ["gaussian"] * 3


@pytest.mark.parametrize("transform", ["log", "standard", "modes"])
def test_log_jacobian_is_the_derivative_of_the_slot(transform):
    rng = np.random.default_rng(2)
    values = np.concatenate([np.zeros(60), rng.lognormal(3.0, 1.0, 340)])
    if transform == "modes":
        t = Modes.fit(np.concatenate([rng.normal(-5, 1, 200), rng.normal(5, 2, 200)]), seed=0)
        x = np.array([-6.0, -4.5, 3.0, 7.5])
        slot = t.size
    else:
        t = Numbers.fit(values, low=0.0, method="auto" if transform == "log" else "standard")
        assert t.rest["log"] == (transform == "log")
        x = np.array([0.5, 3.0, 20.0, 150.0])
        slot = t.head
    h = 1e-6 * np.maximum(np.abs(x), 1.0)
    slope = (t.encode(x + h)[0][:, slot] - t.encode(x - h)[0][:, slot]) / (2 * h)
    np.testing.assert_allclose(t.log_jacobian(x), np.log(np.abs(slope)), rtol=1e-6, atol=1e-6)


def test_log_jacobian_makes_the_rest_a_density_in_data_units():
    # A standard normal in slot units, carried back to dollars by the Jacobian, integrates to 1.
    codec = fitted(zero_inflated()[["dollars"]])
    rest = codec.to_dict()["columns"][0]["transform"]["rest"]
    grid = np.linspace(1e-4, 60_000.0, 2_000_001)
    frame = pd.DataFrame({"dollars": grid})
    slot = codec.encode(frame)[:, 1].astype(np.float64)
    density = np.exp(-0.5 * slot**2 - 0.5 * np.log(2 * np.pi) + codec.log_jacobian(frame))
    low = rest["low"] - rest["offset"]
    assert np.trapezoid(density, grid) == pytest.approx(
        1.0 - _normal_cdf((np.log(grid[0] - low) - rest["mean"]) / rest["std"]), abs=2e-3
    )
    # point masses and missing cells add nothing
    assert codec.log_jacobian(pd.DataFrame({"dollars": [0.0, np.nan]})).tolist() == [0.0, 0.0]


def _normal_cdf(z: float) -> float:
    from math import erf, sqrt

    return 0.5 * (1 + erf(z / sqrt(2)))


def test_decode_clips_to_the_observed_range_and_rounds_whole_numbers(frame):
    codec = fitted(frame, continuous="standard")
    x = codec.encode(frame)
    by_column = value_blocks(codec)
    wild = x.copy()
    for name in ("body_mass_g", "bill_length_mm"):
        wild[0, by_column[name]["slot"]] = 50.0
        wild[1, by_column[name]["slot"]] = -50.0
    wild[2, by_column["body_mass_g"]["slot"]] = 0.123  # between two whole numbers
    clipped = codec.decode(wild)
    for name in ("body_mass_g", "bill_length_mm"):
        assert clipped[name][0] == frame[name].max() and clipped[name][1] == frame[name].min()
    loose = codec.decode(wild, clip=False)
    assert loose["body_mass_g"][0] > frame["body_mass_g"].max()
    assert loose["bill_length_mm"][1] < frame["bill_length_mm"].min()
    assert str(loose["body_mass_g"].dtype) == "Int64" and float(loose["body_mass_g"][2]).is_integer()


def test_decode_keeps_dtypes_as_read():
    n = 40
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "label": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]),
            "kept": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "small": rng.normal(0, 1, n).astype(np.float32),
            "code": rng.choice([10, 20, 30], n).astype(np.int32),
            "obj": pd.Series(rng.choice(["u", "v", "w"], n), dtype=object),
        }
    )
    codec = fitted(df)
    back = codec.decode(codec.encode(df))
    assert back.dtypes.astype(str).to_dict() == {
        "label": "category",
        "kept": "boolean",
        "small": "float32",
        "code": "int32",
        "obj": "object",
    }
    assert list(back["label"].cat.categories) == ["lo", "mid", "hi"]
    assert_same_observed_cells(df, back)


def test_whole_numbers_declared_continuous_come_back_as_floats(frame):
    codec = fitted(frame, kinds={"site": "continuous"})
    back = codec.decode(codec.encode(frame))
    assert str(back["site"].dtype) == "float64"


def test_ignored_columns_are_left_out_and_may_be_absent(frame):
    df = frame.assign(row=np.arange(len(frame)))
    codec = fitted(df, kinds={"row": "ignore"})
    assert "row" not in codec.columns and "row" not in codec.decode(codec.encode(df)).columns
    np.testing.assert_array_equal(codec.encode(df), codec.encode(frame))


def test_bad_new_data_is_refused_with_the_fix(frame):
    codec = fitted(frame)
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'site'.*add them"):
        codec.encode(frame.drop(columns="site"))
    with pytest.raises(DataError, match="not trained on: 'extra'; drop them"):
        codec.encode(frame.assign(extra=1))
    emperor = frame.copy()
    emperor.loc[4, "species"] = "Emperor"
    with pytest.raises(DataError) as caught:
        codec.encode(emperor)
    message = str(caught.value)
    assert "column 'species'" in message and "'Emperor' (row 5)" in message
    assert "known values: Adelie, Chinstrap, Gentoo" in message and "leave it empty" in message
    text = frame.assign(bill_length_mm=frame["bill_length_mm"].astype(object))
    text.loc[6, "bill_length_mm"] = "long"
    with pytest.raises(DataError, match=r"'bill_length_mm' is numeric .*'long' \(row 7\)"):
        codec.encode(text)
    negative = frame.assign(visits=frame["visits"] - 100)
    with pytest.raises(DataError, match="'visits' is a count but has values that are not whole numbers >= 0"):
        codec.encode(negative)
    huge = frame.assign(bill_length_mm=frame["bill_length_mm"].where(frame.index != 2, 1e300))
    with pytest.raises(DataError, match=r"'bill_length_mm' has cells too large to encode .*1e\+300 \(row 3\)"):
        codec.encode(huge)


def test_a_misread_file_gets_a_hint_about_its_header_or_delimiter(frame, tmp_path):
    from vaekit.tables import read_rows

    codec = fitted(frame)
    frame.to_csv(tmp_path / "semicolons.csv", sep=";", index=False)
    with pytest.raises(DataError, match="reads as one column named .*which holds semicolons"):
        read_rows(tmp_path / "semicolons.csv")  # refused as it is read, before any model sees it
    with pytest.raises(DataError, match="read as one column named .*separated by something else"):
        codec.encode(pd.read_csv(tmp_path / "semicolons.csv"))  # a DataFrame read by commas in Python
    frame.to_csv(tmp_path / "headless.csv", header=False, index=False)
    with pytest.raises(DataError, match="seems to lack its header line"), pytest.warns(VaekitWarning, match="first line"):
        codec.encode(read_rows(tmp_path / "headless.csv"))
    with pytest.raises(DataError) as caught:
        codec.encode(frame.drop(columns="site"))
    assert "header" not in str(caught.value) and "separated" not in str(caught.value)


def test_new_rows_with_only_missing_cells_or_text_codes_encode(frame):
    codec = fitted(frame)
    row = frame.iloc[:1].copy()
    row.loc[0, ["bill_length_mm", "species"]] = np.nan
    x = codec.encode(row)
    assert x.shape == (1, codec.width)
    as_text = frame.assign(site=frame["site"].astype(str))  # codes read as text still match
    np.testing.assert_array_equal(codec.encode(as_text), codec.encode(frame))


def test_json_round_trip_is_exact(frame):
    for codec in (fitted(frame), fitted(frame, continuous="modes"), fitted(frame, condition_on=["species"])):
        d = codec.to_dict()
        again = TableCodec.from_dict(json.loads(json.dumps(d)))
        assert again.to_dict() == d
        np.testing.assert_array_equal(again.encode(frame), codec.encode(frame))
        np.testing.assert_array_equal(again.log_jacobian(frame), codec.log_jacobian(frame))
    tampered = fitted(frame).to_dict()
    tampered["columns"][1]["transform"]["type"] = "weird"
    with pytest.raises(DataError, match="unknown column transform 'weird'"):
        TableCodec.from_dict(tampered)
    with pytest.raises(DataError, match="not a table codec"):
        TableCodec.from_dict({"format": "something"})


def test_modes_are_seeded_and_keep_heavy_modes_only():
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.normal(-10, 1, 300), rng.normal(10, 1, 300)])
    a, b = Modes.fit(values, seed=7), Modes.fit(values, seed=7)
    assert a.to_dict() == b.to_dict()
    assert a.weights.sum() == pytest.approx(1.0) and set(a.assign(values)) == set(range(a.size))
    assert np.sort(np.round(a.means[a.weights > 0.2])).tolist() == [-10.0, 10.0]


def test_conditions_leave_the_slots_and_index_the_joint_categories(frame):
    codec = fitted(frame, condition_on=["species", "adult"])
    assert codec.condition_on == ("species", "adult") and codec.num_conditions == 6
    assert {b["column"] for b in codec.blocks}.isdisjoint({"species", "adult"})
    labels = codec.labels(frame)
    species = frame["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}).to_numpy()
    np.testing.assert_array_equal(labels, species * 2 + frame["adult"].to_numpy())
    indices, weights = codec.condition_index({"species": "Gentoo"})
    assert indices.tolist() == [4, 5]
    counts = np.array([(labels == i).sum() for i in (4, 5)])
    np.testing.assert_allclose(weights, counts / counts.sum())
    assert codec.condition_index({"species": "Gentoo", "adult": "True"})[0].tolist() == [5]
    assert codec.condition_index({"adult": False})[0].tolist() == [0, 2, 4]
    back = codec.decode(codec.encode(frame), labels=labels)
    assert list(back.columns) == list(frame.columns)
    assert_same_observed_cells(frame, back)


def test_integer_codes_can_be_asked_for_as_text(frame):
    codec = fitted(frame, condition_on=["site"])
    assert codec.condition_index({"site": "3"})[0].tolist() == [2]
    assert codec.condition_index({"site": 3.0})[0].tolist() == [2]


def test_bad_conditions_are_refused_with_the_fix(frame):
    with pytest.raises(
        DataError, match="cannot condition on column 'visits': it is count; only binary and categorical"
    ):
        fitted(frame, condition_on=["visits"])
    with pytest.raises(
        DataError, match="column 'sex' is a condition of the model but has missing cells.*drop those rows"
    ):
        fitted(frame, condition_on=["sex"])
    codec = fitted(frame, condition_on=["species"])
    with pytest.raises(DataError, match="column 'species' has no value 'Emperor'; seen: Adelie, Chinstrap, Gentoo"):
        codec.condition_index({"species": "Emperor"})
    with pytest.raises(DataError, match="not conditioned on column 'site'"):
        codec.condition_index({"site": 1})
    with pytest.raises(DataError, match="pass their joint labels"):
        codec.decode(codec.encode(frame))
    with pytest.raises(DataError, match="no condition columns"):
        fitted(frame).condition_index({"species": "Adelie"})
    assert fitted(frame).labels(frame) is None and fitted(frame).num_conditions == 0


def test_a_combination_never_seen_in_training_is_refused():
    df = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "p"], "v": [1.5, 2.5, 3.5, 4.5]})
    codec = fitted(df, condition_on=["a", "b"])
    with pytest.raises(DataError, match="no training row has a=y, b=q"):
        codec.condition_index({"a": "y", "b": "q"})


def test_penguins_and_randhie_round_trip():
    for name in ("penguins.csv", "randhie.csv"):
        df = read_table(real_table(name))
        codec = TableCodec.fit(df, infer_schema(df))
        assert_same_observed_cells(df, codec.decode(codec.encode(df)), rtol=1e-5)


def test_a_data_frame_with_number_labels_as_column_names_works():
    df = pd.DataFrame({0: [1.5, 2.5, 3.5, 4.5], 1: ["a", "b", "a", "b"]})
    codec = fitted(df)
    assert codec.columns == ["0", "1"]
    assert codec.decode(codec.encode(df))["1"].tolist() == ["a", "b", "a", "b"]


def _mixed_numbers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(3, 2, size=n).astype(np.float32),
        "skewed": rng.lognormal(1.0, 1.2, size=n),  # logged by the auto transform
        "zeros": np.where(rng.random(n) < 0.4, 0.0, rng.normal(size=n)),  # a point mass: column by column
        "holes": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "count": rng.integers(0, 9, size=n), "kind": rng.choice(["x", "y", "z"], size=n),
    })  # fmt: skip


@pytest.mark.parametrize("chunk_cells", [1 << 20, 1000])  # one chunk; chunks of rows
@pytest.mark.parametrize("columns", [None, ["a", "b", "skewed"]])
def test_plain_number_columns_encoded_at_once_equal_the_column_by_column_path(monkeypatch, columns, chunk_cells):
    from vaekit.data.tables import codec as codec_module

    monkeypatch.setattr(codec_module, "PLAIN_CHUNK_CELLS", chunk_cells)
    df = _mixed_numbers()
    df = df if columns is None else df[columns]
    codec = fitted(df)
    assert len(codec._plain_numbers(df)) >= 3  # a, b, skewed (and holes, when present)
    assert any(t.rest["log"] for _, t, _, _ in codec._plain_numbers(df))
    at_once = codec.encode(df)
    monkeypatch.setattr(TableCodec, "_plain_numbers", lambda self, frame: [])
    one_by_one = codec.encode(df)
    assert at_once.flags.c_contiguous and at_once.dtype == np.float32
    np.testing.assert_array_equal(at_once, one_by_one)


@pytest.mark.parametrize(
    ("cell", "message"), [(np.inf, "not \\(finite\\) numbers"), (-1e9, "outside what its log transform")]
)
def test_a_bad_cell_in_a_plain_number_column_is_still_named(monkeypatch, cell, message):
    from vaekit.data.tables import codec as codec_module

    monkeypatch.setattr(codec_module, "PLAIN_CHUNK_CELLS", 1000)
    df = _mixed_numbers()
    codec = fitted(df)
    bad = df.copy()
    bad.loc[390, "a" if cell == np.inf else "skewed"] = cell  # in the last chunk of rows
    with pytest.raises(DataError, match=message):
        codec.encode(bad)


def test_decode_rounds_a_continuous_column_to_its_decimal_places(frame):
    codec = fitted(frame.assign(cents=np.round(np.linspace(1, 90, len(frame)), 2)), continuous="standard")
    x = codec.encode(frame.assign(cents=np.round(np.linspace(1, 90, len(frame)), 2)))
    slots = value_blocks(codec)
    noisy = x.copy()
    rng = np.random.default_rng(0)
    for name in ("bill_length_mm", "cents"):
        noisy[:, slots[name]["slot"]] += rng.normal(0, 0.01, len(x))
    back = codec.decode(noisy)
    assert np.array_equal(back["bill_length_mm"], np.round(back["bill_length_mm"], 1))
    assert np.array_equal(back["cents"], np.round(back["cents"], 2))
    assert not np.array_equal(back["cents"], np.round(back["cents"], 1))
    # A run saved before decimals were kept decodes as it did: not rounded.
    old = codec.to_dict()
    for column in old["schema"]["columns"]:
        column.pop("decimals")
    loose = type(codec).from_dict(old).decode(noisy)
    assert not np.array_equal(loose["bill_length_mm"], np.round(loose["bill_length_mm"], 1))


def test_a_column_named_otherwise_is_refused_with_the_name_it_likely_is(frame):
    codec = fitted(frame.assign(row=np.arange(len(frame))), kinds={"row": "ignore"})
    renamed = frame.rename(columns={"species": "Species", "visits": "n_visits"})
    with pytest.raises(DataError) as caught:
        codec.encode(renamed)
    message = str(caught.value)
    assert "lacks the column(s) 'species' (did you mean 'Species'?), 'visits' (did you mean 'n_visits'?)" in message
    assert "rename or add them" in message
    with pytest.raises(DataError, match=r"not trained on: 'Row' \(did you mean 'row'\?\); rename or drop them"):
        codec.encode(frame.assign(Row=1))  # an ignored column may be absent, not named otherwise
    with pytest.raises(DataError, match=r"the table has no column 'Species' \(did you mean 'species'\?\); its columns"):
        codec.schema.column("Species")
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'site' that the model was trained on; add them"):
        codec.encode(frame.drop(columns="site"))  # nothing close: no guess


POINT_MASSES_ONLY = (
    r"column 'logc' has values the training rows never had: 4\.564348 \(row 3\), 4\.564348 \(row 4\); its training "
    r"rows held only 0, 3\.2581, 3\.93183, so the run models it as those values alone \(point masses, --continuous "
    r"auto\) and gives any other value probability 0: to model it as continuous numbers, train a new run with "
    r"--continuous standard \(continuous='standard' in Python; "
)


def test_a_new_value_of_a_column_of_point_masses_is_named_as_a_number_with_the_fix():
    train = pd.DataFrame({"logc": [0.0, 3.2581, 3.93183] * 40, "x": np.linspace(0.0, 1.0, 120)})
    new = pd.DataFrame({"logc": [0.0, 3.2581, 4.564348, 4.564348], "x": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(DataError, match=POINT_MASSES_ONLY) as refused:
        fitted(train).encode(new)
    assert "np." not in str(refused.value)
    assert np.isfinite(fitted(train, continuous="standard").encode(new)).all()  # the fix it names works


def test_a_new_value_of_randhies_logc_is_named_with_the_fix():
    randhie = read_table(real_table("randhie.csv"))[["logc", "income", "xage"]]  # plan's new codes are refused apart
    codec = fitted(randhie.iloc[:4000])
    new = randhie.iloc[4000:4600].reset_index(drop=True)
    with pytest.raises(DataError, match=r"column 'logc' .*: 4\.564348 \(row 463\), .* and 93 more; .*--continuous standard"):
        codec.encode(new)
