"""The ``DataBundle``: one dataset, already split and flattened (grey levels or model units), ready for a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaekit.data.units import MAX_UINT8_LEVELS, STORAGE_DTYPES, to_model_units
from vaekit.runtime.errors import DataError

KINDS = ("image", "table")
#: "table": a typed table's encoded rows (value slots and mask slots, see vaekit.data.tables)
VALUE_RANGES = ("unit", "binary", "real", "table")


@dataclass(repr=False)
class DataBundle:
    """A train/test pair of flattened examples plus what a model needs to know about them.

    ``train``/``test`` are ``[N, D]`` tensors of one dtype, either

    - **uint8**: integer grey levels ``0 .. levels - 1`` (what the image readers return: IDX
      MNIST/Fashion-MNIST, image folders, uint8 image stacks in .npy/.npz, sklearn digits).
      Their value in model units is ``level / (levels - 1)``; ``as_float`` (or
      ``vaekit.data.units.to_model_units``) converts them. Needs ``levels`` (2..256) and a
      ``value_range`` of ``"unit"`` or ``"binary"``.
    - **float32**: values already in model units (tables, float image stacks).

    ``shape`` is one example's shape before flattening (``(C, H, W)`` for images, ``(D,)`` for
    tables). ``value_range`` describes the values in model units: ``"unit"`` (in [0, 1]),
    ``"binary"`` (only 0 and 1) or ``"real"``. ``levels`` is the number of discrete grey levels
    of the raw data (17 for sklearn digits, 256 for 8-bit images), used e.g. for dequantisation
    and bits-per-dim; ``None`` for tables.
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    shape: tuple[int, ...]
    kind: str
    value_range: str
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    levels: int | None = None
    #: a table's fitted codec (``TableCodec.to_dict()``: schema and column transforms); None otherwise
    table: dict[str, Any] | None = None
    #: a table's train and test rows as read (pandas DataFrames, missing cells kept), for the
    #: quality report and imputation; None otherwise
    frames: tuple[Any, Any] | None = None
    #: the rows of the file (int64, 0-based) that the train and test examples are, for data
    #: split from one file (``split_bundle``, tables); a block shuffle places them in the file's
    #: blocks. None for datasets with their own split
    file_rows: tuple[np.ndarray, np.ndarray] | None = None
    #: the name of each class, by class number (an image folder's class sub-folders); None
    #: where the classes are numbers only
    class_names: tuple[str, ...] | None = None
    #: what a run records of the image folder the examples were read from, when the folder was
    #: checked against a run's record as it was read (``vaekit.data.disk.folder``); else None
    data_file: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Catch inconsistent bundles where they are built, not deep inside a training loop.
        self.shape = tuple(int(s) for s in self.shape)
        where = f"dataset {self.name!r}"
        if self.kind not in KINDS:
            raise DataError(f"{where}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.value_range not in VALUE_RANGES:
            raise DataError(f"{where}: value_range must be one of {VALUE_RANGES}, got {self.value_range!r}")
        for part, x in (("train", self.train), ("test", self.test)):
            if x.ndim != 2 or x.dtype not in STORAGE_DTYPES:
                raise DataError(
                    f"{where}: {part} must be a float32 or uint8 [N, D] tensor, got {x.dtype} of shape {tuple(x.shape)}"
                )
        if self.train.dtype != self.test.dtype:
            raise DataError(f"{where}: train is {self.train.dtype} but test is {self.test.dtype}; use one dtype")
        if self.train.dtype == torch.uint8:
            self._check_grey_levels(where)
        dim = 1
        for s in self.shape:
            dim *= s
        if self.train.shape[1] != dim or self.test.shape[1] != dim:
            raise DataError(
                f"{where}: train has {self.train.shape[1]} and test {self.test.shape[1]} "
                f"features, but one example of shape {self.shape} has {dim}"
            )
        for part, x, y in (
            ("train", self.train, self.train_labels),
            ("test", self.test, self.test_labels),
        ):
            if y is not None and (y.ndim != 1 or y.shape[0] != x.shape[0]):
                raise DataError(
                    f"{where}: {part}_labels must be 1-D with {x.shape[0]} entries, got shape {tuple(y.shape)}"
                )
        if (self.train_labels is None) != (self.test_labels is None):
            raise DataError(f"{where}: give labels for both train and test, or for neither")

    def _check_grey_levels(self, where: str) -> None:
        """Raise ``DataError`` unless uint8 examples are grey levels within ``levels``."""
        if self.levels is None or not 2 <= self.levels <= MAX_UINT8_LEVELS:
            raise DataError(
                f"{where}: uint8 examples are grey levels and need levels between 2 and "
                f"{MAX_UINT8_LEVELS}, got {self.levels!r}"
            )
        if self.value_range == "real":
            raise DataError(f"{where}: uint8 grey levels lie in [0, 1] once converted; value_range cannot be 'real'")
        if self.levels < MAX_UINT8_LEVELS:
            top = max((int(x.max()) for x in (self.train, self.test) if x.numel()), default=0)
            if top >= self.levels:
                raise DataError(
                    f"{where}: grey level {top} found, but levels = {self.levels} allows 0..{self.levels - 1}"
                )

    def as_float(self, part: str) -> torch.Tensor:
        """Return ``part`` (``"train"`` or ``"test"``) as float32 ``[N, D]`` in model units:
        uint8 grey levels divided by ``levels - 1`` (a new tensor), float32 data as stored."""
        if part not in ("train", "test"):
            raise DataError(f"part must be 'train' or 'test', got {part!r}")
        return to_model_units(getattr(self, part), self.levels)

    @property
    def dim(self) -> int:
        """Number of features D of one flattened example."""
        return int(self.train.shape[1])

    @property
    def num_classes(self) -> int | None:
        """Number of classes (largest label + 1, labels being 0..K-1), or ``None`` if unlabelled."""
        if self.train_labels is None or self.test_labels is None:
            return None
        labels = torch.cat([self.train_labels, self.test_labels])
        if labels.numel() == 0:
            return None
        return int(labels.max().item()) + 1

    def __repr__(self) -> str:
        # The default dataclass repr would print tensor contents; a summary is what people need.
        return (
            f"DataBundle(name={self.name!r}, train={tuple(self.train.shape)}, "
            f"test={tuple(self.test.shape)}, dtype={self.train.dtype}, shape={self.shape}, kind={self.kind!r}, "
            f"value_range={self.value_range!r}, levels={self.levels}, "
            f"num_classes={self.num_classes})"
        )


def bundle_from_arrays(
    name: str,
    train: np.ndarray,
    test: np.ndarray,
    *,
    shape: tuple[int, ...],
    kind: str,
    value_range: str,
    train_labels: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    levels: int | None = None,
) -> DataBundle:
    """Return a ``DataBundle`` built from validated numpy arrays: uint8 features stay uint8
    grey levels (give ``levels``), any other features become float32; labels become int64.
    The tensors share memory with the arrays where the dtypes already match (a read-only
    array is copied first: torch tensors are always writable)."""

    def features(x: np.ndarray) -> torch.Tensor:
        dtype = np.uint8 if x.dtype == np.uint8 else np.float32
        x = np.ascontiguousarray(x, dtype=dtype)
        return torch.from_numpy(x if x.flags.writeable else x.copy())

    def labels(y: np.ndarray | None) -> torch.Tensor | None:
        return None if y is None else torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))

    return DataBundle(
        name=name,
        train=features(train),
        test=features(test),
        shape=shape,
        kind=kind,
        value_range=value_range,
        train_labels=labels(train_labels),
        test_labels=labels(test_labels),
        levels=levels,
    )
