"""What scoring reads and gives: chunks of examples as the model sees them, their source, and the scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vaekit.runtime.errors import ConfigError

#: examples read, converted and scored at a time
CHUNK_ROWS = 10_000
#: the writable score files
SCORE_SUFFIXES = (".csv", ".tsv", ".parquet", ".npy")
#: examples named, with why, in a message about examples that scored inf
INFINITE_SHOWN = 5


@dataclass
class ScoreChunk:
    """One chunk of examples as the model sees them, with what the output needs of them.

    ``ids`` name the rows (their position in the data, or an id column's values); for tables,
    ``offset`` ``[n]`` is the change of variables (nats) that turns the model's scores into
    scores in the columns' own units; ``labels`` are anomaly labels read from a column of the
    data."""

    x: torch.Tensor
    y: torch.Tensor | None
    ids: np.ndarray
    offset: np.ndarray | None = None
    #: a table's cells holding a category never seen in training, ``[n, C]`` bool over the
    #: modelled columns: the model gives them probability 0, so their rows score +inf
    unseen: np.ndarray | None = None
    labels: np.ndarray | None = None
    #: the unseen categories of the first rows that hold one (at most ``INFINITE_SHOWN``): the
    #: row's position in the chunk -> "species 'Emperor'"
    unseen_cells: dict[int, str] = field(default_factory=dict)


@dataclass
class ScoreSource:
    """The chunks of some data for one run: ``total`` examples (None when unknown before
    reading, e.g. a CSV), ``id_name`` the name of the id column, ``features`` the names of a
    table's columns (None for images), and ``chunks`` the iterator."""

    chunks: Iterator[ScoreChunk]
    total: int | None
    id_name: str = "index"
    features: list[str] | None = None
    description: str = ""


@dataclass
class Scores:
    """Scores of examples (from :func:`score_data`): ``ids`` and ``scores`` ``[N]`` (nats,
    higher is more unusual); with ``explain``, ``contributions`` ``[N, F]`` (each feature's
    share: a pixel's or a column's reconstruction cost, nats) and ``latent`` ``[N]`` (the rest:
    KL and, for ``nll``, the importance weighting's gain), which add up to the scores.

    A table's contributions are in the model's units (numbers standardised), so that a column
    in grams and one in millimetres compare; ``units`` ``[N]`` is each row's change of
    variables to the columns' own units (a constant per standardised column), and
    contributions + latent + units = scores."""

    ids: np.ndarray
    scores: np.ndarray
    kind: str
    k: int | None
    contributions: np.ndarray | None = None
    latent: np.ndarray | None = None
    features: list[str] | None = None
    id_name: str = "index"
    labels: np.ndarray | None = field(default=None, repr=False)
    input_shape: tuple[int, ...] = ()
    units: np.ndarray | None = None
    #: the chunk's examples as the model saw them (``iter_scores(..., keep_examples=True)``)
    examples: torch.Tensor | None = field(default=None, repr=False)
    #: the chunk's class labels, for conditional models (with ``examples``)
    classes: torch.Tensor | None = field(default=None, repr=False)
    #: the first examples that scored inf (at most ``INFINITE_SHOWN``), each named with why:
    #: "row 4 (species 'Emperor', a category never seen in training)"
    infinite: list[str] = field(default_factory=list, repr=False)

    def maps(self) -> np.ndarray:
        """Return the contributions of an image run as maps ``[N, *input_shape]`` (nats per
        pixel value); ``ConfigError`` without an explanation or for a table."""
        if self.contributions is None or self.features is not None:
            raise ConfigError("per-pixel maps need an image run scored with explain=True")
        return self.contributions.reshape(len(self.contributions), *self.input_shape)

    def frame(self) -> Any:
        """Return a pandas DataFrame: the id column, ``score`` and, with an explanation, one
        column per feature (a table's column names, or ``pixel_<i>``) and ``latent``."""
        import pandas as pd

        data: dict[str, Any] = {self.id_name: self.ids, "score": self.scores}
        if self.contributions is not None:
            names = self.features or [f"pixel_{i}" for i in range(self.contributions.shape[1])]
            data.update({f"contribution_{n}": self.contributions[:, j] for j, n in enumerate(names)})
            data["contribution_latent"] = self.latent
            if self.units is not None:
                data["contribution_units"] = self.units
        return pd.DataFrame(data)
