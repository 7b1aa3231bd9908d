"""The schema in words (``vaekit info``): ranges as the column holds its numbers, counts in the
singular for one."""

from __future__ import annotations

from vaekit.data.tables import TableSchema, table_summary
from vaekit.data.tables.schema import ColumnSchema


def test_ranges_keep_the_columns_decimal_places_and_whole_numbers_in_full():
    schema = TableSchema(
        [
            ColumnSchema("amount", "continuous", "numbers", "float64", minimum=477.7, maximum=27123.64, decimals=2),
            ColumnSchema("income", "integer", "whole numbers", "Int64", minimum=0.0, maximum=12345678.0),
            ColumnSchema("ratio", "continuous", "measurements", "float64", minimum=0.1234567891234, maximum=2.5),
        ]
    )
    text = table_summary(schema)
    assert "range 477.70 .. 27123.64, 2 decimal places" in text  # not 27123.6
    assert "range 0 .. 12345678;" in text  # not 1.23457e+07
    assert "range 0.1234567891234 .. 2.5;" in text  # finer than 10 places: as the float reads back


def test_one_of_a_thing_is_said_in_the_singular():
    schema = TableSchema(
        [
            ColumnSchema("country", "categorical", "a single value (DE): a constant", "str", categories=["DE"]),
            ColumnSchema("price", "continuous", "numbers", "float64", minimum=1.5, maximum=9.5, decimals=1),
        ]
    )
    text = table_summary(schema)
    assert "1 value: DE;" in text and "1 values" not in text
    assert "range 1.5 .. 9.5, 1 decimal place;" in text
    single = table_summary(TableSchema(schema.columns[:1]))
    assert single.splitlines()[0] == "1 column: 1 categorical"
