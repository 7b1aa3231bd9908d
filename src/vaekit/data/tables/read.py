"""Read a table (CSV/TSV with or without a header, Parquet, or a pandas DataFrame) into a
DataFrame with one dtype per column, missing cells as NA, and clear errors for bad files.

Column dtypes of a text file: whole numbers -> ``int64`` (``Int64``, pandas' nullable integer,
when the column has missing cells), other numbers -> ``float64`` (NaN where missing),
true/false -> ``bool`` (``boolean`` with missing cells), anything else -> text (pandas ``str``;
so are whole numbers too long for int64, such as 20-digit account numbers, and digits written
with a leading zero, such as the postcode 01067: codes, whose zeros a number would lose).
Numbers written with commas as thousands separators (``"81,514"``, ``"1,234.5"``; a column
whose every cell is a number written so or plainly) are numbers, as spreadsheets and R's readr
read them; the frame's ``attrs["vaekit_grouped"]`` names such columns, with a cell of each.
A file that reads as one column whose name holds another separator (``a;b;c`` in a .csv) is
refused: vaekit reads a .csv by commas and a .tsv by tabs.
A column that mixes numbers and text stays text here; ``infer_schema`` then names its cells
(it can be declared categorical). Parquet keeps the file's types, with the same nullable
integer and boolean dtypes for columns with missing cells.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections import Counter
from collections.abc import Collection, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.suffixes import compression_suffix, table_suffix
from vaekit.data.tables.cells import FLOAT_PATTERN, INT_PATTERN, MISSING_TEXT
from vaekit.runtime.errors import DataError, VaekitWarning, user_stacklevel

#: file suffix -> (format, default delimiter)
FORMATS = {".csv": ("text", ","), ".tsv": ("text", "\t"), ".parquet": ("parquet", None), ".pq": ("parquet", None)}
#: a whole number with more digits may not fit in int64: such a column stays text
MAX_INT_DIGITS = 18
#: a whole number written with a leading zero (a code such as the postcode 01067)
LEADING_ZERO_PATTERN = r"[+-]?0\d+"
#: a whole number written with commas as thousands separators ("81,514")
GROUPED_INT_PATTERN = r"[+-]?[1-9]\d{0,2}(?:,\d{3})+"
#: ... with decimals ("1,234.5")
GROUPED_FLOAT_PATTERN = GROUPED_INT_PATTERN + r"(?:\.\d+)?"
#: separators a text table may hold instead of its suffix's, and their names in messages
SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars", ",": "commas"}
#: dtype names of text columns in a saved schema
TEXT_DTYPES = ("str", "string", "object")
#: how this module reads a text table's cells; raise it with any change that reads some file's
#: cells otherwise (a type, a value), since ``--data-loading disk`` reuses a Parquet copy of a text
#: file only when made by the same version (data/disk/convert.py). 2: digits with a leading zero
#: (``01067``) are text; copies from before (read as the number 1067) carry no version.
TEXT_READER_VERSION = 2


def read_table(
    source: str | os.PathLike[str] | pd.DataFrame, *, delimiter: str | None = None, text_columns: Collection[str] = ()
) -> pd.DataFrame:
    """Return the table ``source`` as a new DataFrame: a ``.csv``/``.tsv`` (optionally
    compressed, e.g. ``.csv.gz``) or ``.parquet``/``.pq`` file, or a DataFrame (copied).

    ``delimiter`` overrides the text file's (``,`` for .csv, tab for .tsv); the
    ``text_columns`` of a text file are kept as the text written (codes declared categorical:
    ``+7`` stays ``+7``, ``01067`` ``01067``). A first row whose
    cells are all numbers is data, not a header: the columns are then named ``column_1``,
    ``column_2``, ... Empty cells and NA spellings (``NA``, ``NaN``, ``null``, ...) are missing.
    Raises ``DataError`` naming the file (and column) and the fix for: a missing or unreadable
    file, an empty file, a header without rows, rows of different lengths, duplicate column
    names, and Parquet columns of nested types (list, struct, map).
    """
    if isinstance(source, pd.DataFrame):
        return _from_frame(source)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"a table must be a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    compressed, suffix = compression_suffix(path), table_suffix(path)
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown table format {suffix or '(no suffix)'!r}; use .csv, .tsv, .parquet or .pq")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    form, default = FORMATS[suffix]
    if form == "parquet":
        if compressed:
            raise DataError(f"{path}: Parquet files are compressed inside; decompress the file (drop {compressed})")
        return _read_parquet(path)
    return _read_text(path, delimiter or default, frozenset(text_columns))


def iter_table_chunks(path: str | os.PathLike[str], chunk_rows: int, *, delimiter: str | None = None) -> Iterator[pd.DataFrame]:
    """Yield the table file ``path`` as DataFrames of at most ``chunk_rows`` rows, in file
    order, holding one chunk in memory at a time: Parquet by record batches, CSV/TSV by row
    blocks. Each chunk is typed as :func:`read_table` types a whole file (from its own cells,
    so a column may come as integers in one chunk and as decimals in another: the codec reads
    both), and knows its file and file rows, so that a message names a cell by its row in the
    file. Raises ``DataError`` as :func:`read_table` does."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if not suffixes or suffixes[-1] not in FORMATS or not path.is_file():
        yield read_table(path, delimiter=delimiter)  # its errors name the problem
        return
    form, default = FORMATS[suffixes[-1]]
    if form == "parquet":
        yield from _numbered(path, _parquet_chunks(path, chunk_rows))
    else:
        yield from _numbered(path, _text_chunks(path, delimiter or default, chunk_rows))


