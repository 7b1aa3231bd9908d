"""Infer each column's kind from its values, with a stated reason; apply the user's overrides.

Rules, in order (a user's kind always wins, with reason "set by the user", when possible):

- every cell missing -> error (drop the column or mark it ignore);
- one distinct value -> categorical (a constant);
- true/false values -> binary; exactly 2 distinct values (text or numbers) -> binary;
- text that is dates or times (2024-01-31, 31/01/2024, 2024-01-31T08:00, 08:30) -> error, as a
  column of dates in Parquet (leave it out, or declare it categorical);
- text: every value different (more than 20 rows), or distinct values more than half the rows
  -> ignore (an identifier or free text); else categorical;
- whole numbers: all different and nearly consecutive -> ignore (a row number or id);
  few distinct values (<= 20 and at most a quarter of the rows) -> count when they start at 0
  and are strongly right-skewed (skewness >= 2), else categorical ("codes"); many distinct
  values, non-negative, right-skewed (skewness >= 1) and small (mean <= 100) -> count;
  else integer;
- other numbers -> continuous.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.tables.cells import (
    FLOAT_PATTERN,
    INT_PATTERN,
    FileRows,
    is_missing,
    json_scalar,
    match_category,
    show_cells,
    sorted_categories,
    source_name,
    text_form,
)
from vaekit.data.tables.numbers import point_masses, skewness
from vaekit.data.tables.schema import CATEGORY_KINDS, KINDS, MAX_DECIMALS, ColumnSchema, TableSchema
from vaekit.runtime.errors import DataError
from vaekit.runtime.names import did_you_mean

#: at most this many distinct whole numbers are read as codes (categories)
MAX_CODES = 20
#: ... and at most this share of the rows (so a short column of many values stays a number)
MAX_CODE_SHARE = 0.25
#: a text column with more distinct values than this share of its rows is an identifier
MAX_TEXT_SHARE = 0.5
#: identifiers are only recognised on columns with more rows than this (small tables keep
#: their few distinct labels as categories)
MIN_ID_ROWS = 20
#: skewness from which a non-negative whole-number column with many values is a count
COUNT_SKEW = 1.0
#: ... with few values (which would otherwise be codes)
FEW_COUNT_SKEW = 2.0
#: counts are small numbers; larger whole numbers (dollars, grams) are quantities (integer)
MAX_COUNT_MEAN = 100.0
#: numbers beyond this magnitude cannot be modelled (the model computes in float32)
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: what the user is told when a kind is theirs
BY_USER = "set by the user"
#: how an inferred reason starts for whole numbers all different that are not consecutive (a
#: quantity, or an identifier: the notice at training asks)
ALL_DIFFERENT_WHOLE = "whole numbers, every value different"
#: text cells read as dates or times: ISO dates with an optional time, day/month/year or
#: month/day/year with slashes or dots, year/month/day with slashes, and times of day
DATE_PATTERNS = (
    r"\d{4}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    r"\d{1,2}[/.]\d{1,2}[/.]\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?",
    r"\d{4}/\d{1,2}/\d{1,2}(?: \d{1,2}:\d{2}(?::\d{2})?)?",
    r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?",
)


@dataclass
class Facts:
    """What inference needs to know of one column's non-missing values."""

    #: "number", "text", "bool", "category" (a pandas categorical), "mixed" (numbers and text),
    #: "all-missing", "date", "infinite" (numbers, some infinite), "huge" (numbers, some beyond
    #: float32's range), "other" (objects of other types)
    nature: str
    values: pd.Series  # the non-missing cells
    distinct: int
    missing: int
    whole: bool = False  # numbers only: every value a whole number
    numbers: np.ndarray | None = None  # numbers only: float64 values


