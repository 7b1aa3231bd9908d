"""DataBundle: its properties, summary repr, and consistency checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data import DataBundle
from vaekit.data.bundle import bundle_from_arrays
from vaekit.runtime.errors import DataError


def U8(n: int, fill: int = 3) -> torch.Tensor:
    """Return ``n`` rows of 6 uint8 grey levels, all ``fill``."""
    return torch.full((n, 6), fill, dtype=torch.uint8)


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
        ({"train": torch.zeros(4, 6, dtype=torch.float64)}, "float32 or uint8"),
        ({"train": torch.zeros(4, 6, dtype=torch.int64)}, "float32 or uint8"),
        ({"train": torch.zeros(4, 6, dtype=torch.uint8)}, "train is torch.uint8 but test is torch.float32"),
        ({"train": U8(4), "test": U8(2), "levels": None}, "levels between 2 and 256"),
        ({"train": U8(4), "test": U8(2), "levels": 300}, "levels between 2 and 256"),
        ({"train": U8(4), "test": U8(2), "value_range": "real"}, "cannot be 'real'"),
        ({"train": U8(4), "test": U8(2, fill=17), "levels": 17}, "grey level 17 found"),
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


def test_uint8_bundle_holds_grey_levels_and_converts_them() -> None:
    bundle = make(train=U8(4, fill=16), test=U8(2, fill=0), levels=17)
    assert bundle.train.dtype == torch.uint8 and "dtype=torch.uint8" in repr(bundle)
    assert torch.equal(bundle.as_float("train"), torch.ones(4, 6))
    assert torch.equal(bundle.as_float("test"), torch.zeros(2, 6))
    with pytest.raises(DataError, match="'train' or 'test'"):
        bundle.as_float("val")


def test_float_bundle_as_float_is_the_stored_tensor() -> None:
    bundle = make(train=torch.rand(4, 6))
    assert bundle.as_float("train") is bundle.train


def test_bundle_from_arrays_keeps_uint8_and_copies_read_only_arrays() -> None:
    pixels = np.frombuffer(bytes(range(12)), dtype=np.uint8).reshape(2, 6)  # read-only
    bundle = bundle_from_arrays("t", pixels, pixels[:1], shape=(6,), kind="image", value_range="unit", levels=256)
    assert bundle.train.dtype == torch.uint8 and bundle.train.tolist() == pixels.tolist()
    bundle.train[0, 0] = 99  # writable, and not the read-only buffer
    assert pixels[0, 0] == 0