def _numbered(path: Path, chunks: Generator[pd.DataFrame, None, None]) -> Iterator[pd.DataFrame]:
    """Yield ``chunks`` (consecutive rows of ``path``) with their file and file rows in their
    ``attrs``: a cell of a later chunk is named by its row in the file, not in the chunk."""
    from vaekit.data.tables.cells import FileRows

    start = 0
    try:
        for frame in chunks:
            frame.attrs.update(vaekit_source=str(path), vaekit_file_rows=FileRows(range(start, start + len(frame))))
            start += len(frame)
            yield frame
    finally:
        chunks.close()  # a reader stopped early closes the file now, not when collected


def _parquet_chunks(path: Path, chunk_rows: int) -> Generator[pd.DataFrame, None, None]:
    import pyarrow as pa

    file = open_parquet(path)
    batches = file.iter_batches(batch_size=chunk_rows)
    done = 0
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            raise _damaged_group(path, file, done, exc) from None
        if batch is None:
            return
        done += batch.num_rows
        yield arrow_frame(pa.Table.from_batches([batch]))


def _damaged_group(path: Path, file: Any, first_row: int, exc: BaseException) -> DataError:
    """Return the ``DataError`` for the Parquet ``file`` whose rows from ``first_row`` on could
    not be read (``exc``): naming the first row group from there that cannot be read, found by
    reading them again one by one (only after a failure)."""
    import pyarrow as pa

    groups, start = file.metadata.num_row_groups, 0
    for group in range(groups):
        size = file.metadata.row_group(group).num_rows
        if start + size > first_row:
            try:
                file.read_row_group(group)
            except (pa.ArrowException, OSError) as group_exc:
                return unreadable_row_group(str(path), group, groups, (start, start + size), group_exc)
        start += size
    return not_parquet(path, exc)


def not_parquet(path: str | os.PathLike[str], exc: BaseException) -> DataError:
    """Return the ``DataError`` for the file ``path`` that pyarrow could not read as Parquet
    (``exc``): its reason on one line, and the fix."""
    return DataError(
        f"{path}: cannot be read as a Parquet file ({arrow_reason(exc)}): it is damaged or not a Parquet file; "
        "write it again from its source (e.g. pandas' DataFrame.to_parquet)"
    )


