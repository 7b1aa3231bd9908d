"""The transform of a continuous or integer column (``continuous="auto"`` or ``"standard"``).

``"standard"``: the slot holds the standardised value, scored by a gaussian block.

``"auto"``: each value holding at least ``POINT_MASS_SHARE`` of the observed cells (and at
least ``MIN_POINT_MASS_ROWS`` of them; the zeros
of a dollar amount, the 0 and 1 of a flag with a few fractions) becomes a point mass: one point
mass is a bernoulli block ("is the value the point mass"), several are a categorical block over
the point masses and "elsewhere". The other values (the rest) are scored by a gaussian block
whose mask is "observed and not at a point mass". The rest is standardised, after
``log(x - low + offset)`` when the column is non-negative and the rest is right-skewed (skewness
above ``LOG_SKEW``) and the log makes it less skewed; ``low`` is the column's observed minimum
and ``offset`` (> 0) the one of a grid that leaves the least skewness.

The density this gives a column in its own units is a mixture: point masses (counting
measure) plus a density of the rest (Lebesgue); ``log_jacobian`` is that of the rest's
change of variables, ``-log(std) - log(x - low + offset)`` with the log, ``-log(std)``
without, and 0 at a point mass or a missing cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.data.tables.transforms import CellError, ColumnTransform

#: a value holding at least this share of a column's observed cells becomes a point mass ...
POINT_MASS_SHARE = 0.05
#: ... and at least this many cells (in a small table a few repeats are chance, not a spike)
MIN_POINT_MASS_ROWS = 10
#: the rest of a non-negative column is log-transformed from this skewness up
LOG_SKEW = 1.0
#: offsets tried for the log, as fractions of the rest's spread above the column minimum
OFFSET_GRID = 10.0 ** np.linspace(-6.0, 0.0, 25)
#: exponents are capped here on decode, so a wild slot value gives a huge number, not inf
MAX_EXPONENT = 700.0


def point_masses(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, shares)`` of the values of ``x`` (observed, float64) that become point
    masses, in increasing order of value."""
    distinct, counts = np.unique(x, return_counts=True)
    spike = (counts >= POINT_MASS_SHARE * len(x)) & (counts >= MIN_POINT_MASS_ROWS)
    return distinct[spike], counts[spike] / len(x)


def skewness(x: np.ndarray) -> float:
    """Return the sample skewness of ``x`` (0 for a constant)."""
    sd = x.std()
    return 0.0 if sd == 0 else float(np.mean(((x - x.mean()) / sd) ** 3))


