"""Datasets for vaekit: named ones (digits, MNIST, Fashion-MNIST, synthetic5) and files or
folders (npy/npz/csv/tsv, IDX, image folders), all returned as a split, validated ``DataBundle``
(images as uint8 grey levels; ``to_model_units`` turns them into float32 in [0, 1]).
"""

from vaekit.data.bundle import DataBundle
from vaekit.data.load import load_data
from vaekit.data.registry import available_datasets
from vaekit.data.synthetic import synthetic5
from vaekit.data.units import to_model_units

__all__ = ["DataBundle", "available_datasets", "load_data", "synthetic5", "to_model_units"]