def arrow_reason(exc: BaseException) -> str:
    """Return the text of a pyarrow (or OS) error on one line, for quoting in a message: its
    whitespace collapsed (pyarrow's text often runs over several lines) and control characters
    dropped (it quotes the damaged bytes it met), or the error's type when it has no text."""
    text = "".join(c if c.isprintable() else " " for c in str(exc))
    return " ".join(text.split()) or type(exc).__name__


def unreadable_row_group(
    path: str, group: int, groups: int, rows: tuple[int, int], exc: BaseException, *, source: str | None = None
) -> DataError:
    """Return the ``DataError`` for row group ``group`` (of ``groups``, holding the file rows
    ``rows``, 0-based, end excluded) of the Parquet file ``path`` that pyarrow could not read
    (``exc``). ``source``, when given, is the text table ``path`` is a cached copy of: the fix
    is then to delete the copy, which is made again."""
    import pyarrow as pa

    copy = source is not None and source != path
    what = f"{source}: its Parquet copy {path}" if copy else path
    where = f"row group {group} (counted from 0, of {groups}; rows {rows[0] + 1:,}-{rows[1]:,})"
    if isinstance(exc, pa.ArrowNotImplementedError):
        # Not damage: a compression or encoding this pyarrow lacks, which a rewrite avoids.
        fix = f"written in a way pyarrow {pa.__version__} cannot read; write it again with the defaults (e.g. pandas' DataFrame.to_parquet), or upgrade pyarrow"
    elif copy:
        fix = f"the copy is damaged; delete it, and the next run converts {source} again"
    else:
        fix = "the file is damaged; write it again from its source"
    return DataError(f"{what}: {where} cannot be read ({arrow_reason(exc)}): {fix}")


