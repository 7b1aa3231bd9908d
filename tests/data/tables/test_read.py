"""read_table: CSV/TSV with or without a header, Parquet, DataFrames; dtypes and bad files."""

from __future__ import annotations

import gzip
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vaekit.data.tables import read_table
from vaekit.runtime.errors import DataError, VaekitWarning


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_header_gets_one_dtype_per_column(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "name,count,mass,flag,maybe,score\n"
        " Adelie ,3,1.5,true,True,7\n"
        "Gentoo,4,NA,false,,8\n"
        "Adelie,5,2.25,True,false,null\n",
    )
    df = read_table(path)
    assert list(df.columns) == ["name", "count", "mass", "flag", "maybe", "score"]
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        "name": "str",
        "count": "int64",
        "mass": "float64",
        "flag": "bool",
        "maybe": "boolean",
        "score": "Int64",
    }
    assert df["name"].tolist() == ["Adelie", "Gentoo", "Adelie"]  # spaces around cells dropped
    assert np.isnan(df["mass"][1]) and df["maybe"].isna().tolist() == [False, True, False]
    assert df["score"].isna().tolist() == [False, False, True] and df["score"][1] == 8


def test_a_first_row_of_numbers_is_data_and_columns_get_numbered_names(tmp_path):
    df = read_table(write(tmp_path, "t.csv", "1,2.5,\n3,4,y\n"))
    assert list(df.columns) == ["column_1", "column_2", "column_3"]
    assert df["column_1"].tolist() == [1, 3] and df["column_3"].isna().tolist() == [True, False]
    # With text in it, the first line is the header; names that are numbers are said to be, since
    # a file without a header line would lose its first row here.
    with pytest.warns(VaekitWarning, match=r"h.csv: its first line is read as the column names.*\('1', '2.5'\).*add a line"):
        assert list(read_table(write(tmp_path, "h.csv", "1,2.5,x\n3,4,y\n")).columns) == ["1", "2.5", "x"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(read_table(write(tmp_path, "n.csv", "a,b2,x\n3,4,y\n")).columns) == ["a", "b2", "x"]


def test_header_cells_spelled_like_missing_values_stay_names(tmp_path):
    df = read_table(write(tmp_path, "t.csv", "NA,,b\n1,2,3\n4,5,6\n"))
    assert list(df.columns) == ["NA", "column_2", "b"]


def test_tsv_by_suffix_delimiter_by_option_and_compressed_csv(tmp_path):
    assert read_table(write(tmp_path, "t.tsv", "a\tb\n1\t2\n3\t4\n"))["b"].tolist() == [2, 4]
    assert read_table(write(tmp_path, "t.csv", "a;b\n1;2\n3;4\n"), delimiter=";")["b"].tolist() == [2, 4]
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    assert read_table(path)["b"].tolist() == ["x", "y"]


def test_huge_whole_numbers_stay_text(tmp_path):
    df = read_table(write(tmp_path, "t.csv", "id,v\n12345678901234567890,1\n22345678901234567890,2\n"))
    assert str(df["id"].dtype) == "str"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty"]),
        ("a,b,c\n", ["header", "no rows"]),
        ("a,b\n1,2\n3,4,5\n", ["same number of cells"]),
        ("a,b,a\n1,2,3\n4,5,6\n", ["columns 1 and 3", "'a'", "rename"]),
    ],
)
def test_bad_text_files_are_named_with_the_fix(tmp_path, text, words):
    with pytest.raises(DataError) as caught:
        read_table(write(tmp_path, "bad.csv", text))
    message = str(caught.value)
    assert "bad.csv" in message
    for word in words:
        assert word in message


