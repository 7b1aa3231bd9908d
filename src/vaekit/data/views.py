"""A run's train/validation/test splits, and the examples as the model sees them at evaluation:
fixed, seeded binarisation or dequantisation, the same values every time.

Plain values in, no run config: ``vaekit.training.run_data`` reads them off a config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.data.bundle import DataBundle
from vaekit.data.disk.blocks import BlockShuffle
from vaekit.data.disk.bundle import LazyBundle
from vaekit.data.disk.rows import RowView, is_lazy
from vaekit.data.units import to_model_units
from vaekit.runtime.errors import ConfigError

#: Seed of the fixed binarisation of validation/test data (the literature's "fixed binarised test set").
EVAL_BINARIZE_SEED = 1234
#: Seed of each split's fixed draw (binarisation or dequantisation noise) at evaluation.
SPLIT_SEEDS = {"test": EVAL_BINARIZE_SEED, "val": EVAL_BINARIZE_SEED + 1, "train": EVAL_BINARIZE_SEED + 3}
#: Seed of the one binarisation of the training set under ``binarize="static"``.
STATIC_BINARIZE_SEED = EVAL_BINARIZE_SEED + 2
#: Values of ``binarize`` and ``dequantize`` (as in the run config's ``data`` section).
BINARIZE_MODES = ("none", "dynamic", "static")
DEQUANTIZE_MODES = ("none", "uniform")


@dataclass
class Splits:
    """Train/validation/test examples ``[N, D]`` as stored, with labels ``[N]`` where known, and
    the binarisation and dequantisation the run applies to them.

    The examples keep the bundle's dtype (see ``DataBundle``): uint8 grey levels stay uint8
    (converted by ``to_model_units`` per training batch in the loop, and by
    ``evaluation_batches``/``evaluation_view``), float32 data are model units. Under
    ``binarize="static"`` the training set is float32 0/1 (one fixed draw). Use
    ``evaluation_batches`` or ``evaluation_view`` for examples as the model sees them at evaluation.

    With ``--data-loading disk`` the examples and labels are ``RowView``s (file rows, read when
    indexed: a slice or an index tensor gives a tensor in the stored dtype), so no split is ever
    whole in memory; ``evaluation_batches`` and ``evaluation_examples`` read them batch by batch.
    """

    train: torch.Tensor | RowView
    val: torch.Tensor | RowView | None
    test: torch.Tensor | RowView
    train_labels: torch.Tensor | RowView | None
    test_labels: torch.Tensor | RowView | None
    #: grey levels of the raw data (see ``DataBundle.levels``): needed to dequantise and to
    #: turn a density of dequantised data into a bound on the discrete data
    levels: int | None = None
    val_labels: torch.Tensor | RowView | None = None
    #: "none", "dynamic" (a fresh draw per training batch) or "static" (one draw of the training set)
    binarize: str = "none"
    #: "none" or "uniform" (fresh noise per training batch; fixed noise at evaluation)
    dequantize: str = "none"
    #: the block shuffle of the training rows (``data.shuffle: blocks``); None for a full shuffle
    blocks: BlockShuffle | None = None


def binarize_fixed(x: torch.Tensor, seed: int = EVAL_BINARIZE_SEED) -> torch.Tensor:
    """Return a fixed, seeded Bernoulli draw of each grey level in ``x`` (values in [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x, generator=g)


def dequantize_uniform(x: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return uniformly dequantised data ``(x_int + u) / levels`` in [0, 1), where
    ``x_int = round(x * (levels - 1))`` are the integer grey levels of ``x`` (values in [0, 1])
    and ``u ~ U[0, 1)`` per value. A density p on such data bounds the discrete data:
    log P(x_int) >= E_u[log p((x_int + u) / levels)] - D log(levels) (see docs/likelihoods.md).
    The noise is drawn by ``generator`` on its own device (the CPU without one) and moved to ``x``'s."""
    device = generator.device if generator is not None else torch.device("cpu")
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)
    return (torch.round(x * (levels - 1)) + noise) / levels


def carve_validation(
    n: int, val_fraction: float, seed: int, val_in_file_order: bool = False
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Return ``(val, train)``: the positions (int32, int64 beyond 2**31) among ``n`` training examples that
    become the validation set (``round(val_fraction * n)`` of them, drawn by a permutation
    seeded by ``seed``) and those that stay for training, in the permutation's order; None
    when no example is held out. ``val_in_file_order`` sorts the validation positions, so that
    a validation pass reads a file front to back (the block shuffle's choice)."""
    n_val = int(round(val_fraction * n))
    if n_val <= 0:
        return None
    # int32 while n allows: half the memory for a split of a large file, and the same draws.
    dtype = torch.int32 if n <= torch.iinfo(torch.int32).max else torch.int64
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    val = perm[:n_val]
    return (torch.sort(val).values if val_in_file_order else val), perm[n_val:]


def _take(x: Any, index: torch.Tensor) -> Any:
    """Return the examples (or labels) ``index`` of ``x``: read for a tensor, a smaller view
    (nothing read) for a ``RowView``."""
    return x.subset(index) if is_lazy(x) else x[index]


def make_splits(
    bundle: DataBundle | LazyBundle,
    *,
    val_fraction: float,
    seed: int,
    binarize: str = "none",
    dequantize: str = "none",
    val_in_file_order: bool = False,
) -> Splits:
    """Carve a validation set of ``val_fraction`` of the training data (a permutation seeded by
    ``seed``; see ``carve_validation``) and check that ``binarize`` and ``dequantize`` apply to
    the data. ``bundle`` is a ``DataBundle``, or a ``vaekit.data.disk.LazyBundle`` whose splits
    stay ``RowView``s (nothing is read).

    The examples stay as stored (uint8 grey levels stay uint8, a quarter of float32's memory):
    ``evaluation_batches`` converts validation/test data with fixed seeds when they are used, and
    the loop converts training batches, redrawing the binarisation or the noise every batch
    (``binarize="dynamic"``, ``dequantize="uniform"``). Only ``binarize="static"`` draws the
    training set's one binarisation here (not for data left on disk).
    """
    if binarize not in BINARIZE_MODES or dequantize not in DEQUANTIZE_MODES:
        raise ConfigError(f"binarize must be one of {BINARIZE_MODES} and dequantize one of {DEQUANTIZE_MODES}")
    train, labels = bundle.train, bundle.train_labels
    val = val_labels = None
    carved = carve_validation(len(train), val_fraction, seed, val_in_file_order)
    if carved is not None:
        held, kept = carved
        shared = is_lazy(labels) and is_lazy(train) and labels.rows is train.rows
        val, train = _take(train, held), _take(train, kept)
        if shared:  # the labels of a file's rows: views of the same rows, held once
            val_labels, labels = val.labels(), train.labels()
        elif labels is not None:
            val_labels, labels = _take(labels, held), _take(labels, kept)
    if binarize == "static" and is_lazy(train):
        raise ConfigError(
            "--binarize static draws the whole training set's one binarisation at once, which --data-loading disk "
            "never holds; use --binarize dynamic, or --data-loading memory"
        )
    if binarize != "none" and bundle.value_range == "real":
        raise ConfigError("--binarize needs data in [0, 1] (images); this data is real-valued")
    if binarize == "static":
        train = binarize_fixed(to_model_units(train, bundle.levels), STATIC_BINARIZE_SEED)
    if dequantize == "uniform" and bundle.levels is None:
        raise ConfigError(
            f"--dequantize uniform needs discrete data with known grey levels (images); "
            f"{bundle.name!r} has none: leave --dequantize out"
        )
    return Splits(
        train,
        val,
        bundle.test,
        labels,
        bundle.test_labels,
        levels=bundle.levels,
        val_labels=val_labels,
        binarize=binarize,
        dequantize=dequantize,
    )


def stored_split(splits: Splits, split: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return the examples of ``split`` ("train", "val" or "test") as stored, and their labels."""
    return {
        "train": (splits.train, splits.train_labels),
        "val": (splits.val, splits.val_labels),
        "test": (splits.test, splits.test_labels),
    }[split]


def evaluation_batches(
    splits: Splits, split: str, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield the examples (float32 ``[<=batch_size, D]``, model units) and labels of ``split``
    ("train", "val" or "test") as the model sees them at evaluation, one batch at a time, so
    that only one batch is ever held in float32 (nothing for a missing validation split).

    Grey levels are converted by ``to_model_units``; then, if the run binarises, each split gets
    one fixed, seeded binarisation (``SPLIT_SEEDS``; the training set's own static draw under
    ``binarize="static"``), and if it dequantises, fixed, seeded uniform noise: every evaluation
    sees the same values, binary (or dequantised) like the data the model was trained on. The
    draws come from one generator per split consumed in example order, so they do not depend on
    ``batch_size`` (torch's CPU Bernoulli and uniform kernels draw one number per element, in
    order; a test checks that the batches equal one whole-split draw).
    """
    x, labels = stored_split(splits, split)
    if x is None:
        return
    binarize = splits.binarize == "dynamic" or (splits.binarize == "static" and split != "train")
    dequantize = splits.dequantize == "uniform" and splits.levels is not None
    g = torch.Generator().manual_seed(SPLIT_SEEDS[split])
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        batch = to_model_units(x[rows], splits.levels)
        if binarize:
            batch = torch.bernoulli(batch, generator=g)
        elif dequantize:
            batch = dequantize_uniform(batch, splits.levels, g)
        yield batch, (labels[rows] if labels is not None else None)


def evaluation_view(
    splits: Splits, split: str, limit: int | None = None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return the examples (float32 ``[N, D]``, model units) and labels of ``split`` ("train",
    "val" or "test") as the model sees them at evaluation (see ``evaluation_batches``), or
    ``(None, None)`` for a missing validation split. ``limit`` keeps only the first ``limit``
    examples, converting no more than those."""
    x, labels = stored_split(splits, split)
    if x is None:
        return None, None
    n = len(x) if limit is None else min(limit, len(x))
    if n == 0:
        return to_model_units(x[:0], splits.levels), (labels[:0] if labels is not None else None)
    return next(evaluation_batches(splits, split, n))  # one batch: the first n examples


class EvaluationExamples:
    """A split left on disk (``RowView``s) as the model sees it at evaluation, read a block
    at a time: what ``evaluation_view`` returns whole for a split in memory. ``blocks(rows)``
    yields ``(x, labels)`` of at most ``rows`` examples, the same values as
    ``evaluation_batches`` (the fixed draws do not depend on the block size). A split of a
    file read by row groups whose rows jump between them (a table's training split) is read
    in the file's order."""

    def __init__(self, splits: Splits, split: str) -> None:
        x, labels = stored_split(splits, split)
        if x is None:
            raise ConfigError(f"there is no {split} split to evaluate")
        if getattr(x.source, "reads_by_blocks", False) and bool((x.rows[1:] < x.rows[:-1]).any()):
            # A file read by row groups, in an order that jumps between them (the training split):
            # in the split's order every block would decode every row group, so it is read in
            # the file's order (tables draw no fixed noise: only which sample meets which row moves).
            order = torch.argsort(x.rows, stable=True)
            fields = {"train": ("train", "train_labels"), "val": ("val", "val_labels"), "test": ("test", "test_labels")}
            name, label_name = fields[split]
            sorted_labels = labels.subset(order) if labels is not None else None
            splits = dataclasses.replace(splits, **{name: x.subset(order), label_name: sorted_labels})
        self.splits, self.split = splits, split
        self._n, self._dim = len(x), int(x.shape[1])
        self.labelled = labels is not None

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> torch.Size:
        """``[N, D]``: the split's examples and values per example."""
        return torch.Size([self._n, self._dim])

    def numel(self) -> int:
        """Number of values in the split (N * D)."""
        return self._n * self._dim

    def blocks(self, rows: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield the split as float32 blocks ``[<=rows, D]`` in model units, and their labels."""
        return evaluation_batches(self.splits, self.split, rows)


def evaluation_examples(splits: Splits, split: str) -> tuple[torch.Tensor | EvaluationExamples | None, torch.Tensor | None]:
    """Return the examples and labels of ``split`` as the model sees them at evaluation: as
    ``evaluation_view`` does for a split in memory (one float32 tensor), and as
    ``EvaluationExamples`` (read block by block; the labels come with each block, so None here)
    for a split left on disk, which could be larger than memory once in float32."""
    x, _ = stored_split(splits, split)
    if x is not None and is_lazy(x):
        return EvaluationExamples(splits, split), None
    return evaluation_view(splits, split)
