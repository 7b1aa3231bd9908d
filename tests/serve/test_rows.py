"""Rows of a typed table as the explorer reads and writes them (``vaekit.serve.rows``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from vaekit.runtime.errors import DataError
from vaekit.serve.rows import csv_row, frame_rows

#: what csv_row needs of a codec: the modelled columns, and the schema's (an ignored id first)
CODEC = SimpleNamespace(columns=["name", "size"], schema=SimpleNamespace(names=["id", "name", "size"]))


def test_a_csv_line_is_read_in_the_tables_column_order_with_quotes_and_missing_cells():
    assert csv_row('"Smith, J",NA\n', CODEC) == {"name": "Smith, J", "size": None}
    # A line with the ignored columns too, as a row copied from the training file.
    assert csv_row("7,Lee, 3.5", CODEC) == {"id": "7", "name": "Lee", "size": "3.5"}


def test_a_header_line_gives_the_order():
    assert csv_row("size,name\n\n2,Ann\n", CODEC) == {"size": "2", "name": "Ann"}
    with pytest.raises(DataError, match="the header line has 2 names but the row has 3 cells"):
        csv_row("size,name\n2,Ann,x", CODEC)


def test_decoded_cells_become_json_values():
    frame = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": [np.nan, 2.5], "c": ["x", None]})
    assert frame_rows(frame) == [{"a": 1, "b": None, "c": "x"}, {"a": None, "b": 2.5, "c": None}]


def test_the_classes_of_a_table_run_are_named_by_their_condition_values():
    from vaekit.data.tables import TableCodec, infer_schema
    from vaekit.serve.rows import condition_class_names

    from .helpers import penguin_rows

    rows = penguin_rows(60)
    rows["year"] = np.where(rows["species"] == "Gentoo", 2008, 2007)  # a number as a category: "2008", not "2008.0"
    schema = infer_schema(rows, kinds={"year": "categorical"})
    codec = TableCodec.fit(rows, schema, condition_on=["species", "year"])
    names = condition_class_names(codec)
    assert len(names) == codec.num_conditions == 6
    # Named as the joint class numbers go: each name is what decoding under that class gives.
    decoded = codec.decode(np.zeros((6, codec.width), dtype=np.float32), labels=np.arange(6))
    assert names == [f"species={s}, year={y}" for s, y in zip(decoded["species"], decoded["year"], strict=True)]
    assert names[int(codec.labels(rows.iloc[:1])[0])] == f"species={rows['species'][0]}, year={rows['year'][0]}"
    assert "species=Gentoo, year=2008" in names
    assert condition_class_names(TableCodec.fit(rows, schema)) is None