def open_parquet(path: str | os.PathLike[str], footer: Any = None) -> Any:
    """Return the Parquet file ``path`` opened for reading by parts (a
    ``pyarrow.parquet.ParquetFile``: its footer read, no rows yet), after the checks
    :func:`read_table` makes of a whole file: readable, unique column names, no nested
    columns, at least one row (``DataError`` naming the problem and the fix otherwise).

    Given the file's ``footer`` taken apart (a ``vaekit.data.disk.parquet_footer.RowGroupFooter``),
    the file returned knows only its first row group (the schema is the same), and the rows
    counted are those of the footer."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        file = pq.ParquetFile(path) if footer is None else footer.open(0)
    except (pa.ArrowException, OSError) as exc:
        raise not_parquet(path, exc) from None
    names = [str(n) for n in file.schema_arrow.names]
    _check_names(names, str(path))
    if not names:
        raise DataError(f"{path}: the Parquet file has no columns")
    for field in file.schema_arrow:
        if pa.types.is_nested(field.type):
            raise DataError(
                f"{path}: column {field.name!r} has the nested type {field.type}; flatten it into plain columns or drop it"
            )
    if (file.metadata.num_rows if footer is None else int(footer.rows.sum())) == 0:
        raise DataError(f"{path}: the Parquet file has no rows")
    return file


def arrow_frame(table: Any) -> pd.DataFrame:
    """Return an Arrow table (rows of a Parquet file) as a DataFrame typed as
    :func:`read_table` types a Parquet file (nullable dtypes where cells are missing)."""
    import pyarrow as pa

    names = [str(name) for name in table.schema.names]
    # One conversion of the plain columns (a tenth of the time of one per column, for a
    # table read row group by row group); the columns _arrow_column treats apart go in after.
    special = [
        i for i, field in enumerate(table.schema)
        if pa.types.is_decimal(field.type)
        or (table.column(i).null_count and (pa.types.is_integer(field.type) or pa.types.is_boolean(field.type)))
    ]  # fmt: skip
    if len(special) == len(names):
        return pd.DataFrame({name: _arrow_column(table.column(i), pa) for i, name in enumerate(names)})
    plain = [i for i in range(len(names)) if i not in special]
    frame = table.select(plain).to_pandas(ignore_metadata=True)
    frame.columns = [names[i] for i in plain]
    for i in special:
        frame.insert(i, names[i], _arrow_column(table.column(i), pa))
    return frame


def _text_chunks(path: Path, delimiter: str, chunk_rows: int) -> Generator[pd.DataFrame, None, None]:
    names: list[str] | None = None
    rows = 0
    with _text_errors(path, delimiter), pd.read_csv(path, chunksize=chunk_rows, **_text_options(delimiter)) as reader:
        for raw in reader:
            if names is None:
                names, raw = _header(raw, path, delimiter)
                if raw.shape[0] == 0:
                    continue
            raw = raw.reset_index(drop=True)  # the reader numbers rows across chunks; typed columns restart at 0
            if raw.shape[1] != len(names):
                raise DataError(f"{path}: rows have {raw.shape[1]} cells where the header has {len(names)}")
            rows += len(raw)
            yield pd.DataFrame({name: _typed(raw.iloc[:, j]) for j, name in enumerate(names)})
    if names is None:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data")
    if not rows:
        raise DataError(f"{path}: has a header line but no rows of data; add rows below the header")


def _text_options(delimiter: str) -> dict[str, Any]:
    """Return pandas' reader options for a CSV/TSV read as text: every cell as text, nothing
    turned into NaN yet (the header row must keep names such as "NA", and each column's type is
    decided from its cells)."""
    return {
        "sep": delimiter, "header": None, "dtype": str, "na_filter": False, "keep_default_na": False,
        "skip_blank_lines": True, "encoding": "utf-8-sig", "engine": "c",
    }  # fmt: skip


@contextlib.contextmanager
def _text_errors(path: Path, delimiter: str) -> Iterator[None]:
    """Turn pandas' reading errors of the text file ``path`` (separated by ``delimiter``) into
    ``DataError`` with the fix."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data") from None
    except pd.errors.ParserError as exc:
        # A header of one cell and rows of several: the rows hold the delimiter inside cells
        # (decimal commas of a semicolon-separated file), and the header another separator.
        first = _first_line(path)
        if first is not None and delimiter not in first:
            _refuse_other_separator(path, [first], delimiter)
        detail = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"{path}: cannot be read as a table ({detail}); every row needs the same number of cells "
            "(quote cells that contain the delimiter)"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; save the table as UTF-8 CSV") from None


def _header(raw: pd.DataFrame, path: Path, delimiter: str) -> tuple[list[str], pd.DataFrame]:
    """Return the column names and the rows below them: a first row whose cells are all numbers
    is data, and the columns are then named ``column_1``, ``column_2``, ... Raises
    ``DataError`` when the file reads as one column whose first cell holds another separator."""
    first = [str(c).strip() for c in raw.iloc[0]]
    _refuse_other_separator(path, first, delimiter)
    present = [c for c in first if c not in MISSING_TEXT]
    if any(not _is_number(c) for c in present):
        names = [c if c else f"column_{j + 1}" for j, c in enumerate(first)]
        _check_names(names, str(path))
        numbers = [c for c in present if _is_number(c)]
        if numbers:
            # A file without a header line whose first row has text in it looks just like this;
            # its first row would be lost as names unless the user is told.
            shown = ", ".join(repr(c) for c in numbers[:3]) + (", ..." if len(numbers) > 3 else "")
            warnings.warn(
                f"{path}: its first line is read as the column names, and some of them are numbers ({shown}); "
                "if the file has no header line, that first row of data is not used: add a line of column names",
                VaekitWarning,
                stacklevel=user_stacklevel(),
            )
        return names, raw.iloc[1:].reset_index(drop=True)
    return [f"column_{j + 1}" for j in range(raw.shape[1])], raw


def _first_line(path: Path) -> str | None:
    """Return the first line of the text file ``path`` (None when it cannot be read as text)."""
    import gzip

    compressed = compression_suffix(path)
    if compressed not in ("", ".gz"):
        return None  # the other compressions' errors keep pandas' words
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            return f.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return None