class Numbers(ColumnTransform):
    """Point masses ``spikes`` (sorted values) plus a gaussian ``rest`` (None when every value is
    a point mass): ``{"log": bool, "low": float, "offset": float, "mean": float, "std": float}``."""

    type = "numbers"

    def __init__(self, spikes: list[float], rest: dict[str, Any] | None) -> None:
        self.spikes = np.asarray(sorted(float(v) for v in spikes), dtype=np.float64)
        self.rest = (
            None
            if rest is None
            else {
                "log": bool(rest["log"]),
                "low": float(rest["low"]),
                "offset": float(rest["offset"]),
                "mean": float(rest["mean"]),
                "std": float(rest["std"]),
            }
        )
        if self.rest is None and not len(self.spikes):
            raise ValueError("a numbers transform needs point masses or a rest")
        k, has_rest = len(self.spikes), self.rest is not None
        # one point mass: one bernoulli slot; several: a one-hot over them (and "elsewhere")
        self.head = 0 if k == 0 else 1 if k == 1 else k + has_rest
        self.width = self.head + has_rest
        self.masks = (k > 0) + has_rest

    @classmethod
    def fit(cls, values: np.ndarray, *, low: float | None = None, method: str = "auto") -> Numbers:
        """Return the transform fitted to the observed ``values`` (float64, NaN = missing).

        ``low`` is the column's minimum over the whole table (the schema's), used as the log's
        origin so that every row of the table lies in the log's domain; ``method`` is "auto"
        (point masses and log where they help) or "standard" (standardise only)."""
        observed = values[~np.isnan(values)]
        low = float(observed.min()) if low is None else min(float(low), float(observed.min()))
        spikes: list[float] = []
        rest = observed
        if method == "auto":
            spikes = [float(v) for v in point_masses(observed)[0]]
            rest = observed[~np.isin(observed, spikes)]
            if rest.size and np.unique(rest).size == 1:
                # A rest of one value would be a gaussian of zero width: make it a point mass too.
                spikes.append(float(rest[0]))
                rest = rest[:0]
        if not rest.size:
            return cls(spikes, None)
        use_log, offset = False, 0.0
        raw_skew = skewness(rest)
        if method == "auto" and low >= 0 and raw_skew > LOG_SKEW:
            above = rest - low
            spread = float(above.max()) or 1.0
            skews = [abs(skewness(np.log(above + c * spread))) for c in OFFSET_GRID]
            best = int(np.argmin(skews))
            if skews[best] < raw_skew:
                use_log, offset = True, float(OFFSET_GRID[best] * spread)
        shaped = np.log(rest - low + offset) if use_log else rest
        std = float(shaped.std())
        return cls(
            spikes,
            {
                "log": use_log,
                "low": low,
                "offset": offset,
                "mean": float(shaped.mean()),
                "std": std if std > 0 else 1.0,
            },
        )

    def blocks(self) -> list[dict[str, Any]]:
        k = len(self.spikes)
        found: list[dict[str, Any]] = []
        if k == 1:
            found.append({"kind": "bernoulli", "slot": 0, "mask": 0})
        elif k > 1:
            found.append({"kind": "categorical", "slot": 0, "size": self.head, "mask": 0})
        if self.rest is not None:
            found.append({"kind": "gaussian", "slot": self.head, "mask": self.masks - 1})
        return found

    def _spike_index(self, values: np.ndarray) -> np.ndarray:
        """Return each value's point mass index, -1 for none (or missing)."""
        if not len(self.spikes):
            return np.full(len(values), -1, dtype=np.int64)
        where = np.clip(np.searchsorted(self.spikes, values), 0, len(self.spikes) - 1)
        return np.where(self.spikes[where] == values, where, -1).astype(np.int64)

    def _shape(self, x: np.ndarray) -> np.ndarray:
        """Return the rest's values in slot units (the transform, then standardisation)."""
        r = self.rest
        t = np.log(x - r["low"] + r["offset"]) if r["log"] else x
        return (t - r["mean"]) / r["std"]

    def _only_spikes_fix(self) -> str:
        """Return what to do about a value other than the point masses of a column modelled as
        point masses alone (no rest): why it was, and how to model it as continuous numbers."""
        held = ", ".join(f"{v:g}" for v in self.spikes)
        return (
            f"its training rows held only {held}, so the run models it as those values alone (point masses, "
            "--continuous auto) and gives any other value probability 0: to model it as continuous numbers, "
            "train a new run with --continuous standard (continuous='standard' in Python; it standardises "
            "every number column, without point masses)"
        )

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = ~np.isnan(values)
        spike = self._spike_index(values)
        elsewhere = present & (spike < 0)
        slots = np.zeros((len(values), self.width))
        masks = np.zeros((len(values), self.masks))
        k = len(self.spikes)
        if k:
            masks[:, 0] = present
            if k == 1:
                slots[:, 0] = spike == 0
            else:
                at = np.flatnonzero(spike >= 0)
                slots[at, spike[at]] = 1.0
                if self.rest is not None:
                    slots[elsewhere, k] = 1.0
        if self.rest is None:
            if elsewhere.any():
                bad = np.flatnonzero(elsewhere)
                raise CellError("has values the training rows never had", bad, values[bad].tolist(), self._only_spikes_fix())
            return slots, masks
        r = self.rest
        if r["log"]:
            outside = elsewhere & (values - r["low"] + r["offset"] <= 0)
            if outside.any():
                bad = np.flatnonzero(outside)
                raise CellError(
                    f"has values below {r['low'] - r['offset']:g}, outside what its log transform (fitted on "
                    f"values from {r['low']:g}) can encode; clean them, or train with --continuous standard "
                    "(continuous='standard' in Python)",
                    bad,
                    values[bad].tolist(),
                )
        slots[elsewhere, self.head] = self._shape(values[elsewhere])
        masks[:, -1] = elsewhere
        return slots, masks

    def decode(self, slots: np.ndarray) -> np.ndarray:
        n, k = len(slots), len(self.spikes)
        out = np.empty(n)
        if self.rest is not None:
            r = self.rest
            t = slots[:, self.head] * r["std"] + r["mean"]
            out[:] = np.exp(np.minimum(t, MAX_EXPONENT)) - r["offset"] + r["low"] if r["log"] else t
        if k == 1:
            at = slots[:, 0] >= 0.5 if self.rest is not None else np.ones(n, dtype=bool)
            out[at] = self.spikes[0]
        elif k > 1:
            choice = np.argmax(slots[:, : self.head], axis=1)
            at = choice < k
            out[at] = self.spikes[choice[at]]
        return out

    def log_jacobian(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(values))
        if self.rest is None:
            return out
        r = self.rest
        elsewhere = ~np.isnan(values) & (self._spike_index(values) < 0)
        out[elsewhere] = -np.log(r["std"])
        if r["log"]:
            out[elsewhere] -= np.log(values[elsewhere] - r["low"] + r["offset"])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "spikes": [float(v) for v in self.spikes], "rest": self.rest}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Numbers:
        """Return the transform ``to_dict`` wrote."""
        return cls(list(d["spikes"]), d["rest"])
