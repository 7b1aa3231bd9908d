"""A table's schema in words, for ``vaekit info``."""

from __future__ import annotations

from vaekit.data.tables.cells import known_values
from vaekit.data.tables.schema import CATEGORY_KINDS, TableSchema


def table_summary(schema: TableSchema) -> str:
    """Return the schema as text: per column a line "name  kind  reason" and an indented
    line with its categories or range (in the column's units) and its missing cells."""
    width = max(len(c.name) for c in schema.columns) if schema.columns else 0
    kinds = [c.kind for c in schema.columns]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    lines = [f"{len(schema.columns)} columns: {counts}"]
    for c in schema.columns:
        lines.append(f"  {c.name:<{width}}  {c.kind:<11}  {c.reason}")
        if c.kind in CATEGORY_KINDS and c.categories is not None:
            detail = f"{len(c.categories)} values: {known_values(c.categories, limit=8)}"
        elif c.minimum is not None and c.maximum is not None:
            detail = f"range {c.minimum:g} .. {c.maximum:g}"
            if c.decimals is not None:
                detail += f", {c.decimals} decimal place{'s' if c.decimals > 1 else ''}"
        else:
            detail = ""
        parts = [p for p in (detail, f"{c.missing} missing" if c.missing else "", f"dtype {c.dtype}") if p]
        lines.append(f"  {'':<{width}}  {'; '.join(parts)}")
    return "\n".join(lines)
