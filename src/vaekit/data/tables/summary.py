"""A table's schema in words, for ``vaekit info``."""

from __future__ import annotations

from vaekit.data.tables.cells import known_values
from vaekit.data.tables.schema import CATEGORY_KINDS, ColumnSchema, TableSchema


def table_summary(schema: TableSchema) -> str:
    """Return the schema as text: per column a line "name  kind  reason" and an indented
    line with its categories or range (in the column's units) and its missing cells."""
    width = max(len(c.name) for c in schema.columns) if schema.columns else 0
    kinds = [c.kind for c in schema.columns]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    lines = [f"{_counted(len(schema.columns), 'column')}: {counts}"]
    for c in schema.columns:
        lines.append(f"  {c.name:<{width}}  {c.kind:<11}  {c.reason}")
        parts = [p for p in (_detail(c), f"{c.missing} missing" if c.missing else "", f"dtype {c.dtype}") if p]
        lines.append(f"  {'':<{width}}  {'; '.join(parts)}")
    return "\n".join(lines)


def _detail(column: ColumnSchema) -> str:
    """Return a column's categories (``3 values: a, b, c``) or range (``range 1.25 .. 27123.64,
    2 decimal places``), or an empty string when the schema records neither."""
    if column.kind in CATEGORY_KINDS and column.categories is not None:
        return f"{_counted(len(column.categories), 'value')}: {known_values(column.categories, limit=8)}"
    if column.minimum is None or column.maximum is None:
        return ""
    low, high = (_number(v, column.decimals) for v in (column.minimum, column.maximum))
    detail = f"range {low} .. {high}"
    if column.decimals is not None:
        detail += f", {_counted(column.decimals, 'decimal place')}"
    return detail


def _number(value: float, decimals: int | None) -> str:
    """Return ``value`` as the column holds it: with its ``decimals`` places, whole numbers in
    full, others as the shortest text that reads back as the same float."""
    # Not ``:g``: its 6 significant digits cut 27123.64 to 27123.6 and 1234567 to 1.23457e+06.
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _counted(n: int, noun: str) -> str:
    """Return ``n`` and ``noun``, plural unless ``n`` is 1: ``1 value``, ``3 values``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
