"""Mode-specific normalisation of a continuous or integer column (``continuous="modes"``), as
TVAE/CTGAN do: a Bayesian Gaussian mixture (scikit-learn's ``BayesianGaussianMixture``, at most
``MAX_MODES`` modes; modes of weight below ``WEIGHT_THRESHOLD`` dropped unless they are the most
likely mode of some observed value) is fitted to the column; a value x is encoded as its most likely mode k (a one-hot, scored by a categorical
block) and its place within that mode, ``(x - mean_k) / std_k`` (scored by a gaussian block).

The likelihood's log_prob is then a density of the pair (mode, within-mode value). Adding
``log_jacobian`` = ``-log std_k`` gives a density of x, but a *defective* (sub-normalised) one:
every x is mapped to one mode only, so the mass the model puts on (other mode, same x) is
lost. It is a lower bound on the density of x, not a normalised one; compare likelihoods across
codecs only with ``continuous="auto"`` or ``"standard"``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vaekit.data.tables.transforms import ColumnTransform

#: at most this many modes per column (TVAE's ``max_clusters``)
MAX_MODES = 10
#: modes whose mixture weight is below this are dropped (TVAE's ``weight_threshold``)
WEIGHT_THRESHOLD = 0.005
#: the mixture is fitted on at most this many observed values (a seeded random subset), which
#: keeps fitting a wide table to seconds; the modes of a column are well determined by far fewer
MAX_FIT_ROWS = 5_000


class Modes(ColumnTransform):
    """Modes ``means``, ``stds`` and ``weights`` (sum 1) of one column."""

    type = "modes"

    def __init__(self, means: list[float], stds: list[float], weights: list[float]) -> None:
        self.means = np.asarray(means, dtype=np.float64)
        self.stds = np.asarray(stds, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        if not (len(self.means) == len(self.stds) == len(self.weights) >= 1) or not (self.stds > 0).all():
            raise ValueError("modes need as many means, positive stds and weights, at least one of each")
        self.size = len(self.means)
        self.width = self.size + 1
        self.masks = 1

    @classmethod
    def fit(cls, values: np.ndarray, *, seed: int = 0) -> Modes:
        """Return the modes of the observed ``values`` (float64, NaN = missing), seeded."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        observed = values[~np.isnan(values)]
        rng = np.random.default_rng(seed)
        if len(observed) > MAX_FIT_ROWS:
            observed = rng.choice(observed, MAX_FIT_ROWS, replace=False)
        distinct = np.unique(observed).size
        scale = float(observed.std()) or 1.0
        if distinct < 2:
            return cls([float(observed[0])], [scale], [1.0])
        mixture = BayesianGaussianMixture(
            n_components=min(MAX_MODES, distinct),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001,  # TVAE's: favours few modes
            n_init=1,
            max_iter=100,
            random_state=seed,
        )
        # Standardised for the fit so that the mixture's priors and tolerance mean the same on
        # every column's scale; the modes are mapped back to the column's units.
        centre = float(observed.mean())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(((observed - centre) / scale).reshape(-1, 1))
        weights = mixture.weights_
        means = mixture.means_[:, 0] * scale + centre
        stds = np.sqrt(mixture.covariances_.reshape(-1)) * scale
        live = weights > 0
        every = cls(means[live].tolist(), stds[live].tolist(), weights[live].tolist())
        # A light mode is kept when it is some value's most likely mode: without it that value
        # would be encoded in a far narrow mode, dozens or thousands of stds out (TVAE clips such
        # values to 4 stds, losing them). Keeping every owner leaves each value's mode unchanged.
        owners = np.zeros(every.size, dtype=bool)
        owners[every.assign(values[~np.isnan(values)])] = True
        keep = owners | (every.weights > WEIGHT_THRESHOLD)
        order = np.argsort(every.means[keep])
        kept = every.weights[keep][order]
        return cls(every.means[keep][order].tolist(), every.stds[keep][order].tolist(), (kept / kept.sum()).tolist())

    def assign(self, x: np.ndarray) -> np.ndarray:
        """Return each value's most likely mode (int64), from the weights and the normal densities."""
        z = (x[:, None] - self.means[None, :]) / self.stds[None, :]
        score = np.log(self.weights)[None, :] - np.log(self.stds)[None, :] - 0.5 * z**2
        return np.argmax(score, axis=1).astype(np.int64)

    def blocks(self) -> list[dict[str, Any]]:
        return [
            {"kind": "categorical", "slot": 0, "size": self.size, "mask": 0},
            {"kind": "gaussian", "slot": self.size, "mask": 0},
        ]

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = ~np.isnan(values)
        rows = np.flatnonzero(present)
        mode = self.assign(values[rows])
        slots = np.zeros((len(values), self.width))
        slots[rows, mode] = 1.0
        slots[rows, self.size] = (values[rows] - self.means[mode]) / self.stds[mode]
        return slots, present[:, None].astype(np.float64)

    def decode(self, slots: np.ndarray) -> np.ndarray:
        mode = np.argmax(slots[:, : self.size], axis=1)
        return self.means[mode] + self.stds[mode] * slots[:, self.size]

    def log_jacobian(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(values))
        rows = np.flatnonzero(~np.isnan(values))
        out[rows] = -np.log(self.stds[self.assign(values[rows])])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "means": [float(v) for v in self.means],
            "stds": [float(v) for v in self.stds],
            "weights": [float(v) for v in self.weights],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Modes:
        """Return the transform ``to_dict`` wrote."""
        return cls(list(d["means"]), list(d["stds"]), list(d["weights"]))