def test_unknown_suffix_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match="unknown table format"):
        read_table(write(tmp_path, "t.xlsx", "a\n1\n"))
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "latin.csv").write_bytes("a,b\nb\xe9b\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        read_table(tmp_path / "latin.csv")


def test_parquet_keeps_types_with_nullable_integers(tmp_path):
    table = pa.table(
        {
            "n": pa.array([1, None, 3], pa.int64()),
            "m": pa.array([1, 2, 3], pa.int32()),
            "x": pa.array([0.5, None, 1.5]),
            "s": pa.array(["a", None, "b"]),
            "f": pa.array([True, None, False]),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    df = read_table(tmp_path / "t.parquet")
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        "n": "Int64",
        "m": "int32",
        "x": "float64",
        "s": "str",
        "f": "boolean",
    }
    assert df["n"].isna().tolist() == [False, True, False]
    pq.write_table(table, tmp_path / "t.pq")
    assert read_table(tmp_path / "t.pq").shape == (3, 5)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([[1, 2], [3]]),
        pa.array([{"a": 1}, {"a": 2}]),
        pa.array([[("k", 1)], [("k", 2)]], pa.map_(pa.string(), pa.int64())),
    ],
)
def test_parquet_with_nested_types_is_refused_naming_the_column(tmp_path, column):
    pq.write_table(pa.table({"ok": [1, 2], "tags": column}), tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"column 'tags' has the nested type .*flatten"):
        read_table(tmp_path / "t.parquet")


def test_parquet_without_rows_or_broken(tmp_path):
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), tmp_path / "t.parquet")
    with pytest.raises(DataError, match="no rows"):
        read_table(tmp_path / "t.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot be read as a Parquet file"):
        read_table(tmp_path / "broken.parquet")


def test_a_data_frame_is_copied_with_text_names():
    original = pd.DataFrame({0: [1, 2], "b": ["x", "y"]})
    df = read_table(original)
    df.iloc[0, 0] = 99
    assert original.iloc[0, 0] == 1 and list(df.columns) == ["0", "b"]
    with pytest.raises(DataError, match="both named 'a'"):
        read_table(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(DataError, match="no rows"):
        read_table(pd.DataFrame({"a": []}))
    with pytest.raises(DataError, match="column 'v' holds nested values"):
        read_table(pd.DataFrame({"v": [[1], [2]]}))


def test_importing_vaekit_and_its_data_package_does_not_import_pandas():
    code = "import sys, vaekit, vaekit.data; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("name", "text", "found", "fix"),
    [
        ("semi.csv", "a;b;c\n1;x;3\n2;y;4\n3;x;5\n4;y;2\n", "semicolons", "save it with commas (a .csv) or tabs"),
        ("bars.csv", "a|b\n1|2\n", "vertical bars", "save it with commas"),
        ("tabs.csv", "a\tb\n1\t2\n", "tabs", "rename it to .tsv"),
        ("commas.tsv", "a,b\n1,2\n", "commas", "rename it to .csv"),
        # decimal commas: pandas stops at line 2 (1 field expected, 3 seen) before any column is read
        ("decimal.csv", "a;b\n1,5;2,5\n3,5;4,5\n", "semicolons", "save it with commas"),
    ],
)
def test_a_file_of_another_separator_is_refused_naming_it_and_the_fix(tmp_path, name, text, found, fix):
    from vaekit.data.tables.read import iter_table_chunks, typed_text_chunks

    path = write(tmp_path, name, text)
    readers = [read_table, lambda p: next(iter_table_chunks(p, 1)), lambda p: next(typed_text_chunks(p, 1))]
    for reader in readers:
        with pytest.raises(DataError) as caught:
            reader(path)
        message = str(caught.value)
        assert f"{name}: reads as one column named" in message and f"which holds {found}" in message
        assert fix in message and "pd.read_csv(" in message


def test_a_real_one_column_table_still_reads(tmp_path):
    assert read_table(write(tmp_path, "one.csv", "notes\nfine; really\nok\n"))["notes"].tolist() == ["fine; really", "ok"]


def test_whole_numbers_with_a_leading_zero_are_codes_kept_as_text(tmp_path):
    from vaekit.data.tables.read import typed_text_chunks

    path = write(tmp_path, "zips.csv", "zip,n\n01067,1\n01069,2\n80331,3\n10115,4\n,5\n")
    frame = read_table(path)
    assert frame["zip"].tolist()[:4] == ["01067", "01069", "80331", "10115"] and frame["zip"].isna().iloc[4]
    assert frame["n"].dtype == "int64"  # no leading zero: a number as before
    # The whole file decides: a chunk without a leading zero comes as text too.
    chunks = list(typed_text_chunks(path, 2))
    assert [c["zip"].tolist() for c in chunks][1] == ["80331", "10115"]
    assert read_table(write(tmp_path, "zero.csv", "z\n0\n5\n-7\n"))["z"].dtype == "int64"  # a lone 0 is a number


