"""Turning a loaded dataset into the tensors a run trains and validates on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaekit.config import RunConfig
from vaekit.data import DataBundle, load_data

#: Seed of the fixed binarisation of validation/test data (the literature's "fixed binarised test set").
EVAL_BINARIZE_SEED = 1234


@dataclass
class Splits:
    """Train/validation/test tensors ``[N, D]`` in model units, with labels ``[N]`` where known."""

    train: torch.Tensor
    val: torch.Tensor | None
    test: torch.Tensor
    train_labels: torch.Tensor | None
    test_labels: torch.Tensor | None
    val_labels: torch.Tensor | None = None


def load_bundle(config: RunConfig) -> DataBundle:
    """Load the dataset ``config.data`` names."""
    d = config.data
    return load_data(
        d.name,
        image_size=d.image_size,
        data_dir=d.data_dir,
        download=d.download,
        test_fraction=d.test_fraction,
        seed=0,
    )


def bind_to_data(config: RunConfig, bundle: DataBundle) -> None:
    """Record the data's shape and value range in the config (as binarised, if asked)."""
    config.input_shape = list(bundle.shape)
    binarized = config.data.binarize != "none"
    config.value_range = "binary" if binarized else bundle.value_range
    config.levels = 2 if binarized else bundle.levels
    config.num_classes = bundle.num_classes


def binarize_fixed(x: torch.Tensor, seed: int = EVAL_BINARIZE_SEED) -> torch.Tensor:
    """Return a fixed, seeded Bernoulli draw of each grey level in ``x`` (values in [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x, generator=g)


def make_splits(config: RunConfig, bundle: DataBundle) -> Splits:
    """Carve a seeded validation set from the training data and binarise evaluation data if asked.

    Training data stays in grey levels for ``binarize="dynamic"`` (redrawn every batch by the loop).
    """
    train, labels = bundle.train, bundle.train_labels
    n_val = int(round(config.data.val_fraction * len(train)))
    val = val_labels = None
    if n_val > 0:
        perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(config.train.seed))
        val, train = train[perm[:n_val]], train[perm[n_val:]]
        if labels is not None:
            val_labels, labels = labels[perm[:n_val]], labels[perm[n_val:]]
    test = bundle.test
    if config.data.binarize != "none":
        if bundle.value_range == "real":
            from vaekit.errors import ConfigError

            raise ConfigError("--binarize needs data in [0, 1] (images); this data is real-valued")
        test = binarize_fixed(test)
        val = binarize_fixed(val, EVAL_BINARIZE_SEED + 1) if val is not None else None
        if config.data.binarize == "static":
            train = binarize_fixed(train, EVAL_BINARIZE_SEED + 2)
    return Splits(train, val, test, labels, bundle.test_labels, val_labels)