def _refuse_other_separator(path: Path, first: list[str], delimiter: str) -> None:
    """Raise ``DataError`` when the first row read, ``first``, is one cell that holds another
    likely separator than ``delimiter``: a file of semicolons read by commas would otherwise be
    modelled as one column of nonsense."""
    if len(first) != 1:
        return
    found = [sep for sep in SEPARATORS if sep != delimiter and sep in first[0]]
    if not found:
        return
    sep = max(found, key=first[0].count)
    suffix = table_suffix(path)
    if sep == "," or (sep == "\t" and suffix == ".csv"):
        fix = f"rename it to {'.csv' if sep == ',' else '.tsv'}, or save it with {SEPARATORS[delimiter]}"
    else:
        fix = "save it with commas (a .csv) or tabs (a .tsv)"
    raise DataError(
        f"{path}: reads as one column named {first[0]!r}, which holds {SEPARATORS[sep]}: the file seems separated "
        f"by {SEPARATORS[sep]}, and a {suffix} file is read by {SEPARATORS[delimiter]}; {fix}, or in Python pass "
        f"the table as a DataFrame: data=pd.read_csv({path.name!r}, sep={sep!r})"
    )


def _check_names(names: list[str], where: str) -> None:
    """Raise ``DataError`` when two columns share a name."""
    twice = [name for name, n in Counter(names).items() if n > 1]
    if twice:
        name = twice[0]
        places = [str(i + 1) for i, other in enumerate(names) if other == name]
        raise DataError(
            f"{where}: columns {' and '.join(places)} are both named {name!r}; "
            "every column needs its own name: rename or drop one of them"
        )


