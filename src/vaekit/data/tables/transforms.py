"""Per-column transforms of a table codec: how one column's cells become value slots and mask
slots of ``x``, which likelihood blocks score them, and the way back.

Every transform works on NumPy arrays that the codec prepares: category codes (int64, -1 where
missing) for ``OneHot`` and ``Binary``, numbers (float64, NaN where missing) for the others.
Block dicts here have slots and masks relative to the column (``slot`` from 0, ``mask`` the
index of the column's mask slot); the codec shifts them to their place in ``x``. Numbers
(continuous and integer columns) live in ``numbers.py`` and ``modes.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class CellError(Exception):
    """Cells a transform cannot encode: ``message`` (what is wrong, without the column's name),
    their row ``positions`` and ``values`` (plain Python values, as messages show them), and
    the ``fix`` (said after the cells, "" when the message holds it); the codec turns it into a
    ``DataError``."""

    def __init__(self, message: str, positions: np.ndarray, values: Any, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.positions = positions
        self.values = values
        self.fix = fix


class ColumnTransform:
    """One column's transform: ``width`` value slots and ``masks`` mask slots."""

    type: ClassVar[str]
    width: int
    masks: int

    def blocks(self) -> list[dict[str, Any]]:
        """Return this column's likelihood blocks, with column-relative ``slot`` and ``mask``."""
        raise NotImplementedError

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(slots [N, width], masks [N, masks])``, float64; missing cells get zeros."""
        raise NotImplementedError

    def decode(self, slots: np.ndarray) -> np.ndarray:
        """Return the column's values from its value slots: int64 codes or float64 numbers."""
        raise NotImplementedError

    def log_jacobian(self, values: np.ndarray) -> np.ndarray:
        """Return, per row, log |d slots / d value| of the scored gaussian slots (0 where none):
        what turns a density of the slots into one of the column in its own units."""
        return np.zeros(len(values))

    def to_dict(self) -> dict[str, Any]:
        """Return the transform's parameters as a JSON-able dict with its ``type``."""
        raise NotImplementedError


class OneHot(ColumnTransform):
    """A categorical column: a one-hot over its ``size`` categories, scored by a categorical."""

    type = "onehot"

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.width = self.size
        self.masks = 1

    def blocks(self) -> list[dict[str, Any]]:
        return [{"kind": "categorical", "slot": 0, "size": self.size, "mask": 0}]

    def encode(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = codes >= 0
        slots = np.zeros((len(codes), self.size))
        slots[np.flatnonzero(present), codes[present]] = 1.0
        return slots, present[:, None].astype(np.float64)

    def decode(self, slots: np.ndarray) -> np.ndarray:
        # Draws are one-hot; means are probabilities, whose argmax is the most likely category.
        return np.argmax(slots, axis=1).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "size": self.size}


class Binary(ColumnTransform):
    """A binary column: 0 for its first category, 1 for its second, scored by a Bernoulli."""

    type = "binary"
    width = 1
    masks = 1

    def blocks(self) -> list[dict[str, Any]]:
        return [{"kind": "bernoulli", "slot": 0, "mask": 0}]

    def encode(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = codes >= 0
        return np.where(present, codes, 0).astype(np.float64)[:, None], present[:, None].astype(np.float64)

    def decode(self, slots: np.ndarray) -> np.ndarray:
        return (slots[:, 0] >= 0.5).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


class Count(ColumnTransform):
    """A count column n >= 0: the slot holds ``(log1p(n) - shift) / scale`` (a tame number for
    the encoder); a negative binomial block scores n itself, so no Jacobian is added."""

    type = "count"
    width = 1
    masks = 1

    def __init__(self, shift: float, scale: float) -> None:
        self.shift = float(shift)
        self.scale = float(scale)

    @classmethod
    def fit(cls, values: np.ndarray) -> Count:
        """Return the transform whose slot is log1p(n) standardised over the observed ``values``."""
        logs = np.log1p(values[~np.isnan(values)])
        scale = float(logs.std())
        # A constant count still needs a positive scale (the likelihood divides by it).
        return cls(float(logs.mean()), scale if scale > 0 else 1.0)

    def blocks(self) -> list[dict[str, Any]]:
        return [{"kind": "negbin", "slot": 0, "mask": 0, "shift": self.shift, "scale": self.scale}]

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = ~np.isnan(values)
        bad = np.flatnonzero(present & ((values < 0) | (values != np.round(values))))
        if len(bad):
            raise CellError("is a count but has values that are not whole numbers >= 0", bad, values[bad].tolist())
        slots = np.where(present, (np.log1p(np.where(present, values, 0.0)) - self.shift) / self.scale, 0.0)
        return slots[:, None], present[:, None].astype(np.float64)

    def decode(self, slots: np.ndarray) -> np.ndarray:
        # The exponent is capped so that a wild slot value gives a huge count, not an overflow.
        logs = np.minimum(slots[:, 0] * self.scale + self.shift, 700.0)
        return np.maximum(np.round(np.expm1(logs)), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "shift": self.shift, "scale": self.scale}
