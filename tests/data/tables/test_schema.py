"""infer_schema (kinds with reasons, overrides, bad columns), the schema's JSON round trip,
schema files and the summary for vaekit info."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vaekit.data.tables import TableSchema, infer_schema, read_schema_file, read_table, table_summary
from vaekit.runtime.errors import DataError

from .conftest import real_table


def kinds_of(df: pd.DataFrame, **options) -> dict[str, str]:
    return infer_schema(df, **options).kinds


def test_each_rule_gives_its_kind_with_a_reason():
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "row": np.arange(n),
            "name": [f"person {i}" for i in range(n)],
            "species": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["f", "m"], n),
            "flag": rng.random(n) < 0.3,
            "zero_one": rng.integers(0, 2, n),
            "code": rng.choice([3, 7, 11, 19], n),
            "admissions": np.where(rng.random(n) < 0.9, 0, rng.integers(1, 6, n)),
            "visits": rng.negative_binomial(1, 0.15, n),
            "grams": rng.integers(2000, 6000, n),
            "length": rng.normal(40.0, 5.0, n),
            "constant": np.full(n, 5),
        }
    )
    schema = infer_schema(df)
    assert schema.kinds == {
        "row": "ignore",
        "name": "ignore",
        "species": "categorical",
        "sex": "binary",
        "flag": "binary",
        "zero_one": "binary",
        "code": "categorical",
        "admissions": "count",
        "visits": "count",
        "grams": "integer",
        "length": "continuous",
        "constant": "categorical",
    }
    assert all(c.reason for c in schema.columns)
    assert "identifier" in schema.column("row").reason and "codes" in schema.column("code").reason
    assert schema.column("code").categories == [3, 7, 11, 19]
    assert schema.column("flag").categories == [False, True]
    assert schema.column("length").minimum == pytest.approx(df["length"].min())
    assert schema.column("species").minimum is None


def test_small_tables_keep_their_labels_as_categories():
    # With few rows every label may be different by chance: not an identifier.
    df = pd.DataFrame({"who": ["a", "b", "c", "d"], "x": [1.5, 2.5, 3.5, 4.5]})
    assert kinds_of(df) == {"who": "categorical", "x": "continuous"}


def test_the_mixed_frame_as_read(frame):
    schema = infer_schema(frame)
    assert schema.kinds == {
        "species": "categorical",
        "body_mass_g": "integer",
        "bill_length_mm": "continuous",
        "sex": "binary",
        "adult": "binary",
        "site": "categorical",
        "visits": "count",
    }
    assert schema.column("sex").missing == 2 and schema.column("body_mass_g").dtype == "Int64"


def test_the_users_kinds_win_with_their_reason(frame):
    schema = infer_schema(frame, kinds={"site": "integer", "visits": "categorical"}, ignore=["sex"])
    assert schema.kinds["site"] == "integer" and schema.kinds["visits"] == "categorical"
    assert schema.kinds["sex"] == "ignore"
    assert {schema.column(n).reason for n in ("site", "visits", "sex")} == {"set by the user"}
    assert schema.column("visits").categories == sorted(frame["visits"].unique().tolist())


@pytest.mark.parametrize(
    ("kinds", "words"),
    [
        ({"nope": "categorical"}, ["'nope'", "not in the table", "species"]),
        ({"Site": "categorical"}, ["'Site'", "not in the table (did you mean 'site'?)"]),
        ({"site": "fancy"}, ["'site'", "unknown kind 'fancy'", "categorical"]),
        ({"species": "continuous"}, ["'species'", "cannot be continuous", "not numbers"]),
        ({"site": "binary"}, ["'site'", "cannot be binary", "4 distinct"]),
        ({"bill_length_mm": "count"}, ["'bill_length_mm'", "not whole numbers", "continuous"]),
        ({"adult": "integer"}, ["'adult'", "cannot be integer"]),
    ],
)
def test_impossible_overrides_name_the_column(frame, kinds, words):
    with pytest.raises(DataError) as caught:
        infer_schema(frame, kinds=kinds)
    for word in words:
        assert word in str(caught.value)


def test_a_negative_count_and_an_unknown_ignored_column_are_refused():
    df = pd.DataFrame({"n": [-1, 2, 3], "x": [1.0, 2.0, 3.5]})
    with pytest.raises(DataError, match="cannot be count: counts are non-negative"):
        infer_schema(df, kinds={"n": "count"})
    with pytest.raises(DataError, match="'z'.*not in the table"):
        infer_schema(df, ignore=["z"])


def test_a_column_with_every_cell_missing_is_refused_unless_ignored():
    df = pd.DataFrame({"x": [1.5, 2.0, 3.0], "empty": [np.nan, np.nan, np.nan]})
    with pytest.raises(DataError, match="column 'empty' has no values.*drop the column or leave it out with --ignore empty"):
        infer_schema(df)
    assert infer_schema(df, ignore=["empty"]).kinds == {"x": "continuous", "empty": "ignore"}


def test_fewer_than_two_rows_is_refused():
    with pytest.raises(DataError, match="1 row.*at least 2 rows"):
        infer_schema(pd.DataFrame({"x": [1.0]}))


def test_numbers_and_text_mixed_name_the_cells_by_line_and_the_fix(tmp_path):
    rows = "\n".join(["price"] + [str(i) for i in range(1, 9)] + ["n/a", "twelve", "", "13", "thirteen"])
    (tmp_path / "prices.csv").write_text(rows + "\n")
    df = read_table(tmp_path / "prices.csv")
    with pytest.raises(DataError) as caught:
        infer_schema(df)
    message = str(caught.value)
    assert "prices.csv: column 'price' mixes numbers and text" in message
    # the file's line numbers: header on line 1, "twelve" on line 11, "thirteen" on line 14
    assert "'twelve' (line 11)" in message and "'thirteen' (line 14)" in message
    assert "categorical" in message and "clean those cells" in message
    schema = infer_schema(df, kinds={"price": "categorical"})
    assert schema.column("price").categories[:3] == ["1", "13", "2"]


def test_mixed_python_values_in_a_data_frame_name_rows():
    df = pd.DataFrame({"v": pd.Series([1, 2, "x", 4, 5], dtype=object)})
    with pytest.raises(DataError, match=r"'x' \(row 3\)"):
        infer_schema(df)


def test_dates_and_infinite_numbers_are_refused():
    df = pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2021-01-01"]), "x": [1.0, np.inf]})
    with pytest.raises(DataError, match="'when' holds dates"):
        infer_schema(df)
    with pytest.raises(DataError, match=r"'x' has infinite values: inf \(row 2\)"):
        infer_schema(df, ignore=["when"])


def test_infinity_spelled_in_a_text_file_is_named_as_infinite_not_as_text(tmp_path):
    rows = ["a,b", "1,x", "inf,y", "2,x", "-Infinity,y"] + [f"{i}.5,x" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"'a' has infinite values: 'inf' \(line 3\), '-Infinity' \(line 5\); clean"):
        infer_schema(read_table(tmp_path / "t.csv"))
    (tmp_path / "m.csv").write_text("\n".join([*rows[:2], "inf,y", "foo,x"] + rows[5:]) + "\n")
    with pytest.raises(DataError, match=r"'a' mixes numbers and text; its text: 'inf' \(line 3\), 'foo'"):
        infer_schema(read_table(tmp_path / "m.csv"))


def test_schema_json_round_trip(frame):
    schema = infer_schema(frame)
    again = TableSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    assert again.to_dict() == schema.to_dict()
    bad = schema.to_dict()
    bad["columns"][0]["kind"] = "weird"
    with pytest.raises(DataError, match="kind 'weird'"):
        TableSchema.from_dict(bad)


def test_schema_files_in_json_yaml_or_saved_form(tmp_path, frame):
    (tmp_path / "k.json").write_text('{"site": "categorical", "visits": "integer"}')
    assert read_schema_file(tmp_path / "k.json") == {"site": "categorical", "visits": "integer"}
    (tmp_path / "k.yaml").write_text("columns:\n  site: ignore\n")
    assert read_schema_file(tmp_path / "k.yaml") == {"site": "ignore"}
    (tmp_path / "saved.json").write_text(json.dumps(infer_schema(frame).to_dict()))
    assert read_schema_file(tmp_path / "saved.json") == infer_schema(frame).kinds
    (tmp_path / "bad.json").write_text('{"site": "number"}')
    with pytest.raises(DataError, match="column 'site' has kind 'number'"):
        read_schema_file(tmp_path / "bad.json")
    with pytest.raises(DataError, match="no such schema file"):
        read_schema_file(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_schema_file(tmp_path / "broken.json")


def test_summary_lists_every_column(frame):
    text = table_summary(infer_schema(frame))
    assert text.splitlines()[0].startswith("7 columns:")
    assert "species" in text and "Adelie, Chinstrap, Gentoo" in text and "2 missing" in text


def test_zero_inflated_amounts_say_their_point_mass():
    amounts = np.where(np.arange(100) < 30, 0.0, np.linspace(1.5, 900.0, 100))
    reason = infer_schema(pd.DataFrame({"dollars": amounts})).column("dollars").reason
    assert "0 in 30% of rows" in reason


def test_real_tables_get_sensible_kinds():
    penguins = infer_schema(read_table(real_table("penguins.csv"))).kinds
    assert penguins == {
        "species": "categorical",
        "island": "categorical",
        "bill_length_mm": "continuous",
        "bill_depth_mm": "continuous",
        "flipper_length_mm": "integer",
        "body_mass_g": "integer",
        "sex": "binary",
        "year": "categorical",
    }
    randhie = infer_schema(read_table(real_table("randhie.csv"))).kinds
    expected = {"plan": "categorical", "site": "categorical", "female": "binary", "idp": "binary"}
    expected |= {"mdvis": "count", "mentvis": "count", "meddol": "continuous", "inpdol": "continuous"}
    assert {k: randhie[k] for k in expected} == expected
    assert randhie["black"] == "continuous"  # 0/1 in 98.8% of rows, fractions in the rest


def test_decimal_places_are_the_fewest_that_hold_every_value():
    from vaekit.data.tables.infer import decimal_places

    assert decimal_places(np.array([39.1, 40.25, 7.0])) == 2
    assert decimal_places(np.array([1.0, 2.0])) == 0
    assert decimal_places(np.array([0.1, 0.2]), at_least=3) == 3
    assert decimal_places(np.array([12345678.123, 0.001])) == 3
    assert decimal_places(np.random.default_rng(0).random(50)) is None  # measurements, not decimals
    assert decimal_places(np.array([1e-12, 5.5])) is None
    # float32 cells hold 39.1 only to float32's precision: read at it, they have one decimal.
    single = np.array([39.1, 40.2], dtype=np.float32).astype(np.float64)
    assert decimal_places(single, single=True) == 1 and decimal_places(single) is None


def test_a_continuous_column_keeps_its_decimal_places(frame):
    df = frame.assign(measure=np.random.default_rng(2).normal(0, 1, len(frame)),
                      cents=np.round(np.linspace(1, 90, len(frame)), 2))  # fmt: skip
    schema = infer_schema(df, kinds={"site": "continuous"})
    decimals = {c.name: c.decimals for c in schema.columns}
    assert decimals["bill_length_mm"] == 1 and decimals["cents"] == 2
    # finer than MAX_DECIMALS, whole numbers declared continuous, and other kinds: none
    assert decimals["measure"] is None and decimals["site"] is None and decimals["body_mass_g"] is None
    assert "range" in table_summary(schema) and "1 decimal place;" in table_summary(schema)
    again = TableSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema


def test_a_schema_without_decimals_reads_as_before_and_bad_decimals_are_refused(frame):
    saved = infer_schema(frame).to_dict()
    bill = next(i for i, c in enumerate(saved["columns"]) if c["name"] == "bill_length_mm")
    del saved["columns"][bill]["decimals"]  # as written before decimals were kept
    assert TableSchema.from_dict(saved).column("bill_length_mm").decimals is None
    for value, words in [(0, "from 1 to 10"), (11, "from 1 to 10"), (1.5, "from 1 to 10"), (True, "from 1 to 10")]:
        saved["columns"][bill]["decimals"] = value
        with pytest.raises(DataError, match=words):
            TableSchema.from_dict(saved)
    species = next(i for i, c in enumerate(saved["columns"]) if c["name"] == "species")
    saved["columns"][bill]["decimals"] = 1
    saved["columns"][species]["decimals"] = 2
    with pytest.raises(DataError, match="only a continuous column has decimals"):
        TableSchema.from_dict(saved)


def test_the_whole_tables_decimals_complete_a_samples():
    from vaekit.data.tables.infer import complete_schema

    sample = pd.DataFrame({"price": [1.5, 2.5, 3.0, 4.5], "weight": [0.1, 0.2, 0.3, 0.4]})
    schema = infer_schema(sample)
    assert [c.decimals for c in schema.columns] == [1, 1]
    rest = [sample, pd.DataFrame({"price": [9.125, 1.0], "weight": [np.pi, 0.5]}), sample]
    whole = complete_schema(schema, iter(rest), sample_rows=len(sample))
    assert whole.column("price").decimals == 3 and whole.column("weight").decimals is None


def test_dates_written_in_a_text_file_are_refused_as_parquet_dates_are(tmp_path):
    days = [f"2024-01-{d:02d}" for d in range(1, 26)]
    (tmp_path / "d.csv").write_text("signup_date,x\n" + "\n".join(f"{d},{i}.5" for i, d in enumerate(days)) + "\n")
    parquet = tmp_path / "d.parquet"
    pd.DataFrame({"signup_date": pd.to_datetime(days), "x": [i + 0.5 for i in range(25)]}).to_parquet(parquet)
    messages = []
    for path in (tmp_path / "d.csv", parquet):
        with pytest.raises(DataError) as caught:
            infer_schema(read_table(path))
        messages.append(str(caught.value).split(": ", 1)[1])
    assert messages[0] == messages[1]
    assert "holds dates or times, which vaekit does not model; leave it out with --ignore signup_date" in messages[0]
    assert infer_schema(read_table(tmp_path / "d.csv"), ignore=["signup_date"]).kinds["signup_date"] == "ignore"
    kinds = infer_schema(read_table(tmp_path / "d.csv"), kinds={"signup_date": "categorical"}).kinds
    assert kinds["signup_date"] == "categorical"  # written dates may be declared labels


@pytest.mark.parametrize(
    ("cells", "shown", "fix"),
    [
        (['"$1,200"', "$80"], "'$1,200' (line 22), '$80' (line 23)", "write them as plain numbers"),
        (["unknown", "lots"], "'unknown' (line 22), 'lots' (line 23)", "clean those cells"),
    ],
)
def test_numbers_mixed_with_text_quote_the_text_cells_and_the_fix_for_numbers(tmp_path, cells, shown, fix):
    rows = ["amount"] + [f"{i}.5" for i in range(20)] + cells
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as caught:
        infer_schema(read_table(tmp_path / "a.csv"))
    message = str(caught.value)
    assert f"its text: {shown}. If it holds numbers, {fix}" in message
    assert "if its values are labels, declare it categorical (--column-types amount=categorical" in message


def test_mostly_text_with_a_few_numbers_quotes_the_text_and_suggests_categorical(tmp_path):
    rows = ["plan"] + ["basic", "pro"] * 10 + ["3"]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"its text: 'basic' \(line 2\), 'pro' \(line 3\), 'basic' \(line 4\) and 17 more\. "
                       r"If its values are labels, declare it categorical"):
        infer_schema(read_table(tmp_path / "p.csv"))


def test_the_notice_names_columns_left_out_and_all_different_whole_numbers(tmp_path):
    from vaekit.data.tables.infer import inference_notice

    n = 30
    rng = np.random.default_rng(0)
    lines = ["id,name,tag,salary,plan"] + [
        f'{i + 1},user{i},{rng.integers(100_000, 999_999)},"{rng.integers(20, 90)},{rng.integers(100, 999)}",{"ab"[i % 2]}'
        for i in range(n)
    ]
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    frame = read_table(tmp_path / "people.csv")
    schema = infer_schema(frame)
    assert schema.column("salary").kind == "integer" and "thousands separators" in schema.column("salary").reason
    notice = inference_notice(frame, schema)
    assert notice.startswith("people.csv: left out of the model by inference: id: whole numbers, every one different")
    assert "; name: text with every value different (30 values): an identifier. To model one, give its kind: " in notice
    assert "--column-types COL=KIND (e.g. name=categorical; column_types= in Python)" in notice
    assert "tag: whole numbers, every value different: modelled as a quantity; if it is an identifier, leave it out with --ignore tag" in notice
    assert "salary: read as numbers written with thousands separators" in notice and "\n" not in notice
    assert inference_notice(frame, infer_schema(frame, ignore=["id", "name", "tag", "salary"])) == ""


def test_digit_codes_read_as_text_say_so():
    frame = pd.DataFrame({"zip": pd.Series(["01067", "01069", "80331", "01067"], dtype="str")})
    assert infer_schema(frame).column("zip").reason.startswith("digits written as text (codes: a leading zero is kept)")
