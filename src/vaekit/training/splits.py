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
    #: grey levels of the raw data (see ``DataBundle.levels``): needed to dequantise and to
    #: turn a density of dequantised data into a bound on the discrete data
    levels: int | None = None
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
        n=d.limit,
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


def dequantize_uniform(x: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return uniformly dequantised data ``(x_int + u) / levels`` in [0, 1), where
    ``x_int = round(x * (levels - 1))`` are the integer grey levels of ``x`` (values in [0, 1])
    and ``u ~ U[0, 1)`` per value. A density p on such data bounds the discrete data:
    log P(x_int) >= E_u[log p((x_int + u) / levels)] - D log(levels) (see docs/likelihoods.md)."""
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    return (torch.round(x * (levels - 1)) + noise) / levels


def make_splits(config: RunConfig, bundle: DataBundle) -> Splits:
    """Carve a seeded validation set from the training data; binarise or dequantise the
    evaluation data if asked, with fixed seeds so that every evaluation sees the same values.

    Training data stays in grey levels for ``binarize="dynamic"`` and ``dequantize="uniform"``
    (the loop redraws the binarisation or the noise every batch).
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
    if config.data.dequantize == "uniform":
        if bundle.levels is None:
            from vaekit.errors import ConfigError

            raise ConfigError(
                f"--dequantize uniform needs discrete data with known grey levels (images); "
                f"{bundle.name!r} has none: leave --dequantize out"
            )
        test = dequantize_uniform(test, bundle.levels, torch.Generator().manual_seed(EVAL_BINARIZE_SEED))
        if val is not None:
            val = dequantize_uniform(val, bundle.levels, torch.Generator().manual_seed(EVAL_BINARIZE_SEED + 1))
    return Splits(train, val, test, labels, bundle.test_labels, levels=bundle.levels, val_labels=val_labels)


def evaluation_view(config: RunConfig, splits: Splits, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the examples ``[N, D]`` and labels of ``split`` ("train", "val" or "test") as the
    model sees them at evaluation: validation/test data come binarised or dequantised with fixed
    seeds by ``make_splits``; training data that the loop redraws every batch get a fixed,
    seeded draw here, so an evaluation of the train split is reproducible and binary (or
    dequantised) like the data the model was trained on. """
    if split == "val":
        return splits.val, splits.val_labels
    if split == "test":
        return splits.test, splits.test_labels
    train = splits.train
    if config.data.binarize == "dynamic":
        train = binarize_fixed(train, EVAL_BINARIZE_SEED + 3)
    elif config.data.dequantize == "uniform" and splits.levels is not None:
        train = dequantize_uniform(train, splits.levels, torch.Generator().manual_seed(EVAL_BINARIZE_SEED + 3))
    return train, splits.train_labels