def _read_text(path: Path, delimiter: str, text_columns: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Return the CSV/TSV file ``path`` read as text and converted column by column (the
    ``text_columns`` kept as text)."""
    with _text_errors(path, delimiter):
        try:
            raw = pd.read_csv(path, **_text_options(delimiter))
        except (OSError, ValueError) as exc:
            if isinstance(exc, (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError)):
                raise  # _text_errors names these
            raise DataError(f"{path}: cannot be read as a table ({exc})") from None
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data")
    rows = raw.shape[0]
    names, raw = _header(raw, path, delimiter)
    header = raw.shape[0] < rows
    if header and raw.shape[0] == 0:
        raise DataError(f"{path}: has a header line but no rows of data; add rows below the header")
    frame = pd.DataFrame(
        {name: _typed(raw.iloc[:, j], "text" if name in text_columns else None) for j, name in enumerate(names)}
    )
    frame.attrs.update(
        vaekit_source=str(path), vaekit_delimiter=delimiter, vaekit_header=header, vaekit_rows=len(frame),
        vaekit_grouped=_grouped_columns(frame, raw),
    )  # fmt: skip
    return frame


def _grouped_columns(frame: pd.DataFrame, raw: pd.DataFrame) -> dict[str, str]:
    """Return ``{column: a cell as written}`` of the number columns of ``frame`` whose text
    cells (``raw``) had thousands separators, so that inference can say how they were read."""
    grouped = {}
    for j, name in enumerate(frame.columns):
        if pd.api.types.is_numeric_dtype(frame[name].dtype) and not pd.api.types.is_bool_dtype(frame[name].dtype):
            cells = raw.iloc[:, j]
            written = cells[cells.str.contains(",", regex=False)]
            if len(written):
                grouped[str(name)] = str(written.iloc[0]).strip()
    return grouped


def _is_number(cell: str) -> bool:
    return re.fullmatch(FLOAT_PATTERN, cell) is not None


def _typed(cells: pd.Series, kind: str | None = None) -> pd.Series:
    """Return one column of text cells as numbers, booleans or text (see the module's note);
    ``kind`` (from :func:`_column_kind`) imposes the type decided over a whole file, so that
    every chunk of it comes in the same type."""
    text = cells.astype("str").str.strip()
    missing = text.isin(MISSING_TEXT).to_numpy() | text.isna().to_numpy()
    present = text[~missing]
    if kind is None:
        kind = _column_kind(_cell_facts(present))
    if kind == "empty":
        return pd.Series(np.full(len(text), np.nan), dtype="float64")
    if kind in ("int", "float") and present.str.contains(",", regex=False).any():
        present = present.str.replace(",", "", regex=False)  # thousands separators (the module's note)
    if kind == "int":
        values = np.zeros(len(text), dtype="int64")
        values[~missing] = present.astype("int64").to_numpy()
        if not missing.any():
            return pd.Series(values, dtype="int64")
        return pd.Series(pd.arrays.IntegerArray(values, missing.copy()))
    if kind == "float":
        out = np.full(len(text), np.nan)
        out[~missing] = present.astype("float64").to_numpy()
        return pd.Series(out, dtype="float64")
    if kind == "bool":
        flags = np.zeros(len(text), dtype=bool)
        flags[~missing] = (present.str.lower() == "true").to_numpy()
        if not missing.any():
            return pd.Series(flags, dtype="bool")
        return pd.Series(pd.arrays.BooleanArray(flags, missing.copy()))
    return text.where(~missing)  # text, and identifiers such as 20-digit account numbers: every digit kept


def _cell_facts(present: pd.Series) -> dict[str, Any]:
    """Return what decides a column's type, of its present (stripped, non-missing) text cells;
    facts of a file's chunks combine with :func:`_merge_facts`."""
    if present.empty:
        return {
            "present": False, "int": True, "int_digits": 0, "leading_zero": False, "float": True,
            "grouped": False, "bool": True,
        }  # fmt: skip
    is_int = bool(present.str.fullmatch(INT_PATTERN).all())
    is_float = is_int or bool(present.str.fullmatch(FLOAT_PATTERN).all())
    grouped = False
    if not is_float and present.str.contains(",", regex=False).any():
        # Every cell a number written plainly or with thousands separators: numbers.
        whole = present.str.fullmatch(f"{INT_PATTERN}|{GROUPED_INT_PATTERN}")
        grouped = bool((whole | present.str.fullmatch(f"{FLOAT_PATTERN}|{GROUPED_FLOAT_PATTERN}")).all())
        is_int, is_float = grouped and bool(whole.all()), grouped
    digits = present.str.replace(",", "", regex=False) if grouped else present
    return {
        "present": True,
        "int": is_int,
        "int_digits": int(digits.str.len().max()) if is_int else 0,
        "leading_zero": is_int and not grouped and bool(present.str.fullmatch(LEADING_ZERO_PATTERN).any()),
        "float": is_float,
        "grouped": grouped,
        "bool": bool(present.str.lower().isin(("true", "false")).all()),
    }


def _merge_facts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Return the facts of two parts of one column together."""
    return {
        "present": a["present"] or b["present"],
        "int": a["int"] and b["int"],
        "int_digits": max(a["int_digits"], b["int_digits"]),
        "leading_zero": a["leading_zero"] or b["leading_zero"],
        "float": a["float"] and b["float"],
        "grouped": a["grouped"] or b["grouped"],
        "bool": a["bool"] and b["bool"],
    }


def _column_kind(facts: dict[str, Any]) -> str:
    """Return the type of a column with these facts: "empty", "int", "float", "bool" or "text"
    (whole numbers with a leading zero are codes, kept as written)."""
    if not facts["present"]:
        return "empty"
    if facts["int"]:
        return "text" if facts["int_digits"] > MAX_INT_DIGITS + 1 or facts["leading_zero"] else "int"
    if facts["float"]:
        return "float"
    return "bool" if facts["bool"] else "text"


def conform_digits(frame: pd.DataFrame, as_text: Mapping[str, bool]) -> pd.DataFrame:
    """Return ``frame`` (read from a CSV/TSV by :func:`read_table`) with its columns of whole
    numbers typed as ``as_text`` says: True, kept as the text written (declared categorical or
    ignored, or text in a run's schema); False, whole numbers (a run saved before codes with
    leading zeros were kept as text read 01067 as 1067, and its schema keeps meaning that).
    Other columns, and frames not read from a text file (whose types are their own), are
    returned as they are."""
    if not frame.attrs.get("vaekit_delimiter"):
        return frame
    changed = {}
    for name, text in as_text.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        if text and pd.api.types.is_integer_dtype(series.dtype):
            # Read as a number only when no cell had a leading zero: its text is the number's.
            cells = [str(v) if present else None for v, present in zip(series.astype(object), series.notna(), strict=True)]
            changed[name] = pd.Series(cells, dtype="str")
        elif not text and str(series.dtype) in TEXT_DTYPES:
            cells = series.astype("str").str.strip()
            present = cells[~(cells.isin(MISSING_TEXT).to_numpy() | series.isna().to_numpy())]
            facts = _cell_facts(present)
            if facts["present"] and facts["int"] and facts["int_digits"] <= MAX_INT_DIGITS + 1:
                changed[name] = _typed(series.astype(object).where(series.notna(), ""), "int")
    if not changed:
        return frame
    out = frame.copy()
    for name, column in changed.items():
        out[name] = column.set_axis(out.index)
    return out


def declared_as_text(kinds: Mapping[str, str]) -> dict[str, bool]:
    """Return which columns of a text table to keep as text, of the kinds a user declared
    (``{"zip": "categorical"}``): categories and ignored columns as written, numbers as numbers."""
    return {name: kind in ("binary", "categorical", "ignore") for name, kind in kinds.items()}


def saved_as_text(schema: Any) -> dict[str, bool]:
    """Return which columns of a text table to keep as text, of a run's ``TableSchema``: those
    it read as text, and not its whole-number columns (see :func:`conform_digits`)."""
    as_text = {}
    for column in schema.columns:
        if column.dtype in TEXT_DTYPES:
            as_text[column.name] = True
        elif column.dtype.lower().startswith(("int", "uint")):
            as_text[column.name] = False
    return as_text


def typed_text_chunks(
    path: str | os.PathLike[str], chunk_rows: int, *, delimiter: str | None = None
) -> Iterator[pd.DataFrame]:
    """Yield the CSV/TSV file ``path`` as DataFrames of exactly ``chunk_rows`` rows (the last
    one shorter), each column in the one type :func:`read_table` gives the whole file (unlike
    :func:`iter_table_chunks`, which types each chunk from its own cells). Two passes over the
    file, one chunk in memory at a time: the first decides each column's type, the second
    converts. Raises ``DataError`` as :func:`read_table` does."""
    path = Path(path)
    suffix = table_suffix(path)
    if suffix not in FORMATS or FORMATS[suffix][0] != "text" or not path.is_file():
        raise DataError(f"{path}: not a .csv/.tsv file (or no such file); typed_text_chunks reads text tables")
    delimiter = delimiter or FORMATS[suffix][1]
    names: list[str] | None = None
    facts: list[dict[str, Any]] = []
    for raw in _raw_text_rows(path, delimiter, chunk_rows):
        if names is None:
            names = [str(c) for c in raw.columns]
            facts = [_cell_facts(pd.Series([], dtype="str"))] * len(names)
        for j in range(len(names)):
            text = raw.iloc[:, j].astype("str").str.strip()
            present = text[~(text.isin(MISSING_TEXT).to_numpy() | text.isna().to_numpy())]
            facts[j] = _merge_facts(facts[j], _cell_facts(present))
    if names is None:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data")
    kinds = [_column_kind(f) for f in facts]
    for raw in _raw_text_rows(path, delimiter, chunk_rows):
        yield pd.DataFrame({name: _typed(raw.iloc[:, j], kinds[j]) for j, name in enumerate(names)})


def _raw_text_rows(path: Path, delimiter: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield the data rows of a text table as text cells, ``chunk_rows`` rows at a time (the
    header, if any, taken off; the columns named as :func:`read_table` names them)."""
    names: list[str] | None = None
    held: pd.DataFrame | None = None
    rows = 0
    with _text_errors(path, delimiter), pd.read_csv(path, chunksize=chunk_rows, **_text_options(delimiter)) as reader:
        for raw in reader:
            if names is None:
                names, raw = _header(raw, path, delimiter)
            if raw.shape[1] != len(names):
                raise DataError(f"{path}: rows have {raw.shape[1]} cells where the header has {len(names)}")
            raw = raw.set_axis(names, axis=1)
            rows += len(raw)
            held = raw if held is None else pd.concat([held, raw], ignore_index=True)
            while len(held) >= chunk_rows:
                yield held.iloc[:chunk_rows].reset_index(drop=True)
                held = held.iloc[chunk_rows:].reset_index(drop=True)
    if names is None:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data")
    if held is not None and len(held):
        yield held
    elif not rows:
        raise DataError(f"{path}: has a header line but no rows of data; add rows below the header")


def _from_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a deep copy of ``frame`` with text column names, after checking it is a table."""
    if isinstance(frame.columns, pd.MultiIndex):
        raise DataError("the DataFrame has multi-level column names; flatten them into one name per column")
    names = [str(c) for c in frame.columns]
    _check_names(names, "the DataFrame")
    if frame.shape[1] == 0:
        raise DataError("the DataFrame has no columns")
    if frame.shape[0] == 0:
        raise DataError("the DataFrame has no rows")
    out = frame.copy(deep=True)
    out.columns = names
    for name in names:
        if out[name].dtype == object:
            nested = next((v for v in out[name] if isinstance(v, (list, tuple, dict, set, np.ndarray))), None)
            if nested is not None:
                raise DataError(
                    f"column {name!r} holds nested values ({type(nested).__name__}); "
                    "a table cell must be one number, text or true/false: flatten it into columns or drop it"
                )
    return out


def _read_parquet(path: Path) -> pd.DataFrame:
    """Return the Parquet file ``path`` as a DataFrame (nullable dtypes where cells are missing)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError):
            raise not_parquet(path, exc) from None
        # The footer reads: a row group is damaged, which the message names with its rows.
        raise _damaged_group(path, file, 0, exc) from None
    names = [str(n) for n in table.schema.names]
    _check_names(names, str(path))
    if not names:
        raise DataError(f"{path}: the Parquet file has no columns")
    for field in table.schema:
        if pa.types.is_nested(field.type):
            raise DataError(
                f"{path}: column {field.name!r} has the nested type {field.type}; a table cell must be one "
                "number, text or true/false: flatten it into plain columns (one per field) or drop it"
            )
    if table.num_rows == 0:
        raise DataError(f"{path}: the Parquet file has no rows")
    columns = {name: _arrow_column(table.column(i), pa) for i, name in enumerate(names)}
    frame = pd.DataFrame(columns)
    frame.attrs.update(vaekit_source=str(path), vaekit_rows=len(frame))
    return frame


def _arrow_column(column: Any, pa: Any) -> pd.Series:
    """Return one Arrow column as a pandas Series: integer and boolean columns with nulls as
    pandas' nullable ``Int64``-style / ``boolean`` dtypes (not float), decimals as float64."""
    kind = column.type
    if pa.types.is_decimal(kind):
        column = column.cast(pa.float64())
    if column.null_count and (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
        nullable = {
            pa.int8(): pd.Int8Dtype(),
            pa.int16(): pd.Int16Dtype(),
            pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(),
            pa.uint8(): pd.UInt8Dtype(),
            pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(),
            pa.uint64(): pd.UInt64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
        }
        return column.to_pandas(types_mapper=nullable.get)
    return column.to_pandas()