def test_numbers_written_with_thousands_separators_are_numbers(tmp_path):
    text = 'salary,price,odd\n"81,514","1,234.5","1,5"\n512,2.25,"2,5"\n"1,200,000",7,"3,5"\n'
    frame = read_table(write(tmp_path, "pay.csv", text))
    assert frame["salary"].dtype == "int64" and frame["salary"].tolist() == [81514, 512, 1200000]
    assert frame["price"].tolist() == [1234.5, 2.25, 7.0]
    assert frame["odd"].tolist() == ["1,5", "2,5", "3,5"]  # decimal commas are not thousands: text
    assert frame.attrs["vaekit_grouped"] == {"salary": "81,514", "price": "1,234.5"}


def test_conform_digits_types_whole_numbers_as_declared_or_as_a_run_saved_them(tmp_path):
    from vaekit.data.tables.read import conform_digits, declared_as_text, saved_as_text
    from vaekit.data.tables.schema import ColumnSchema, TableSchema

    frame = read_table(write(tmp_path, "codes.csv", "zip,plan\n01067,10\n80331,20\n01069,\n"))
    declared = conform_digits(frame, declared_as_text({"plan": "categorical"}))
    assert declared["plan"].tolist()[:2] == ["10", "20"] and declared["plan"].isna().iloc[2]
    assert declared.attrs["vaekit_source"] == frame.attrs["vaekit_source"]  # lines are still named
    # A run saved before codes kept their zeros read the zip codes as numbers: it keeps doing so.
    old = TableSchema([ColumnSchema("zip", "categorical", "codes", "int64", [1067, 69, 80331])])
    assert conform_digits(frame, saved_as_text(old))["zip"].tolist() == [1067, 80331, 1069]
    given = pd.DataFrame({"plan": [10, 20]})
    assert conform_digits(given, {"plan": True})["plan"].dtype == "int64"  # a DataFrame's types are its own


def damaged_parquet(tmp_path):
    from ..helpers import damage_row_group

    rng = np.random.default_rng(0)
    table = pa.table({name: rng.normal(size=400) for name in "abcd"})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=100, compression="snappy")
    damage_row_group(tmp_path / "d.parquet", 2)
    return tmp_path / "d.parquet"


DAMAGED = (
    r"d\.parquet: row group 2 \(counted from 0, of 4; rows 201-300\) cannot be read \(Couldn't deserialize thrift: "
    r"don't know what type: Deserializing page header failed\.\): the file is damaged; write it again from its source$"
)


def test_a_damaged_row_group_is_named_in_one_line_read_whole_or_by_chunks(tmp_path):
    from vaekit.data.tables.read import iter_table_chunks

    path = damaged_parquet(tmp_path)
    with pytest.raises(DataError, match=DAMAGED):
        read_table(path)
    chunks = iter_table_chunks(path, 64)
    assert len(next(chunks)) == 64  # the rows before it are read
    with pytest.raises(DataError, match=DAMAGED):
        list(chunks)


def test_a_file_that_is_not_parquet_is_refused_in_one_line_with_the_fix(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1" + b"\n\x0f junk \n" * 20 + b"PAR1")
    with pytest.raises(DataError, match=r"cannot be read as a Parquet file \(.*\): it is damaged or not a Parquet file; write it again") as refused:
        read_table(tmp_path / "broken.parquet")
    assert "\n" not in str(refused.value)


def test_arrow_reason_puts_pyarrows_text_on_one_line():
    from vaekit.data.tables.read import arrow_reason

    assert arrow_reason(OSError("Couldn't deserialize thrift: \x0f\nDeserializing page header failed.\n")) == (
        "Couldn't deserialize thrift: Deserializing page header failed."
    )
    assert arrow_reason(OSError()) == "OSError"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_know_their_file_rows_for_messages(tmp_path, suffix):
    from vaekit.data.tables.cells import cell_places
    from vaekit.data.tables.read import iter_table_chunks

    frame = pd.DataFrame({"a": np.arange(25.0), "b": ["x"] * 25})
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=7)
    third = list(iter_table_chunks(path, 10))[2]
    assert third.attrs["vaekit_source"] == str(path)
    # column a holds each row's 0-based data row: messages count rows from 1, in the file
    assert cell_places(third, [0, len(third) - 1]) == [f"row {int(third['a'].iloc[0]) + 1}", "row 25"]
    assert int(third["a"].iloc[0]) >= 14
