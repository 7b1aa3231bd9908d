"""DataBundle: its properties, summary repr, and consistency checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data import DataBundle
from vaekit.data.bundle import bundle_from_arrays
from vaekit.errors import DataError


def make(**changes) -> DataBundle:
    fields = dict(
        name="t",
        train=torch.zeros(4, 6),
        test=torch.zeros(2, 6),
        shape=(1, 2, 3),
        kind="image",
        value_range="unit",
        train_labels=torch.tensor([0, 1, 4, 1]),
        test_labels=torch.tensor([2, 0]),
        levels=256,
    )
    fields.update(changes)
    return DataBundle(**fields)


def test_dim_and_num_classes() -> None:
    bundle = make()
    assert bundle.dim == 6 and bundle.num_classes == 5
    assert make(train_labels=None, test_labels=None).num_classes is None


def test_repr_is_a_summary() -> None:
    text = repr(make(train=torch.rand(4, 6)))
    assert "train=(4, 6)" in text and "num_classes=5" in text and "tensor" not in text


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kind": "video"}, "kind"),
        ({"value_range": "positive"}, "value_range"),
        ({"train": torch.zeros(4, 6, dtype=torch.float64)}, "float32"),
        ({"test": torch.zeros(2, 5)}, "features"),
        ({"shape": (2, 2)}, "features"),
        ({"train_labels": torch.tensor([0, 1])}, "train_labels"),
        ({"test_labels": None}, "both train and test"),
    ],
)
def test_inconsistent_bundles_are_rejected(changes: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        make(**changes)


def test_bundle_from_arrays_converts_dtypes() -> None:
    bundle = bundle_from_arrays(
        "t",
        np.ones((3, 2), dtype=np.float64),
        np.ones((1, 2), dtype=np.float64),
        shape=(2,),
        kind="table",
        value_range="binary",
        train_labels=np.array([0, 1, 1], dtype=np.uint8),
        test_labels=np.array([1], dtype=np.uint8),
    )
    assert bundle.train.dtype == torch.float32 and bundle.train_labels.dtype == torch.int64
