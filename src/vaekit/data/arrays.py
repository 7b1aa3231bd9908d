"""NumPy ``.npy`` / ``.npz`` files: one example per row, or a stack of images."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vaekit.data.bundle import DataBundle
from vaekit.data.holdout import split_bundle
from vaekit.data.options import LoadOptions
from vaekit.data.validate import array_position, as_features, as_grey_levels, as_labels, infer_value_range
from vaekit.runtime.errors import DataError

CHANNELS = (1, 3)  # greyscale or RGB
#: the first bytes of every .npy file
NPY_MAGIC = b"\x93NUMPY"


def image_layout(x: np.ndarray, source: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return ``(examples, shape)`` for a stack of images: ``examples`` is ``[N, C, H, W]``
    and ``shape`` is ``(C, H, W)``. ``[N, H, W]`` becomes one channel; ``[N, H, W, C]`` with
    C in (1, 3) is moved to channels-first when the array is clearly not ``[N, C, H, W]``."""
    if x.ndim == 3:
        x = x[:, None, :, :]
    elif x.shape[1] not in CHANNELS and x.shape[3] in CHANNELS:
        x = np.moveaxis(x, 3, 1)
    if x.shape[1] not in CHANNELS:
        raise DataError(
            f"{source}: a 4-D array is read as images [N, C, H, W] (or [N, H, W, C]) with "
            f"C = 1 or 3 channels, got shape {x.shape}"
        )
    return x, tuple(x.shape[1:])


def bundle_from_examples(
    name: str,
    x: np.ndarray,
    y: np.ndarray | None,
    source: str,
    options: LoadOptions,
    *,
    position: Callable[[int, int], str] = array_position,
) -> DataBundle:
    """Return a randomly split ``DataBundle`` of the examples in ``x``: a 2-D array is a
    table (shape ``(D,)``, float32), a 3-D/4-D array a stack of images (shape ``(C, H, W)``;
    uint8 pixels stay uint8 grey levels, 256 of them, /255 giving [0, 1]; other dtypes become
    float32). ``y`` (optional) holds one class index per row; ``position`` names a bad cell in
    error messages (see ``as_features``)."""
    x = np.asarray(x)
    if x.ndim == 2:
        kind, shape, levels = "table", (x.shape[1],), None
        rows = x
    elif x.ndim in (3, 4):
        images, shape = image_layout(x, source)
        kind = "image"
        rows = images.reshape(images.shape[0], -1)
        levels = 256 if x.dtype == np.uint8 else None
    else:
        hint = " (a single feature? use x.reshape(-1, 1))" if x.ndim == 1 else ""
        raise DataError(
            f"{source}: expected a 2-D array [examples, features] or images [N, H, W] / "
            f"[N, C, H, W], got {x.ndim}-D shape {x.shape}{hint}"
        )
    if levels is None:
        features = as_features(rows, source, position=position)
    else:
        features = as_grey_levels(rows, levels, source)
    labels = None if y is None else as_labels(y, features.shape[0], source)
    return split_bundle(
        name,
        features,
        labels,
        shape=shape,
        kind=kind,
        value_range=infer_value_range(features, levels),
        levels=levels,
        test_fraction=options.test_fraction,
        seed=options.seed,
        hold_out=options.hold_out,
        source=source,
    )


def load_npy(path: Path) -> np.ndarray:
    """Return the array stored in the ``.npy`` file ``path`` (pickled objects refused)."""
    try:
        with open(path, "rb") as file:
            magic = file.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:
            # numpy would try the bytes as a pickle and advise loading them unsafely.
            raise ValueError("no NumPy header: not a .npy file")
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        detail = str(exc)
        if "allow_pickle" in detail:
            detail = "it holds pickled Python objects, which vaekit never loads"
        raise DataError(
            f"{path}: cannot be read as a .npy array ({detail}); save a numeric array with numpy.save"
        ) from None


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``(x, y)`` from the ``.npz`` file ``path``: array ``x`` (or its only array
    besides ``y``) and the optional labels ``y``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path}: cannot be read as a .npz archive ({exc}); save numeric arrays with "
            "numpy.savez(path, x=..., y=...)"
        ) from None
    features = [key for key in arrays if key != "y"]
    if "x" in arrays:
        key = "x"
    elif len(features) == 1:
        key = features[0]
    else:
        raise DataError(
            f"{path}: holds arrays {sorted(arrays)} and none is named 'x'; name the examples "
            "'x' (and optional labels 'y'): numpy.savez(path, x=..., y=...)"
        )
    return arrays[key], arrays.get("y")


def read_npy(path: Path, options: LoadOptions) -> DataBundle:
    """Return the examples of a ``.npy`` file as a randomly split, unlabelled ``DataBundle``."""
    return bundle_from_examples(str(path), load_npy(path), None, str(path), options)


def read_npz(path: Path, options: LoadOptions) -> DataBundle:
    """Return array ``x`` (labels ``y`` if present) of a ``.npz`` file as a ``DataBundle``."""
    x, y = load_npz(path)
    return bundle_from_examples(str(path), x, y, str(path), options)
