"""``TableCodec``: turns a table's rows into one float32 array ``x`` for a VAE (value slots,
then mask slots) and back, and describes the mixed likelihood's blocks (see the contract of
issue 16 and ``transforms.py``).

Kinds and their slots: categorical -> one-hot (categorical block); binary -> 0/1 (bernoulli);
count -> ``(log1p(n) - shift) / scale`` (negbin); continuous and integer -> by ``continuous``:
"auto" (point masses + standardised, log where it helps: ``numbers.py``), "standard"
(standardised) or "modes" (TVAE's mode-specific normalisation: ``modes.py``). Condition
columns (``condition_on``) take no slots: they are the labels of a conditional model.

Missingness: a column with missing cells in the training rows gets one more value slot, 1
where the cell is missing (a bernoulli block scored in every row, through a mask slot that is
always 1), so the model learns which cells go missing together and with what; ``decode(...,
missing=True)`` puts those cells back as missing. The cells' values stay masked out.

Decoded tables have the schema's columns (ignored ones left out) in its order, and no missing
cells unless asked. Each column comes back in its dtype as read (``ColumnSchema.dtype``): text as text,
integer codes as integers, bools as bools, ``Int64`` as ``Int64`` (now without missing cells),
floats as floats; integer and count columns are rounded. The one exception: a column of whole
numbers that the user declared continuous comes back as float64 (its values are no longer
whole). ``clip=True`` keeps numbers within the schema's observed [minimum, maximum].
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vaekit.data.tables.cells import is_missing, show_cells, source_name
from vaekit.data.tables.conditions import Conditions
from vaekit.data.tables.modes import Modes
from vaekit.data.tables.numbers import Numbers
from vaekit.data.tables.schema import CATEGORY_KINDS, ColumnSchema, TableSchema
from vaekit.data.tables.transforms import Binary, CellError, ColumnTransform, Count, OneHot
from vaekit.data.tables.values import (
    category_codes,
    check_columns,
    column_numbers,
    restore_categories,
    restore_numbers,
)
from vaekit.runtime.errors import DataError

#: how continuous and integer columns are transformed
CONTINUOUS = ("auto", "standard", "modes")
CODEC_FORMAT = "vaekit-table-codec"
CODEC_VERSION = 1


def transform_from_dict(d: Mapping[str, Any]) -> ColumnTransform:
    """Return the column transform ``to_dict`` wrote; raise ``DataError`` when it is bad."""
    try:
        kind = d["type"]
        if kind == OneHot.type:
            return OneHot(d["size"])
        if kind == Binary.type:
            return Binary()
        if kind == Count.type:
            return Count(d["shift"], d["scale"])
        if kind == Numbers.type:
            return Numbers.from_dict(dict(d))
        if kind == Modes.type:
            return Modes.from_dict(dict(d))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"table codec: a column transform is malformed ({exc!r}): {dict(d)!r}") from None
    raise DataError(f"table codec: unknown column transform {d.get('type')!r}")


def _with_gaps(series: pd.Series, gone: np.ndarray) -> pd.Series:
    """Return ``series`` with the rows ``gone`` missing, in a dtype that can hold a gap (a
    whole-number column becomes nullable ``Int64``, a bool column ``boolean``)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("boolean")
    elif pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_extension_array_dtype(series.dtype):
        series = series.astype("Int64")
    return series.mask(pd.Series(gone, index=series.index))


