"""The schema of a table: each column's kind (how it is modelled), the reason for that kind,
its dtype as read, its categories or range, and its number of missing cells. JSON-able."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaekit.data.tables.cells import json_scalar
from vaekit.runtime.errors import DataError
from vaekit.runtime.names import did_you_mean

#: column kinds: how a column is modelled (see docs and the contract of issue 16)
KINDS = ("continuous", "integer", "count", "binary", "categorical", "ignore")
#: kinds whose values are categories (one-hot / 0-1); the only ones a model can condition on
CATEGORY_KINDS = ("binary", "categorical")
#: kinds whose values are numbers with a range (``minimum`` .. ``maximum``)
NUMBER_KINDS = ("continuous", "integer", "count")
#: the most decimal places a continuous column is kept to; values finer than this are not rounded
MAX_DECIMALS = 10
SCHEMA_FORMAT = "vaekit-table-schema"
SCHEMA_VERSION = 1


@dataclass
class ColumnSchema:
    """One column: ``name``; ``kind`` (one of ``KINDS``); ``reason`` (why that kind, in words);
    ``dtype`` (the pandas dtype name as read, e.g. "float64", "Int64", "str", "bool");
    ``categories`` (the sorted distinct values of a binary/categorical column, as JSON scalars;
    None for other kinds); ``missing`` (number of missing cells); ``minimum`` / ``maximum``
    (the observed range of a numeric column, in the column's units; None for text/bool);
    ``decimals`` (the fewest decimal places, 1..``MAX_DECIMALS``, that hold every value of a
    continuous column, which decoded values are rounded to; None for other kinds, for whole
    numbers declared continuous and for values finer than that)."""

    name: str
    kind: str
    reason: str
    dtype: str
    categories: list[Any] | None = None
    missing: int = 0
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return this column as a JSON-able dict (the dataclass fields)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "reason": self.reason,
            "dtype": self.dtype,
            "categories": None if self.categories is None else [json_scalar(c) for c in self.categories],
            "missing": int(self.missing),
            "minimum": None if self.minimum is None else float(self.minimum),
            "maximum": None if self.maximum is None else float(self.maximum),
            "decimals": self.decimals,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSchema:
        """Return the column ``to_dict`` wrote; raise ``DataError`` naming what is malformed."""
        if not isinstance(d, Mapping):
            raise DataError(f"table schema: a column must be a dict, got {d!r}")
        name = d.get("name")
        where = f"table schema: column {name!r}"
        if not isinstance(name, str) or not name:
            raise DataError(f"table schema: a column has no name: {dict(d)!r}")
        if d.get("kind") not in KINDS:
            raise DataError(f"{where} has kind {d.get('kind')!r}; kinds are: {', '.join(KINDS)}")
        for key in ("reason", "dtype"):
            if not isinstance(d.get(key), str):
                raise DataError(f"{where}: {key} must be text, got {d.get(key)!r}")
        categories = d.get("categories")
        if categories is not None and not isinstance(categories, list):
            raise DataError(f"{where}: categories must be a list or null, got {categories!r}")
        if d["kind"] in CATEGORY_KINDS and not categories:
            raise DataError(f"{where} is {d['kind']} but lists no categories")
        if d["kind"] == "binary" and len(categories) != 2:
            raise DataError(f"{where} is binary but lists {len(categories)} categories; binary needs exactly 2")
        bounds = [d.get("minimum"), d.get("maximum")]
        for bound in bounds:
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound)
            ):
                raise DataError(f"{where}: minimum and maximum must be finite numbers or null, got {bound!r}")
        missing = d.get("missing", 0)
        if isinstance(missing, bool) or not isinstance(missing, int) or missing < 0:
            raise DataError(f"{where}: missing must be a count of cells, got {missing!r}")
        decimals = d.get("decimals")  # absent in schemas written before it was kept: not rounded
        if decimals is not None and (
            isinstance(decimals, bool) or not isinstance(decimals, int) or not 1 <= decimals <= MAX_DECIMALS
        ):
            raise DataError(f"{where}: decimals must be a whole number from 1 to {MAX_DECIMALS} or null, got {decimals!r}")
        if decimals is not None and d["kind"] != "continuous":
            raise DataError(f"{where} is {d['kind']}: only a continuous column has decimals (set it to null)")
        return cls(
            name=name,
            kind=d["kind"],
            reason=d["reason"],
            dtype=d["dtype"],
            categories=None if categories is None else [json_scalar(c) for c in categories],
            missing=missing,
            minimum=None if bounds[0] is None else float(bounds[0]),
            maximum=None if bounds[1] is None else float(bounds[1]),
            decimals=decimals,
        )


@dataclass
class TableSchema:
    """The columns of a table, in order (ignored columns included, with kind "ignore")."""

    columns: list[ColumnSchema] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Every column's name, in table order."""
        return [c.name for c in self.columns]

    @property
    def kinds(self) -> dict[str, str]:
        """``{name: kind}`` for every column, in table order."""
        return {c.name: c.kind for c in self.columns}

    @property
    def modelled(self) -> list[ColumnSchema]:
        """The columns that are not ignored, in table order."""
        return [c for c in self.columns if c.kind != "ignore"]

    def column(self, name: str) -> ColumnSchema:
        """Return the column ``name``; raise ``DataError`` listing the columns if there is none."""
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(
            f"the table has no column {name!r}{did_you_mean(name, self.names)}; its columns are: {', '.join(self.names)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the schema as a JSON-able dict: ``{"format", "version", "columns": [...]}``."""
        return {
            "format": SCHEMA_FORMAT,
            "version": SCHEMA_VERSION,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableSchema:
        """Return the schema ``to_dict`` wrote; raise ``DataError`` when it is malformed."""
        if not isinstance(d, Mapping) or not isinstance(d.get("columns"), list):
            raise DataError("table schema: expected a dict with a list of columns")
        version = d.get("version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise DataError(
                f"table schema version {d.get('version')} was written by a newer vaekit; upgrade vaekit to read it"
            )
        columns = [ColumnSchema.from_dict(c) for c in d["columns"]]
        names = [c.name for c in columns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise DataError(f"table schema: column {twice[0]!r} appears twice")
        if not columns:
            raise DataError("table schema: no columns")
        return cls(columns)


def read_schema_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return ``{column: kind}`` from a JSON or YAML file.

    The file holds either ``{"column": "kind", ...}``, or ``{"columns": {"column": "kind"}}``,
    or a saved schema (``TableSchema.to_dict()``, e.g. a run folder's, edited by hand). Raises
    ``DataError`` naming the file (and column) when it cannot be read or a kind is unknown.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such schema file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the schema file ({exc})") from None
    data = _parse(path, text)
    if isinstance(data, Mapping) and "columns" in data:
        data = data["columns"]
    if isinstance(data, list) and all(isinstance(c, Mapping) and "name" in c and "kind" in c for c in data):
        data = {c["name"]: c["kind"] for c in data}
    if not isinstance(data, Mapping) or not data:
        raise DataError(f'{path}: a schema file maps column names to kinds, e.g. {{"plan": "categorical"}}')
    kinds: dict[str, str] = {}
    for name, kind in data.items():
        if not isinstance(kind, str) or kind not in KINDS:
            raise DataError(f"{path}: column {name!r} has kind {kind!r}; kinds are: {', '.join(KINDS)}")
        kinds[str(name)] = kind
    return kinds


def _parse(path: Path, text: str) -> Any:
    """Return the JSON (``.json``) or YAML (anything else) document ``text``."""
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML or JSON ({exc})") from None
