"""The examples an evaluation reads: the run's own split, or other data checked to fit the model."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from vaekit.api.runs import build_config, training_data_hint
from vaekit.api.trained import TrainedVAE
from vaekit.data.units import check_unit_range
from vaekit.data.views import Splits, evaluation_view
from vaekit.runtime.errors import ConfigError, DataError


def eval_splits(vae: TrainedVAE, data: str | None, split: str) -> Splits:
    """Return the run's data (or other data ``data`` of the same dimension) split as in training,
    after checking that ``split`` names one that the run has and that the data fit the model."""
    from vaekit.data.disk import streams
    from vaekit.training.run_data import load_bundle, make_splits

    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    cfg = vae.config
    source = cfg
    if data is not None:
        source = build_config(cfg.to_dict(), data=data)
    # A run that read its data from disk evaluates from disk too (other data as well, if they stream).
    with training_data_hint(cfg, data is None):
        bundle = load_bundle(source, lazy=cfg.train.data_loading == "disk" and streams(source.data.name))
    _check_data_fits(vae, data, bundle)
    splits = make_splits(cfg, _with_run_classes(vae, data, bundle))
    if split == "val" and splits.val is None:
        raise ConfigError("this run has no validation split (val_fraction = 0)")
    return splits


def _with_run_classes(vae: TrainedVAE, data: str | None, bundle: Any) -> Any:
    """Return ``bundle`` with its class labels numbered as the run numbers its classes, by
    name (an image folder's class sub-folders: another folder may hold some of them, whose
    own numbering would differ); ``DataError`` for a class the run has not."""
    names = vae.config.class_names
    if not names or bundle.class_names is None or list(bundle.class_names) == names:
        return bundle
    unknown = [name for name in bundle.class_names if name not in names]
    if unknown:
        raise DataError(
            f"data {data!r} has class folder(s) {', '.join(map(repr, unknown))} that this run was not trained on; "
            f"its classes are {', '.join(map(repr, names))}: keep only those folders"
        )
    numbers = torch.tensor([names.index(name) for name in bundle.class_names], dtype=torch.int64)
    renumber = {key: numbers[getattr(bundle, key)] for key in ("train_labels", "test_labels") if getattr(bundle, key) is not None}
    return dataclasses.replace(bundle, **renumber, class_names=tuple(names))


def _check_data_fits(vae: TrainedVAE, data: str | None, bundle: Any) -> None:
    """Raise ``DataError`` when the examples of ``bundle`` (read from ``data``) are not the
    model's: another number of values, images of another shape (flat rows of the right number
    of values are taken as they are), other grey levels (a uint8 array of levels other than the
    run's; image files where the model's numbers depend on the levels), or float values outside
    [0, 1] for a run on images (grey levels not yet divided)."""
    from vaekit.data.images import is_image_path
    from vaekit.data.levels import check_grey_levels, run_grey_levels, trained_grey_levels

    cfg = vae.config
    shape, expected = tuple(bundle.shape), tuple(vae.input_shape)
    if len(shape) == 3 and len(expected) == 3 and shape != expected and data is None:
        raise DataError(
            f"this run's own data {cfg.data.name!r} now reads as {_image_shape(shape)}, but the run was trained on "
            f"{_image_shape(expected)}: images are read differently since it was trained (grey + alpha, grey "
            "palettes, 16-bit grey and grey pictures saved as RGB as one channel, EXIF orientation, transparency onto black); train the run "
            "again on its folder (`vaekit train ... --force`)"
        )
    if len(shape) == 3 and len(expected) == 3 and shape != expected:
        channels, height, width = expected
        kind = "grey" if channels == 1 else "RGB"
        raise DataError(
            f"data {data!r} holds images of {_image_shape(shape)}; this model takes {_image_shape(expected)}: "
            f"resize or convert them to {height}x{width} {kind} first (a run trained with --image-size "
            f"{height}x{width}x{channels} resizes and converts new images itself)"
        )
    if bundle.dim != cfg.input_dim:
        raise DataError(f"data {data!r} has {bundle.dim} values per example; this model expects {cfg.input_dim}")
    if bundle.levels is not None:
        # Image files are 8-bit pixels, refused only where the model's numbers depend on the grey
        # levels; a uint8 array of other levels is ambiguous (the run's levels left undivided, or
        # 8-bit pixels), so it is refused, as scoring refuses it.
        levels_matter = getattr(vae.model.likelihood, "levels", None) is not None or cfg.data.dequantize != "none"
        image_files = data is not None and is_image_path(Path(data))
        if levels_matter or not image_files:
            check_grey_levels(bundle.levels, run_grey_levels(cfg), what=f"the examples of {data!r}")
        return
    for part in (bundle.train, bundle.test):
        if isinstance(part, torch.Tensor):  # data left on disk are checked as their batches are read
            check_unit_range(part, cfg.value_range, what=f"the examples of {data!r}", levels=trained_grey_levels(cfg))


def _image_shape(shape: tuple[int, ...]) -> str:
    """Return an image shape ``(C, H, W)`` in words, e.g. ``3 channels of 20x20 pixels``."""
    channels, height, width = shape
    return f"{channels} channel{'s' if channels != 1 else ''} of {height}x{width} pixels (height x width)"


def resolve_eval_data(
    vae: TrainedVAE, data: str | None, split: str | None = "test"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the examples ``[N, D]`` (and labels) to evaluate on, as the model sees them
    (binarised or dequantised with fixed seeds): the run's own data split by default, or
    another dataset ``data`` of the same dimension. ``split=None`` reads every example of a
    file or image folder ``data`` in the file's order (a per-example output then lines up with
    the input's rows), and the test split of anything else."""
    if split is None:
        whole = whole_file_examples(vae, data)
        if whole is not None:
            return whole[:2]
        split = "test"
    return evaluation_view(eval_splits(vae, data, split), split)


def whole_file_examples(
    vae: TrainedVAE, data: str | None
) -> tuple[torch.Tensor, torch.Tensor | None, int | None] | None:
    """Return every example of the file or folder ``data`` in its own order as the model sees
    them at evaluation (float32 ``[N, D]``, model units; binarised or dequantised with the test
    split's fixed draws, as held-out data), with their labels and grey levels, or None where
    :func:`read_whole_file` gives none."""
    whole = read_whole_file(vae, data)
    if whole is None:
        return None
    x, labels, levels = whole
    cfg = vae.config.data
    splits = Splits(train=x[:0], val=None, test=x, train_labels=None, test_labels=labels, levels=levels,
                    binarize=cfg.binarize, dequantize=cfg.dequantize)  # fmt: skip
    view, _ = evaluation_view(splits, "test")
    return view, labels, levels


def read_whole_file(
    vae: TrainedVAE, data: str | os.PathLike[str] | None
) -> tuple[torch.Tensor, torch.Tensor | None, int | None] | None:
    """Return every example of the file or image folder ``data`` in its own order, as stored
    (``[N, D]``: uint8 grey levels, or float32 model units), with its labels (int64 ``[N]``,
    or None) and grey levels (or None), after checking that they fit the model. None when
    ``data`` is no path or its reader keeps its own splits (IDX files)."""
    from vaekit.training.run_data import load_bundle

    if data is None or not Path(data).exists():
        return None
    source = build_config(vae.config.to_dict(), data=os.fspath(data))
    source.data.limit = None
    bundle = load_bundle(source, lazy=False, hold_out=False)
    if bundle.file_rows is None:
        return None
    _check_data_fits(vae, os.fspath(data), bundle)
    bundle = _with_run_classes(vae, os.fspath(data), bundle)
    return bundle.train, bundle.train_labels, bundle.levels