class TableCodec:
    """A fitted codec: build it with ``TableCodec.fit`` or ``TableCodec.from_dict``."""

    def __init__(
        self,
        schema: TableSchema,
        transforms: Mapping[str, ColumnTransform],
        *,
        continuous: str = "auto",
        conditions: Conditions | None = None,
        seed: int = 0,
        missing_columns: Sequence[str] = (),
    ) -> None:
        self._schema = schema
        self._continuous = continuous
        self._seed = int(seed)
        self._conditions = conditions
        condition_on = set(conditions.columns) if conditions else set()
        # (column schema, transform, first value slot, first mask slot among the mask slots)
        self._layout: list[tuple[ColumnSchema, ColumnTransform, int, int]] = []
        slot = mask = 0
        for column in schema.modelled:
            if column.name in condition_on:
                continue
            transform = transforms[column.name]
            self._layout.append((column, transform, slot, mask))
            slot += transform.width
            mask += transform.masks
        if not self._layout:
            raise DataError("the table has no column left to model (all are ignored or conditions); model at least one")
        modelled = {column.name for column, _, _, _ in self._layout}
        self._missing = [name for name in missing_columns if name in modelled]
        self._missing_slot = slot
        slot += len(self._missing)
        mask += 1 if self._missing else 0
        self._value_width = slot
        self._width = slot + mask
        self._blocks = []
        for column, transform, first, first_mask in self._layout:
            for block in transform.blocks():
                out: dict[str, Any] = {"column": column.name, "kind": block["kind"], "slot": first + block["slot"]}
                if "size" in block:
                    out["size"] = block["size"]
                out["mask"] = self._value_width + first_mask + block["mask"]
                out.update({k: v for k, v in block.items() if k in ("shift", "scale")})
                self._blocks.append(out)
        for i, name in enumerate(self._missing):
            self._blocks.append({"column": name, "kind": "bernoulli", "slot": self._missing_slot + i, "mask": self._width - 1})

    # ----- fitting --------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        schema: TableSchema,
        *,
        continuous: str = "auto",
        condition_on: Sequence[str] = (),
        seed: int = 0,
    ) -> TableCodec:
        """Return a codec fitted to the rows ``df`` with the column kinds (and categories) of
        ``schema``.

        ``continuous``: "auto", "standard" or "modes" (see the module's note). ``condition_on``:
        binary/categorical columns that a conditional model takes as labels. ``seed`` seeds
        the mode mixtures. Raises ``DataError`` for columns ``df`` lacks or should not have,
        values outside the schema's categories, a numeric column with no values, and a
        condition column that is not binary/categorical.
        """
        if continuous not in CONTINUOUS:
            raise DataError(f"continuous must be one of {', '.join(CONTINUOUS)}, got {continuous!r}")
        if not isinstance(schema, TableSchema):
            raise DataError(f"schema must be a TableSchema (see infer_schema), got {type(schema).__name__}")
        condition_on = [condition_on] if isinstance(condition_on, str) else list(condition_on)
        cls._check_conditions(schema, condition_on)
        df = check_columns(df, schema)
        if len(df) < 2:
            raise DataError(f"the table has {len(df)} row(s); a model needs at least 2 rows to learn from")
        transforms: dict[str, ColumnTransform] = {}
        for column in schema.modelled:
            if column.name in condition_on:
                continue
            if column.kind == "categorical":
                category_codes(df, column)  # fails early on a value outside the schema
                transforms[column.name] = OneHot(len(column.categories or []))
            elif column.kind == "binary":
                if len(column.categories or []) != 2:
                    raise DataError(f"column {column.name!r} is binary but its schema lists {column.categories!r}")
                category_codes(df, column)
                transforms[column.name] = Binary()
            else:
                values = column_numbers(df, column)
                if np.isnan(values).all():
                    raise DataError(
                        f"column {column.name!r} has no values in the training rows; drop it or leave it out with --ignore {column.name} (ignore=[...] in Python)"
                    )
                if column.kind == "count":
                    transforms[column.name] = Count.fit(values)
                elif continuous == "modes":
                    transforms[column.name] = Modes.fit(values, seed=seed)
                else:
                    transforms[column.name] = Numbers.fit(values, low=column.minimum, method=continuous)
        conditions = None
        if condition_on:
            categories = [schema.column(name).categories or [] for name in condition_on]
            empty = Conditions(condition_on, categories, np.zeros(int(np.prod([len(c) for c in categories]))))
            counts = np.bincount(empty.labels(df), minlength=empty.num)
            conditions = Conditions(condition_on, categories, counts)
        missing = [c.name for c in schema.modelled if c.name not in condition_on and is_missing(df[c.name]).any()]
        codec = cls(
            schema, transforms, continuous=continuous, conditions=conditions, seed=seed, missing_columns=missing
        )
        codec.encode(df)  # every cell the codec will see in training must encode
        return codec

    @staticmethod
    def _check_conditions(schema: TableSchema, condition_on: list[str]) -> None:
        if len(set(condition_on)) != len(condition_on):
            raise DataError(f"condition_on names a column twice: {', '.join(condition_on)}")
        for name in condition_on:
            column = schema.column(name)
            if column.kind not in CATEGORY_KINDS:
                raise DataError(
                    f"cannot condition on column {name!r}: it is {column.kind}; only binary and categorical "
                    "columns can be conditioned on (set its kind to categorical if its values are categories)"
                )

    # ----- what the model needs -------------------------------------------------------------

    @property
    def schema(self) -> TableSchema:
        """The table's schema (every column, ignored ones included)."""
        return self._schema

    @property
    def width(self) -> int:
        """Columns of ``x``: value slots plus mask slots."""
        return self._width

    @property
    def value_width(self) -> int:
        """Value slots of ``x`` (they come first; the mask slots follow)."""
        return self._value_width

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The mixed likelihood's blocks, in slot order (a copy: JSON-able dicts)."""
        return copy.deepcopy(self._blocks)

    @property
    def condition_on(self) -> tuple[str, ...]:
        """The condition columns, in the order of the joint index (empty without)."""
        return tuple(self._conditions.columns) if self._conditions else ()

    @property
    def num_conditions(self) -> int:
        """Number of joint condition values (0 without ``condition_on``)."""
        return self._conditions.num if self._conditions else 0

    @property
    def missing_columns(self) -> list[str]:
        """The columns whose missingness the model learns (those with missing training cells)."""
        return list(self._missing)

    @property
    def continuous(self) -> str:
        """How continuous and integer columns are transformed: "auto", "standard" or "modes"."""
        return self._continuous

    @property
    def columns(self) -> list[str]:
        """The columns ``decode`` returns: the schema's columns that are not ignored, in order."""
        return [c.name for c in self._schema.modelled]

    # ----- rows -> x and back -----------------------------------------------------------------

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """Return the rows of ``df`` as float32 ``[N, width]``: value slots, then mask slots
        (1 = scored, 0 = missing; a missing cell also has 0 in its value slots).

        Raises ``DataError`` naming the column, the cells and the fix for: a column missing or
        not in the schema (ignored columns may be absent), a category never seen in training,
        text in a numeric column, a count that is negative or not whole.
        """
        df = check_columns(df, self._schema)
        with np.errstate(over="ignore"):  # a cell too large for float32 is refused below, by name
            x = self._encode_rows(df)
        if not np.isfinite(x).all():
            self._refuse_overflow(df, x)
        return x

    def _refuse_overflow(self, df: pd.DataFrame, x: np.ndarray) -> None:
        """Raise ``DataError`` naming the first column whose encoded cells overflowed float32."""
        rows, slots = np.nonzero(~np.isfinite(x))
        for column, transform, slot, _ in self._layout:
            hit = (slots >= slot) & (slots < slot + transform.width)
            if hit.any():
                positions = np.unique(rows[hit])
                cells = list(df[column.name].iloc[positions])
                raise DataError(
                    f"{source_name(df)}column {column.name!r} has cells too large to encode (beyond float32's range, "
                    f"about 3.4e38, once scaled by the training data's spread): {show_cells(df, cells, positions)}; "
                    "fix those cells or leave them empty"
                )
        raise DataError("the table's rows encode to values beyond float32's range; check its numbers for huge values")

    def _encode_rows(self, df: pd.DataFrame) -> np.ndarray:
        """Return the checked rows ``df`` encoded as :meth:`encode` describes (cells may overflow)."""
        plain = self._plain_numbers(df)
        # Filled column by column: in column-major order each column is one contiguous write
        # (row-major, every value of a column lands on its own cache line), made row-major once
        # at the end. When nearly every column is a plain number, encoded all at once, the
        # rows are written row-major directly and that copy is saved.
        few_left = len(self._layout) - len(plain) <= 4 and not self._missing
        x = np.zeros((len(df), self._width), dtype=np.float32, order="C" if few_left else "F")
        encoded = self._encode_plain_numbers(df, plain, x)
        for column, transform, slot, mask in self._layout:
            if column.name in encoded:
                continue
            values = self._values(df, column)
            try:
                slots, masks = transform.encode(values)
            except CellError as exc:
                fix = f"; {exc.fix}" if exc.fix else ""
                raise DataError(
                    f"{source_name(df)}column {column.name!r} {exc.message}: "
                    f"{show_cells(df, list(exc.values), exc.positions)}{fix}"
                ) from None
            x[:, slot : slot + transform.width] = slots
            start = self._value_width + mask
            x[:, start : start + transform.masks] = masks
        for i, name in enumerate(self._missing):
            x[:, self._missing_slot + i] = is_missing(df[name])
        if self._missing:
            x[:, self._width - 1] = 1.0
        return np.ascontiguousarray(x)

    def _plain_numbers(self, df: pd.DataFrame) -> list[tuple[ColumnSchema, ColumnTransform, int, int]]:
        """Return the layout entries of the columns of floats in ``df`` whose transform is a
        standardised (possibly logged) number with no point masses: those encoded at once."""
        dtypes = dict(zip(df.columns, df.dtypes, strict=True))
        return [
            (column, transform, slot, mask)
            for column, transform, slot, mask in self._layout
            if type(transform) is Numbers and not len(transform.spikes) and transform.rest is not None
            and column.kind not in CATEGORY_KINDS and isinstance(dtypes.get(column.name), np.dtype)
            and dtypes[column.name].kind == "f"
        ]  # fmt: skip

    def _encode_plain_numbers(
        self, df: pd.DataFrame, plain: list[tuple[ColumnSchema, ColumnTransform, int, int]], x: np.ndarray
    ) -> set[str]:
        """Encode the columns ``plain`` (see :meth:`_plain_numbers`) into ``x`` together, a chunk
        of rows at a time, and return their names; each cell gets the value the column-by-column
        path gives it, bit for bit. Columns whose cells would raise (infinite, or outside the log's domain) are
        left to that path, whose messages name the cells."""
        if len(plain) < 2:
            return set()
        names = [column.name for column, _, _, _ in plain]
        rests = [transform.rest for _, transform, _, _ in plain]
        logged = np.array([r["log"] for r in rests])
        low, offset, mean, std = (np.array([r[key] for r in rests]) for key in ("low", "offset", "mean", "std"))
        slots = [slot + transform.head for _, transform, slot, _ in plain]
        masks = [self._value_width + mask + transform.masks - 1 for _, transform, _, mask in plain]
        # A chunk of rows at a time: the float64 work arrays stay small beside x for a whole table.
        step = max(1, PLAIN_CHUNK_CELLS // len(plain))
        every_column = names == list(df.columns)
        for start in range(0, len(df), step):
            rows = df.iloc[start : start + step]
            values = (rows if every_column else rows[names]).to_numpy(dtype=np.float64, copy=True)
            present = ~np.isnan(values)
            if logged.any():
                shifted = values[:, logged] - low[logged] + offset[logged]
                if (present[:, logged] & (shifted <= 0)).any():
                    return set()
                values[:, logged] = np.log(shifted)
            if np.isinf(values).any():
                return set()
            # In place: the float64 result rounds to float32 once, as the column path's does.
            np.subtract(values, mean, out=values)
            np.divide(values, std, out=values)
            part = x[start : start + step]
            if present.all():
                _put_columns(part, slots, values)
                _put_columns(part, masks, 1.0)
            else:
                values[~present] = 0.0
                _put_columns(part, slots, values)
                _put_columns(part, masks, present)
        return {column.name for column, _, _, _ in plain}

    @staticmethod
    def _values(df: pd.DataFrame, column: ColumnSchema) -> np.ndarray:
        if column.kind in CATEGORY_KINDS:
            return category_codes(df, column)
        return column_numbers(df, column)

    def decode(self, x: Any, *, clip: bool = True, labels: Any = None, missing: bool = False) -> pd.DataFrame:
        """Return rows ``x`` (``[N, width]`` or ``[N, value_width]``: draws or means in x
        format; mask slots are ignored) as a DataFrame of the schema's columns (ignored ones
        left out), in its order and dtypes, with no missing cells; with ``missing``, the cells
        whose missingness slot is 1 (0.5 and above) come back missing.

        Categories come back as their labels (the argmax of one-hot slots, 0/1 by 0.5);
        integer and count columns are rounded; ``clip=True`` keeps numbers within the
        schema's [minimum, maximum]. ``labels`` (int ``[N]`` joint condition indices) fills the
        condition columns; it is required when the codec has ``condition_on``."""
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] not in (self._width, self._value_width):
            raise DataError(
                f"decode needs rows of {self._width} slots (or the {self._value_width} value slots), "
                f"got an array of shape {x.shape}"
            )
        conditions: dict[str, np.ndarray] = {}
        if self._conditions is not None:
            if labels is None:
                raise DataError(
                    f"this codec conditions on {', '.join(self.condition_on)}; pass their joint labels to decode"
                )
            if hasattr(labels, "detach"):
                labels = labels.detach().cpu().numpy()
            labels = np.asarray(labels)
            if labels.shape != (len(x),):
                raise DataError(f"decode got {len(x)} rows but labels of shape {labels.shape}")
            conditions = self._conditions.unravel(labels)
        transforms = {column.name: (transform, slot) for column, transform, slot, _ in self._layout}
        out: dict[str, Any] = {}
        for column in self._schema.modelled:
            if column.name in conditions:
                out[column.name] = restore_categories(conditions[column.name], column)
                continue
            transform, slot = transforms[column.name]
            raw = transform.decode(x[:, slot : slot + transform.width])
            if column.kind in CATEGORY_KINDS:
                out[column.name] = restore_categories(raw, column)
            else:
                out[column.name] = restore_numbers(raw, column, clip=clip)
        if missing:
            for i, name in enumerate(self._missing):
                gone = x[:, self._missing_slot + i] >= 0.5
                if gone.any():
                    out[name] = _with_gaps(out[name], gone)
        return pd.DataFrame(out, columns=self.columns)

    def log_jacobian(self, df: pd.DataFrame) -> np.ndarray:
        """Return float64 ``[N]``: per row, the log |Jacobian| of the slots with respect to the
        cells, in nats; ``log p(x_slots) + log_jacobian`` is the log density of the row in the
        columns' own units (point masses, categories and counts add 0; missing cells add 0).
        With ``continuous="modes"`` the result is a defective density (see ``modes.py``)."""
        total = np.zeros(len(df))
        for values in self.log_jacobian_columns(df).values():
            total += values
        return total

    def log_jacobian_columns(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """Return :meth:`log_jacobian`'s terms by column: float64 ``[N]`` per modelled column
        whose transform has one (numbers; categories and counts have none), nats."""
        df = check_columns(df, self._schema)
        return {
            column.name: transform.log_jacobian(column_numbers(df, column))
            for column, transform, _, _ in self._layout
            if column.kind not in CATEGORY_KINDS and column.kind != "count"
        }

    # ----- conditions -------------------------------------------------------------------------

    def labels(self, df: pd.DataFrame) -> np.ndarray | None:
        """Return each row's joint condition index (int64 ``[N]``), or None without
        ``condition_on``. Raises ``DataError`` for a missing cell in a condition column (drop
        those rows or do not condition on it) or a value never seen."""
        if self._conditions is None:
            return None
        return self._conditions.labels(check_columns(df, self._schema))

    def condition_index(self, where: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(indices, weights)``: the joint condition indices (int64) compatible with
        ``where`` (``{column: value}``, partial or full; values may be text such as "Gentoo",
        "1", "True") and their shares of the training rows among them (float64, sum 1), for
        drawing the condition columns ``where`` leaves open. Raises ``DataError`` for a
        column not conditioned on, a value never seen, or a combination no training row had."""
        if self._conditions is None:
            raise DataError("the model has no condition columns; train it with --condition-on COLUMN")
        return self._conditions.index(where)

    # ----- saving -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the codec as a JSON-able dict; ``TableCodec.from_dict`` rebuilds it exactly."""
        return {
            "format": CODEC_FORMAT,
            "version": CODEC_VERSION,
            "continuous": self._continuous,
            "seed": self._seed,
            "schema": self._schema.to_dict(),
            "condition_on": list(self.condition_on),
            "condition_counts": None if self._conditions is None else self._conditions.to_dict()["counts"],
            "columns": [{"name": c.name, "transform": t.to_dict()} for c, t, _, _ in self._layout],
            "missing_columns": list(self._missing),
            "width": self._width,
            "value_width": self._value_width,
            "blocks": self.blocks,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableCodec:
        """Return the codec ``to_dict`` wrote; raise ``DataError`` when ``d`` is not one."""
        if not isinstance(d, Mapping) or d.get("format") != CODEC_FORMAT:
            raise DataError("not a table codec (a dict written by TableCodec.to_dict)")
        version = d.get("version")
        if not isinstance(version, int) or version > CODEC_VERSION:
            raise DataError(f"table codec version {version!r} was written by a newer vaekit; upgrade vaekit")
        if d.get("continuous") not in CONTINUOUS:
            raise DataError(
                f"table codec: continuous must be one of {', '.join(CONTINUOUS)}, got {d.get('continuous')!r}"
            )
        try:
            schema = TableSchema.from_dict(d["schema"])
            transforms = {c["name"]: transform_from_dict(c["transform"]) for c in d["columns"]}
            condition_on = list(d.get("condition_on") or [])
            conditions = None
            if condition_on:
                categories = [schema.column(name).categories or [] for name in condition_on]
                conditions = Conditions(condition_on, categories, d["condition_counts"])
            codec = cls(
                schema,
                transforms,
                continuous=d["continuous"],
                conditions=conditions,
                seed=d.get("seed", 0),
                missing_columns=d.get("missing_columns") or (),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"table codec: malformed ({exc!r})") from None
        if "blocks" in d and (d["blocks"] != codec.blocks or d.get("width") != codec.width):
            raise DataError("table codec: its blocks do not match its columns; the file is corrupted")
        return codec


#: cells of the plain number columns encoded at a time (bounds the float64 work arrays)
PLAIN_CHUNK_CELLS = 1 << 20


def _put_columns(x: np.ndarray, columns: list[int], values: np.ndarray | float) -> None:
    """Write ``values`` ``[N, len(columns)]`` (or one value) into the columns ``columns`` of ``x``: as one
    slice when the columns follow each other (a fancy-indexed write is several times slower)."""
    first = columns[0]
    if columns == list(range(first, first + len(columns))):
        x[:, first : first + len(columns)] = values
    else:
        x[:, columns] = values