def infer_schema(
    df: pd.DataFrame, *, kinds: Mapping[str, str] | None = None, ignore: Sequence[str] = ()
) -> TableSchema:
    """Return the schema of ``df``: for each column its kind, the reason for it, its dtype as
    read, its categories (binary/categorical) or range (numbers) and its missing cells.

    ``kinds`` sets columns' kinds (``{"plan": "categorical"}``), ``ignore`` names columns to
    leave out of the model (kind "ignore"). Raises ``DataError`` naming the column and the fix
    for: fewer than 2 rows, a column with every cell missing, a column mixing numbers and text,
    dates or other unsupported values, and an override naming an unknown column, an unknown
    kind, or a kind the column's values cannot have (text as continuous).
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"a table must be a pandas DataFrame, got {type(df).__name__}")
    where = source_name(df)
    if len(df) < 2:
        raise DataError(
            f"{where}the table has {len(df)} row(s); a model needs at least 2 rows to learn from (many more to learn well)"
        )
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{where}two columns are named {twice!r}; rename or drop one of them")
    chosen = _overrides(names, kinds, ignore, where)
    return TableSchema([_column(name, df.iloc[:, j], chosen.get(name), df) for j, name in enumerate(names)])


def _overrides(names: list[str], kinds: Mapping[str, str] | None, ignore: Sequence[str], where: str) -> dict[str, str]:
    """Return ``{column: kind}`` set by the user, after checking names and kinds."""
    chosen: dict[str, str] = {}
    if isinstance(ignore, str):
        ignore = [ignore]
    for name, kind in [*(dict(kinds or {}).items()), *((n, "ignore") for n in ignore)]:
        if name not in names:
            raise DataError(
                f"{where}column {name!r} (given a kind of {kind!r}) is not in the table{did_you_mean(name, names)}; "
                f"its columns are: {', '.join(names)}"
            )
        if kind not in KINDS:
            raise DataError(f"{where}column {name!r}: unknown kind {kind!r}; kinds are: {', '.join(KINDS)}")
        chosen[name] = kind
    return chosen


def _facts(series: pd.Series) -> Facts:
    """Return the nature and summary of one column's values."""
    missing = is_missing(series)
    values = series[~missing]
    n_missing = int(missing.sum())
    if values.empty:
        return Facts("all-missing", values, 0, n_missing)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return Facts("category", values, int(values.nunique()), n_missing)
    if pd.api.types.is_bool_dtype(dtype):
        return Facts("bool", values, int(values.nunique()), n_missing)
    if pd.api.types.is_numeric_dtype(dtype):
        numbers = values.to_numpy(dtype="float64")
        return _number_facts(values, numbers, n_missing)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return Facts("date", values, int(values.nunique()), n_missing)
    if isinstance(dtype, pd.StringDtype):
        kinds = {"text"}  # a pandas string column holds text only
    else:  # an object column of Python values: look at every one
        kinds = {_value_nature(v) for v in values}
    if kinds <= {"bool"}:
        return Facts("bool", values.astype(bool), int(values.nunique()), n_missing)
    if kinds <= {"number"}:
        return _number_facts(values, values.to_numpy(dtype="float64"), n_missing)
    if "other" in kinds:
        return Facts("other", values, 0, n_missing)
    if kinds == {"text"}:
        text = values.astype("str").str.strip()
        looks = text.str.fullmatch(FLOAT_PATTERN).to_numpy(dtype=bool)
        nature = "mixed" if looks.any() and not looks.all() else "text"
        if nature == "text" and not looks.any() and text.str.fullmatch("|".join(DATE_PATTERNS)).all():
            nature = "text-date"
        return Facts(nature, values, int(values.nunique()), n_missing)
    return Facts("mixed", values, int(values.nunique()), n_missing)


