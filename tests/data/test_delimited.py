"""CSV / TSV tables: headers, quoting, and every bad-cell check with its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaekit.data.delimited import read_delimited
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError

OPTIONS = LoadOptions(test_fraction=0.25)


def write(tmp_path: Path, text: str, suffix: str = ".csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / f"table{suffix}"
    path.write_text(text, encoding=encoding)
    return path


def all_rows(bundle) -> list[list[float]]:
    return sorted(torch.cat([bundle.train, bundle.test]).tolist())


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n7,8,9\n-1,0.5,1e1\n", ".csv"),
        ("1,2,3\n4,5,6\n7,8,9\n-1,0.5,1e1\n\n\n", ".csv"),
        ('"a","b","c"\n"1","2","3"\n4,5,6\n7, 8 ,9\n-1,.5,10\n', ".csv"),
        ("\ufeffa\tb\tc\n1\t2\t3\n4\t5\t6\n7\t8\t9\n-1\t0.5\t10\n", ".tsv"),
    ],
    ids=["header", "no-header-blank-lines", "quoted", "tsv-with-bom"],
)
def test_reads_tables(tmp_path: Path, text: str, suffix: str) -> None:
    bundle = read_delimited(write(tmp_path, text, suffix), OPTIONS)
    assert (bundle.kind, bundle.shape, bundle.value_range) == ("table", (3,), "real")
    assert bundle.train.dtype == torch.float32
    assert bundle.train.shape == (3, 3) and bundle.test.shape == (1, 3)
    assert all_rows(bundle) == sorted([[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, 0.5, 10]])


def test_unit_values_inferred(tmp_path: Path) -> None:
    bundle = read_delimited(write(tmp_path, "0.5,1\n0,0.25\n1,1\n"), OPTIONS)
    assert bundle.value_range == "unit"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x,y\n1,2\n3,abc\n", "line 3, column 2 is 'abc', not a number"),
        ("1,2\n3,\n", "line 2, column 2 is '', not a number"),
        ("1,2\n3,4,5\n", "line 2 has 3 cells but line 1 has 2"),
        ("x,y\n1,2\n3\n", "line 3 has 1 cells but line 2 has 2"),
        ("x,y\n1,2\nnan,4\n", "line 3, column 1 is nan"),
        ("1,2\n3,4\n5,-inf\n", "line 3, column 2 is -inf"),
        ("", "no data rows"),
        ("\n\n", "no data rows"),
        ("x,y\n", "no data rows"),
        ("1,2\n", "at least 2"),
    ],
    ids=[
        "text-cell",
        "empty-cell",
        "ragged-long",
        "ragged-short",
        "nan",
        "inf",
        "empty-file",
        "blank-lines",
        "header-only",
        "one-row",
    ],
)
def test_bad_tables_name_file_and_position(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=match) as info:
        read_delimited(path, OPTIONS)
    assert str(path) in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"1,2\n\xff\xfe,3\n")
    with pytest.raises(DataError, match="UTF-8"):
        read_delimited(path, OPTIONS)
