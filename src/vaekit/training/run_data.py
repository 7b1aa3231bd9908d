"""The data a run config names: loaded, recorded in the config, and split as the run splits it.

The config-aware side of ``vaekit.data.views`` (which takes plain values): the training loop,
the API and the diagram of a preset read the run's data through these.
"""

from __future__ import annotations

from typing import Any

from vaekit.config import RunConfig
from vaekit.data import DataBundle, load_data, views
from vaekit.data.views import Splits
from vaekit.runtime.errors import ConfigError, DataError

#: the data name of a run trained on a pandas DataFrame in Python (no file to read again)
DATA_FRAME = "DataFrame"


def table_mode(config: RunConfig) -> str:
    """Return how the run reads a .csv/.tsv file: as configured, except that a run bound to a
    CSV before tables had schemas (no codec recorded) keeps reading it as a matrix of numbers."""
    d = config.data
    legacy = config.input_shape is not None and config.table is None and d.name.lower().endswith((".csv", ".tsv"))
    return "matrix" if legacy else d.table_mode


def load_bundle(config: RunConfig, frame: Any = None) -> DataBundle:
    """Load the dataset ``config.data`` names (or the DataFrame ``frame``); a run bound to a
    table encodes it with the run's own codec."""
    d = config.data
    if frame is None and d.name == DATA_FRAME:
        raise DataError(
            "this run was trained on a pandas DataFrame in Python, which is not stored in the run folder; "
            "pass it again (vaekit.resume(run, data=frame)) or train from a .csv/.parquet file"
        )
    return load_data(
        d.name if frame is None else frame,
        image_size=d.image_size,
        data_dir=d.data_dir,
        download=d.download,
        test_fraction=d.test_fraction,
        seed=0,
        n=d.limit,
        table_mode=table_mode(config),
        schema=d.schema,
        column_types=d.column_types,
        ignore=d.ignore,
        condition_on=d.condition_on,
        continuous=d.continuous,
        codec=config.table,
    )


def bind_to_data(config: RunConfig, bundle: DataBundle) -> None:
    """Record the data's shape and value range in the config (as binarised, if asked), and a
    table's codec; a table's label classes are the joint values of its condition columns."""
    config.input_shape = list(bundle.shape)
    binarized = config.data.binarize != "none"
    config.value_range = "binary" if binarized else bundle.value_range
    config.levels = 2 if binarized else bundle.levels
    config.num_classes = bundle.num_classes
    config.table = bundle.table
    if bundle.table is not None:
        from vaekit.data.tables import TableCodec

        config.num_classes = TableCodec.from_dict(bundle.table).num_conditions or None
        if binarized or config.data.dequantize != "none":
            raise ConfigError("--binarize and --dequantize apply to images; leave them out for a table")


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