def _value_nature(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number" if math.isfinite(float(value)) else "other"
    if isinstance(value, str):
        return "text"
    return "other"


def _number_facts(values: pd.Series, numbers: np.ndarray, n_missing: int) -> Facts:
    if not np.isfinite(numbers).all():
        return Facts("infinite", values, 0, n_missing, numbers=numbers)
    if len(numbers) and np.abs(numbers).max() > FLOAT32_MAX:
        return Facts("huge", values, 0, n_missing, numbers=numbers)
    whole = bool(np.all(numbers == np.round(numbers)))
    return Facts("number", values, int(np.unique(numbers).size), n_missing, whole=whole, numbers=numbers)


def decimal_places(numbers: np.ndarray, *, single: bool = False, at_least: int = 0) -> int | None:
    """Return the fewest decimal places, from ``at_least`` up to ``MAX_DECIMALS``, that hold every
    value of ``numbers`` (to float32's precision when ``single``, the column's own): 0 for whole
    numbers, None when none up to ``MAX_DECIMALS`` does (measurements, not decimals)."""
    cast = np.float32 if single else np.float64
    values = np.asarray(numbers, dtype=np.float64)
    # Rounding moves a decimal-written value by an ulp or so, not more.
    tolerance = 4 * np.finfo(cast).eps
    for places in range(at_least, MAX_DECIMALS + 1):
        rounded = np.round(values, places)
        if np.allclose(rounded.astype(cast), values.astype(cast), rtol=tolerance, atol=0.0):
            return places
    return None


def _single(series: pd.Series) -> bool:
    """Whether a column's numbers are float32 (their decimals are read to its precision)."""
    return getattr(series.dtype, "numpy_dtype", series.dtype) == np.float32


def _column(name: str, series: pd.Series, override: str | None, frame: pd.DataFrame) -> ColumnSchema:
    """Return the schema of one column: the user's kind if given (checked), else inferred."""
    facts = _facts(series)
    where = source_name(frame)
    col = f"{where}column {name!r}"
    if override == "ignore":
        return _schema(name, series, facts, "ignore", BY_USER)
    if facts.nature == "all-missing":
        raise DataError(f"{col} has no values (every cell is missing); drop the column or leave it out with --ignore {name} (ignore=[...] in Python)")
    if facts.nature == "text-date":
        # Written dates are text a user may declare categorical (a few survey waves), as any text.
        if override in CATEGORY_KINDS:
            facts = dataclasses.replace(facts, nature="text")
        else:
            facts = dataclasses.replace(facts, nature="date")
    if facts.nature == "date":
        raise DataError(
            f"{col} holds dates or times, which vaekit does not model; leave it out with --ignore {name} or convert it to numbers"
        )
    if facts.nature == "infinite":
        bad = np.flatnonzero(~np.isfinite(facts.numbers))
        positions = np.flatnonzero(~is_missing(series))[bad]
        cells = [float(facts.numbers[i]) for i in bad]
        raise DataError(
            f"{col} has infinite values: {show_cells(frame, cells, positions)}; clean those cells or leave them empty"
        )
    if facts.nature == "huge":
        raise DataError(_huge_message(col, facts.numbers, np.flatnonzero(~is_missing(series)), frame))
    if facts.nature == "other":
        example = next(v for v in facts.values if _value_nature(v) == "other")
        raise DataError(
            f"{col} holds values of type {type(example).__name__} ({example!r}); a cell must be one number, "
            "text or true/false: convert the column or leave it out with --ignore " + name
        )
    if facts.nature == "mixed" and override not in CATEGORY_KINDS:
        raise DataError(_mixed_message(col, name, series, facts, frame))
    if override is not None:
        _check_override(col, override, facts)
        return _schema(name, series, facts, override, BY_USER)
    kind, reason = _infer(facts)
    written = (frame.attrs.get("vaekit_grouped") or {}).get(name)
    if written is not None:
        reason = f"{reason}; written with thousands separators ({written!r} read as {written.replace(',', '')})"
    return _schema(name, series, facts, kind, reason)


def inference_notice(frame: pd.DataFrame, schema: TableSchema) -> str:
    """Return one line telling what inference did that a user may not want, or "": the columns
    it left out (kind ignore, not set by the user) with why and how to keep one; the whole
    numbers every one different that it models as quantities (an identifier would need
    --ignore); the columns read as numbers written with thousands separators."""
    where = source_name(frame)
    left = [c for c in schema.columns if c.kind == "ignore" and c.reason != BY_USER]
    parts = []
    if left:
        shown = "; ".join(f"{c.name}: {c.reason}" for c in left)
        text = [c.name for c in left if not pd.api.types.is_numeric_dtype(frame[c.name].dtype)]
        example = f"{text[0]}=categorical" if text else f"{left[0].name}=integer"
        parts.append(
            f"left out of the model by inference: {shown}. To model one, give its kind: "
            f"--column-types COL=KIND (e.g. {example}; column_types= in Python)"
        )
    for column in schema.columns:
        if column.kind == "integer" and column.reason.startswith(ALL_DIFFERENT_WHOLE):
            parts.append(
                f"{column.name}: whole numbers, every value different: modelled as a quantity; if it is an "
                f"identifier, leave it out with --ignore {column.name}"
            )
    grouped = frame.attrs.get("vaekit_grouped") or {}
    for name, written in grouped.items():
        if schema.column(name).kind != "ignore":
            parts.append(f"{name}: read as numbers written with thousands separators ({written!r} as {written.replace(',', '')})")
    return f"{where}{'. '.join(parts)}" if parts else ""


def _huge_message(col: str, numbers: np.ndarray, positions: np.ndarray, frame: pd.DataFrame) -> str:
    """Return the error for a column with numbers beyond float32's range (``numbers`` at the
    rows ``positions`` of ``frame``): the model computes in float32, and the spread of such a
    column overflows even in float64, leaving every other value encoded as 0."""
    bad = np.flatnonzero(np.abs(numbers) > FLOAT32_MAX)
    cells = [float(numbers[i]) for i in bad]
    return (
        f"{col} has numbers beyond float32's range (about 3.4e38), too large to model: "
        f"{show_cells(frame, cells, positions[bad])}; fix those cells or leave them empty"
    )


def _is_infinity(cell: Any) -> bool:
    """Return whether a text cell spells infinity as numpy and pandas read it (``inf``, ``-Infinity``)."""
    return isinstance(cell, str) and cell.strip().lower().lstrip("+-") in ("inf", "infinity")


def _mixed_message(col: str, name: str, series: pd.Series, facts: Facts, frame: pd.DataFrame) -> str:
    """Return the error for a column mixing numbers and text: its text cells (those that are
    not numbers), and the fix that suits the column: clean the cells of a column of numbers,
    declare a column mostly of labels categorical."""
    looks = np.array(
        [
            _value_nature(v) == "number" or (isinstance(v, str) and re.fullmatch(FLOAT_PATTERN, v.strip()) is not None)
            for v in facts.values
        ]
    )
    text = ~looks
    positions = np.flatnonzero(~is_missing(series))[text]
    cells = list(facts.values[text])
    shown = show_cells(frame, cells, positions)
    if all(_is_infinity(cell) for cell in cells):
        # A text file spells infinity as text, which no declared kind would make a usable number.
        return f"{col} has infinite values: {shown}; clean those cells or leave them empty"
    declare = (
        f"declare it categorical (--column-types {name}=categorical, column_types={{\"{name}\": \"categorical\"}} "
        "in Python, or a schema file)"
    )
    if text.sum() > looks.sum():
        return f"{col} mixes numbers and text; its text: {shown}. If its values are labels, {declare}; else clean those cells"
    if all(isinstance(c, str) and re.fullmatch(_DRESSED_NUMBER, c.strip()) for c in cells):
        fix = "write them as plain numbers (no currency sign, unit, percent sign or spaces)"
    else:
        fix = "clean those cells (leave a cell empty when it is missing)"
    return f"{col} mixes numbers and text; its text: {shown}. If it holds numbers, {fix}; if its values are labels, {declare}"


#: a number dressed with a currency sign, unit, percent sign, spaces or separators ("$1,200", "12 kg")
_DRESSED_NUMBER = r"[^\d\s]{0,3}\s*[+-]?[\d.,' ]*\d[\d.,' ]*\s*[^\d\s]{0,3}"


def _check_override(col: str, kind: str, facts: Facts) -> None:
    """Raise ``DataError`` when the column's values cannot have the kind the user set."""
    nature = {
        "text": "text",
        "bool": "true/false values",
        "category": "pandas categories",
        "mixed": "numbers and text",
    }.get(facts.nature, facts.nature)
    if kind in CATEGORY_KINDS:
        if kind == "binary" and facts.distinct != 2:
            raise DataError(
                f"{col} cannot be binary: it has {facts.distinct} distinct value(s), binary needs exactly 2; "
                "make it categorical"
            )
        return
    if facts.nature != "number":
        raise DataError(
            f"{col} cannot be {kind}: it holds {nature}, not numbers; make it categorical or ignore, "
            "or convert its cells to numbers"
        )
    if kind in ("integer", "count") and not facts.whole:
        bad = next(v for v in facts.numbers if v != round(v))
        raise DataError(
            f"{col} cannot be {kind}: it has values that are not whole numbers (e.g. {bad:g}); make it continuous"
        )
    if kind == "count" and facts.numbers.min() < 0:
        raise DataError(
            f"{col} cannot be count: counts are non-negative, and it has {facts.numbers.min():g}; "
            "make it integer or continuous"
        )


def _infer(facts: Facts) -> tuple[str, str]:
    """Return (kind, reason) of a column with at least one value and no override."""
    n, u = len(facts.values), facts.distinct
    if u == 1:
        return "categorical", f"a single value ({text_form(facts.values.iloc[0])}): a constant"
    if facts.nature == "bool":
        return "binary", "true/false values"
    if facts.nature == "mixed":  # only reachable with an override, handled before
        return "categorical", "numbers and text mixed"
    if u == 2:
        shown = ", ".join(text_form(v) for v in sorted_categories(list(facts.values.unique())))
        return "binary", f"exactly 2 distinct values ({shown})"
    if facts.nature == "category":
        return "categorical", f"a pandas categorical column with {u} values"
    if facts.nature == "text":
        what = "text"
        if facts.values.astype("str").str.strip().str.fullmatch(INT_PATTERN).all():
            what = "digits written as text (codes: a leading zero is kept)"
        if n > MIN_ID_ROWS and u == n:
            return "ignore", f"{what} with every value different ({u} values): an identifier"
        if n > MIN_ID_ROWS and u > MAX_TEXT_SHARE * n:
            return "ignore", f"{what} with {u} distinct values in {n} rows: an identifier or free text"
        return "categorical", f"{what} with {u} distinct values"
    x = facts.numbers
    if not facts.whole:
        return "continuous", f"numbers with decimals ({u} distinct values{_common(x)})"
    low, high, skew, mean = x.min(), x.max(), skewness(x), x.mean()
    if n > MIN_ID_ROWS and u == n and high - low + 1 < 2 * n:
        return (
            "ignore",
            f"whole numbers, every one different and nearly consecutive ({low:g}..{high:g}): a row number or identifier",
        )
    if u <= MAX_CODES and u <= MAX_CODE_SHARE * n:
        if low == 0 and skew >= FEW_COUNT_SKEW:
            return "count", f"whole numbers from 0 with {u} values, right-skewed (skewness {skew:.1f}): counts"
        return "categorical", f"whole numbers with only {u} distinct values: codes"
    if low >= 0 and skew >= COUNT_SKEW and mean <= MAX_COUNT_MEAN:
        return "count", f"non-negative whole numbers, right-skewed (skewness {skew:.1f}), mean {mean:.3g}: counts"
    if n > MIN_ID_ROWS and u == n:
        return "integer", f"{ALL_DIFFERENT_WHOLE} ({u} values, not consecutive): a quantity"
    return "integer", f"whole numbers with {u} distinct values{_common(x)}: a quantity"


def _common(x: np.ndarray, shown: int = 3) -> str:
    """Return "; 0 in 26% of rows" for the (at most ``shown``) most common values of a numeric
    column that become point masses with ``continuous="auto"``, or ""."""
    values, shares = point_masses(x)
    top = np.argsort(-shares, kind="stable")[:shown]
    parts = [f"{values[i]:g} in {_percent(shares[i])}" for i in top]
    more = len(values) - len(top)
    return f"; {', '.join(parts)}{f' (and {more} more)' if more > 0 else ''} of rows" if parts else ""


def _schema(name: str, series: pd.Series, facts: Facts, kind: str, reason: str) -> ColumnSchema:
    """Return the ``ColumnSchema`` of a column of kind ``kind``."""
    categories = None
    if kind in CATEGORY_KINDS and isinstance(series.dtype, pd.CategoricalDtype):
        # a pandas categorical keeps its own order of categories (those that occur)
        present = set(facts.values.unique())
        categories = [json_scalar(c) for c in series.dtype.categories if c in present]
    elif kind in CATEGORY_KINDS:
        categories = sorted_categories(list(facts.values.unique()))
    low = high = decimals = None
    if facts.nature == "number" and len(facts.numbers):
        low, high = float(facts.numbers.min()), float(facts.numbers.max())
        if kind == "continuous":
            decimals = decimal_places(facts.numbers, single=_single(series)) or None
    return ColumnSchema(
        name=name,
        kind=kind,
        reason=reason,
        dtype=str(series.dtype),
        categories=categories,
        missing=facts.missing,
        minimum=low,
        maximum=high,
        decimals=decimals,
    )


def _percent(share: float) -> str:
    """Return ``share`` as a percentage, with a decimal where whole percents would read 0 or 100."""
    text = f"{share:.0%}"
    return f"{share:.1%}" if text in ("0%", "100%") and 0 < share < 1 else text


def complete_schema(schema: TableSchema, chunks: Iterable[pd.DataFrame], *, sample_rows: int) -> TableSchema:
    """Return ``schema`` (inferred on a sample of ``sample_rows`` rows) completed with what
    the whole table holds, read from ``chunks`` (the table's rows, a part at a time): every
    category of a binary or categorical column (sorted as inference sorts them), the range of
    every number column and the missing cells of every column. Kinds stay as the sample gave
    them; each reason says it came from a sample. Raises ``DataError`` naming the column and the
    fix for a value the kind cannot take: a third value in a binary column, a negative or
    fractional count, text in a column the sample found numeric."""
    modelled = {c.name: c for c in schema.columns if c.kind != "ignore"}
    seen: dict[str, set] = {name: set() for name, c in modelled.items() if c.kind in CATEGORY_KINDS}
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    missing = dict.fromkeys(modelled, 0)
    whole = dict.fromkeys(modelled, True)
    # a continuous column's decimal places so far (None: finer than MAX_DECIMALS, settled)
    places: dict[str, int | None] = {name: 0 for name, c in modelled.items() if c.kind == "continuous"}
    start = 0  # the file row of the chunk's first row, for messages
    for chunk in chunks:
        chunk.attrs["vaekit_file_rows"] = FileRows(range(start, start + len(chunk)))
        start += len(chunk)
        for name, column in modelled.items():
            series = chunk[name]
            if name not in seen and _plain_numbers(series):
                # The common case, kept cheap (a pass over a large table visits every cell):
                # numbers need their range, not the distinct values inference counts.
                absent = is_missing(series)
                numbers = series[~absent].to_numpy(dtype="float64")
                missing[name] += int(absent.sum())
                if not len(numbers):
                    continue
                if not np.isfinite(numbers).all():
                    raise DataError(
                        f"column {name!r} has infinite values (outside the sample of {sample_rows:,} rows the schema "
                        "was inferred on); clean those cells or leave them empty"
                    )
                if np.abs(numbers).max() > FLOAT32_MAX:
                    where = f"{source_name(chunk)}column {name!r}"
                    raise DataError(_huge_message(where, numbers, np.flatnonzero(~absent), chunk))
                low[name] = min(low.get(name, math.inf), float(numbers.min()))
                high[name] = max(high.get(name, -math.inf), float(numbers.max()))
                whole[name] = whole[name] and bool(np.all(numbers == np.round(numbers)))
                if places.get(name) is not None:
                    places[name] = decimal_places(numbers, single=_single(series), at_least=places[name])
                continue
            facts = _facts(series)
            missing[name] += facts.missing
            if facts.values.empty:
                continue
            if facts.nature == "huge":
                where = f"{source_name(chunk)}column {name!r}"
                raise DataError(_huge_message(where, facts.numbers, np.flatnonzero(~is_missing(series)), chunk))
            if name in seen:
                seen[name].update(sorted_categories(list(pd.unique(facts.values))))
            elif facts.nature == "number" and len(facts.numbers):
                low[name] = min(low.get(name, math.inf), float(facts.numbers.min()))
                high[name] = max(high.get(name, -math.inf), float(facts.numbers.max()))
                whole[name] = whole[name] and facts.whole
                if places.get(name) is not None:
                    places[name] = decimal_places(facts.numbers, single=_single(series), at_least=places[name])
            elif facts.nature != "number":
                raise DataError(
                    f"column {name!r} is {column.kind} (inferred from a sample of {sample_rows:,} rows) but holds "
                    f"{facts.nature} values elsewhere; declare its kind (--column-types {name}=categorical) or clean it"
                )
    columns = []
    for column in schema.columns:
        if column.kind == "ignore":
            columns.append(column)
            continue
        name = column.name
        changes: dict[str, Any] = {"missing": missing[name], "reason": f"{column.reason} (from a sample of {sample_rows:,} rows)"}
        if name in seen:
            categories = list(column.categories or [])
            new = sorted_categories([v for v in seen[name] if match_category(v, categories) is None])
            if new and column.kind == "binary":
                raise DataError(
                    f"column {name!r} looked binary in a sample of {sample_rows:,} rows ({', '.join(map(text_form, categories))}) "
                    f"but also holds {', '.join(map(text_form, new[:3]))}; declare it categorical "
                    f"(--column-types {name}=categorical)"
                )
            if new:
                changes["categories"] = sorted_categories(categories + new) if not _kept_order(column) else categories + new
        elif name in low:
            changes["minimum"], changes["maximum"] = low[name], high[name]
            if name in places:
                changes["decimals"] = places[name] or None
            if column.kind == "count" and (low[name] < 0 or not whole[name]):
                raise DataError(
                    f"column {name!r} is a count (inferred from a sample of {sample_rows:,} rows) but holds "
                    f"{'negative' if low[name] < 0 else 'fractional'} values elsewhere; declare it integer or "
                    f"continuous (--column-types {name}=continuous)"
                )
        columns.append(dataclasses.replace(column, **changes))
    return TableSchema(columns)


def _plain_numbers(series: pd.Series) -> bool:
    """True for a column of numbers (not booleans, not pandas categories)."""
    dtype = series.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _kept_order(column: ColumnSchema) -> bool:
    """Whether a column's categories keep the order they came in (a pandas categorical's)."""
    return column.dtype == "category"
