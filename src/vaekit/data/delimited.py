"""CSV and TSV tables of numbers: one example per line, optional header line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vaekit.data.arrays import bundle_from_examples
from vaekit.data.bundle import DataBundle
from vaekit.data.options import LoadOptions
from vaekit.data.suffixes import compression_suffix
from vaekit.runtime.errors import DataError

DELIMITERS = {".csv": ",", ".tsv": "\t"}


def parse_number(cell: str) -> float | None:
    """Return ``cell`` as a float, or ``None`` if it is not a number."""
    try:
        return float(cell)
    except ValueError:
        return None


def read_rows(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """Return the non-blank rows of the text table ``path`` as (1-based line number, cells)."""
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs put at the start.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; save the table as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None


def parse_table(path: Path, delimiter: str) -> tuple[np.ndarray, list[int]]:
    """Return ``(values, line_numbers)``: float64 ``[N, D]`` and each row's line in the file.

    A first row with any non-number cell is a header and skipped. Raises ``DataError`` naming
    the line and column (1-based) of the first non-numeric cell, or of the first row whose
    number of cells differs from the first data row.
    """
    rows = read_rows(path, delimiter)
    if rows and any(parse_number(cell) is None for cell in rows[0][1]):
        rows = rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows; the table is empty (or has only a header)")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise DataError(
                f"{path}: line {line} has {len(cells)} cells but line {rows[0][0]} has "
                f"{width}; every row needs the same number of columns"
            )
        for j, cell in enumerate(cells):
            number = parse_number(cell)
            if number is None:
                raise DataError(
                    f"{path}: line {line}, column {j + 1} is {cell!r}, not a number; "
                    "tables must hold numbers only (a header row is allowed)"
                )
            values[i, j] = number
    return values, [line for line, _ in rows]


def read_delimited(path: Path, options: LoadOptions) -> DataBundle:
    """Return a ``.csv`` / ``.tsv`` table of numbers as a randomly split, unlabelled
    ``DataBundle`` (kind ``"table"``, values as written)."""
    if compression_suffix(path):
        raise DataError(
            f"{path}: --table-mode matrix reads plain .csv/.tsv files; decompress it first "
            f"(or leave out --table-mode to read it as a typed table, which may be compressed)"
        )
    values, lines = parse_table(path, DELIMITERS[path.suffix.lower()])
    # Name bad values by line and 1-based column, which is what the user sees in an editor.
    source = str(path)
    return bundle_from_examples(
        source,
        values,
        None,
        source,
        options,
        position=lambda i, j: f"line {lines[i]}, column {j + 1}",
    )
