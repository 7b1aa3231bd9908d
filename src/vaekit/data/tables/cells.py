"""Cells of a table: which text means missing, which text is a number, how a value is written
in JSON, and how a bad cell is pointed at (a file's line number when known, else a row)."""

from __future__ import annotations

import csv
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: text that means "missing" in a CSV/TSV cell (pandas' defaults), compared after stripping spaces
MISSING_TEXT = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
#: a whole number as written in a text file
INT_PATTERN = r"[+-]?\d+"
#: a finite decimal number as written in a text file ("inf" and "nan" are not numbers here:
#: an infinite cell is a data error, and NaN spellings are missing cells)
FLOAT_PATTERN = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
#: keys of ``DataFrame.attrs`` that ``read_table`` sets so that later errors can name lines
SOURCE_ATTRS = ("vaekit_source", "vaekit_delimiter", "vaekit_header", "vaekit_rows")
#: how many bad cells an error message shows
SHOWN = 3


def is_missing(values: pd.Series) -> np.ndarray:
    """Return a bool array: True where the cell is missing (None, NaN, pd.NA, NaT)."""
    return np.asarray(pd.isna(values), dtype=bool)


def json_scalar(value: Any) -> bool | int | float | str:
    """Return ``value`` (a NumPy or Python scalar) as the plain Python scalar JSON writes
    (bool, int, float or str), so that categories survive a JSON round trip exactly."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def category_sort_key(value: Any) -> tuple[int, Any]:
    """Sort key of a category: bools, then numbers in numeric order, then text."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, numbers.Real):
        return (1, float(value))
    return (2, str(value))


def sorted_categories(values: Sequence[Any]) -> list[bool | int | float | str]:
    """Return the distinct non-missing ``values`` as JSON scalars, sorted by ``category_sort_key``."""
    seen = {json_scalar(v) for v in values}
    return sorted(seen, key=category_sort_key)


def text_form(value: Any) -> str:
    """Return how ``value`` is written in a file or on a command line: 3.0 as "3", True as "True"."""
    value = json_scalar(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def match_category(value: Any, categories: Sequence[Any]) -> int | None:
    """Return the index in ``categories`` of ``value``, or None when it is none of them.

    An equal value matches first (1 matches 1.0); then the written form, so that text from a
    command line or a text column finds its category ("1" finds 1, "True" finds True, "gentoo"
    finds "Gentoo" when no other category differs only in case)."""
    for i, category in enumerate(categories):
        if type(category) is type(json_scalar(value)) and category == json_scalar(value):
            return i
    written = text_form(value).strip()
    for i, category in enumerate(categories):
        if text_form(category) == written:
            return i
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        for i, category in enumerate(categories):
            if isinstance(category, numbers.Real) and not isinstance(category, bool) and category == value:
                return i
    try:
        number = float(written)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        for i, category in enumerate(categories):
            if isinstance(category, numbers.Real) and not isinstance(category, bool) and float(category) == number:
                return i
    folded = [i for i, category in enumerate(categories) if text_form(category).lower() == written.lower()]
    return folded[0] if len(folded) == 1 else None


def line_numbers(path: str, delimiter: str) -> list[int]:
    """Return the 1-based line number of each row the CSV reader keeps (blank lines skipped)."""
    lines = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            # pandas skips empty and whitespace-only lines but keeps a line of empty cells (",,")
            if row and not (len(row) == 1 and not row[0].strip()):
                lines.append(reader.line_num)
    return lines


class FileRows:
    """The file rows (0-based) of a DataFrame's rows, kept in ``frame.attrs["vaekit_file_rows"]``
    (see :func:`cell_places`) by readers that hand out part of a file: a split, a row group, a
    sample. pandas deep-copies ``attrs`` into every frame and column derived from a frame; this
    is shared instead, since it is never changed."""

    def __init__(self, rows: Sequence[int]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, position: int) -> int:
        return int(self.rows[position])

    def __deepcopy__(self, memo: dict[int, Any]) -> FileRows:
        return self


def cell_places(frame: pd.DataFrame, positions: Sequence[int]) -> list[str]:
    """Return where each row (0-based position in ``frame``) is, as the user sees it: "line N"
    of the text file ``read_table`` read when ``frame`` holds that file's rows (all of them, or
    some with their ``FileRows``), else "row N": the 1-based data row of the file (header
    excluded) when ``frame`` has its ``FileRows``, of ``frame`` otherwise."""
    attrs = getattr(frame, "attrs", {}) or {}
    source = attrs.get("vaekit_source")
    file_rows = attrs.get("vaekit_file_rows")
    if isinstance(file_rows, FileRows) and len(file_rows) == len(frame):
        positions = [file_rows[p] for p in positions]
    elif attrs.get("vaekit_rows") != len(frame):
        source = None  # a part of the file, rows unknown: no line numbers
    if source and attrs.get("vaekit_delimiter") and attrs.get("vaekit_rows") is not None:
        try:
            lines = line_numbers(source, attrs["vaekit_delimiter"])
            skip = 1 if attrs.get("vaekit_header") else 0
            if len(lines) == attrs["vaekit_rows"] + skip:
                return [f"line {lines[p + skip]}" for p in positions]
        except (OSError, UnicodeDecodeError, csv.Error):
            pass  # the file changed or went away: fall back on row numbers
    return [f"row {p + 1}" for p in positions]


def show_cells(frame: pd.DataFrame, values: Sequence[Any], positions: Sequence[int]) -> str:
    """Return up to ``SHOWN`` cells as "'abc' (line 5), 'x' (line 9)" for an error message."""
    places = cell_places(frame, list(positions[:SHOWN]))
    # A NumPy scalar is shown as the number it is, not as its repr (np.float64(4.5)).
    plain = [v.item() if isinstance(v, np.generic) else v for v in values[:SHOWN]]
    shown = ", ".join(f"{v!r} ({p})" for v, p in zip(plain, places, strict=False))
    more = len(positions) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def source_name(frame: pd.DataFrame) -> str:
    """Return the file ``frame`` was read from, as a message prefix ("data.csv: "), or ""."""
    source = (getattr(frame, "attrs", {}) or {}).get("vaekit_source")
    return f"{Path(source).name}: " if source else ""


def known_values(categories: Sequence[Any], limit: int = 12) -> str:
    """Return categories as a short comma-separated list for an error message."""
    shown = ", ".join(text_form(c) for c in categories[:limit])
    return shown + (f", ... ({len(categories)} in all)" if len(categories) > limit else "")
