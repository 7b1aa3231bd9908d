"""The data a run config names: loaded, recorded in the config, and split as the run splits it.

The config-aware side of ``vaekit.data.views`` (which takes plain values): the training loop,
the API and the diagram of a preset read the run's data through these.
"""

from __future__ import annotations

from vaekit.config import RunConfig
from vaekit.data import DataBundle, load_data, views
from vaekit.data.views import Splits


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


def make_splits(config: RunConfig, bundle: DataBundle) -> Splits:
    """Split ``bundle`` as the run ``config`` does: its validation fraction carved with the
    run's seed, its binarisation and dequantisation (see ``vaekit.data.views.make_splits``)."""
    return views.make_splits(
        bundle,
        val_fraction=config.data.val_fraction,
        seed=config.train.seed,
        binarize=config.data.binarize,
        dequantize=config.data.dequantize,
    )
