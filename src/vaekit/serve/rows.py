"""Rows of a typed table as the explorer's page and API see them: one row given as a JSON
object (column -> value) or as a pasted CSV line, turned into the one-row DataFrame that the
run's ``TableCodec`` encodes, and a decoded row turned back into JSON values.

Encoding, decoding and every check of columns and categories are the codec's own (the code
behind ``vaekit sample``, ``decode`` and ``score`` on a table run), so a bad row gets the
messages the command line gives; this module only parses and formats.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.tables.cells import MISSING_TEXT, json_scalar, text_form
from vaekit.runtime.errors import DataError

#: a JSON cell: text, a number, true/false, or null for a missing cell
Cell = str | int | float | bool | None


def columns_info(codec: Any) -> list[dict[str, Any]]:
    """Return the columns a decoded row has, in order: ``{name, kind, categories, decimals}``
    each (``categories`` as JSON values for binary and categorical columns, else None;
    ``decimals``: the places a continuous column's numbers are rounded to, else None)."""
    shown = []
    for column in codec.schema.modelled:
        categories = None if column.categories is None else [json_scalar(c) for c in column.categories]
        decimals = column.decimals if column.kind == "continuous" else None
        shown.append({"name": column.name, "kind": column.kind, "categories": categories, "decimals": decimals})
    return shown


def condition_class_names(codec: Any) -> list[str] | None:
    """Return the name of each class of a run trained with ``condition_on``, in class-number
    order: its condition columns' values as ``column=value`` joined by ", " (``species=Gentoo,
    sex=male``); None for a codec without condition columns.

    The values come from the codec's own decoding under each class number, so a class is named
    exactly as the rows decoded under it show their condition columns (and the joint numbering
    stays the codec's business)."""
    names = list(codec.condition_on)
    if not names:
        return None
    count = codec.num_conditions
    # What is decoded does not matter: the condition columns are filled from the labels alone.
    frame = codec.decode(np.zeros((count, codec.width), dtype=np.float32), labels=np.arange(count, dtype=np.int64))
    return [", ".join(f"{name}={text_form(frame[name].iloc[k])}" for name in names) for k in range(count)]


def row_frame(row: dict[str, Cell], what: str = "row") -> pd.DataFrame:
    """Return the JSON object ``row`` (column -> value, null for a missing cell) as a one-row
    DataFrame of object columns, for the codec to check and encode."""
    if not row:
        raise DataError(f"{what}: is empty; send one value per column (column -> value)")
    return pd.DataFrame({name: pd.Series([value], dtype=object) for name, value in row.items()})


def _csv_lines(text: str) -> list[list[str]]:
    """Return the non-blank lines of ``text`` split into cells as a CSV reader splits them."""
    try:
        lines = [cells for cells in csv.reader(io.StringIO(text.strip("\ufeff"))) if any(c.strip() for c in cells)]
    except csv.Error as exc:
        raise DataError(f"csv: cannot be read as a CSV line ({exc}); quote cells that contain commas") from None
    return lines


def csv_row(text: str, codec: Any) -> dict[str, Cell]:
    """Return a pasted CSV row as a JSON row (column -> text, None for a missing cell): one line of
    cells in the training table's column order (``codec.columns``, or every column of the schema
    with the ignored ones), or a header line and one line of cells below it. Missing spellings
    (empty, ``NA``, ``NaN``, ...) are missing cells, as in a CSV file."""
    lines = _csv_lines(text)
    order = ", ".join(codec.columns)
    if not lines or len(lines) > 2:
        raise DataError(
            f"csv: send one row: a line of cells in the order {order}, or a header line and one row below it; "
            f"got {len(lines)} lines"
        )
    cells = [c.strip() for c in lines[-1]]
    if len(lines) == 2:
        names = [c.strip() for c in lines[0]]
        if len(names) != len(cells):
            raise DataError(f"csv: the header line has {len(names)} names but the row has {len(cells)} cells")
    else:
        names = next((n for n in (codec.columns, codec.schema.names) if len(n) == len(cells)), None)
        if names is None:
            raise DataError(
                f"csv: has {len(cells)} cells; a row of this table has {len(codec.columns)}, in the order {order} "
                "(or put a header line with the column names above the row)"
            )
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise DataError(f"csv: the header line names {twice!r} twice; name each column once")
    return {name: None if cell in MISSING_TEXT else cell for name, cell in zip(names, cells, strict=True)}


def _json_cell(value: Any) -> Cell:
    """Return one decoded cell as a JSON value: None for a missing cell (NA, NaN), a plain bool,
    int, float or text otherwise."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    return json_scalar(value)


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Cell]]:
    """Return each row of ``frame`` as a JSON object (column -> value, in the frame's column order)."""
    columns = list(frame.columns)
    return [dict(zip(columns, (_json_cell(v) for v in values), strict=True)) for values in frame.itertuples(index=False)]


def input_row(frame: pd.DataFrame, codec: Any) -> dict[str, Cell]:
    """Return the checked one-row ``frame`` as the model reads it: the modelled columns in the
    table's order, a category as the training table writes it ("gentoo" -> "Gentoo"), a number
    as a number, a missing cell as None."""
    from vaekit.data.tables.cells import match_category
    from vaekit.data.tables.values import column_numbers

    out: dict[str, Cell] = {}
    for column in codec.schema.modelled:
        value = _json_cell(frame[column.name].iloc[0])
        if value is None:
            out[column.name] = None
        elif column.categories is not None:
            index = match_category(value, column.categories)
            out[column.name] = value if index is None else json_scalar(column.categories[index])
        else:
            number = float(column_numbers(frame.iloc[:1], column)[0])
            out[column.name] = int(number) if number.is_integer() and column.kind in ("integer", "count") else number
    return out
