"""Validation carving, and the fixed binarisation and dequantisation of the data a run evaluates on."""

import numpy as np
import pytest
import torch

from vaekit.data import DataBundle
from vaekit.data.views import (
    EVAL_BINARIZE_SEED,
    binarize_fixed,
    dequantize_uniform,
    evaluation_batches,
    evaluation_view,
    make_splits,
)
from vaekit.runtime.errors import ConfigError

VAL_FRACTION = 0.2
SEED = 0


def grey_bundle(levels=17, n=40, d=16, dtype=torch.float32):
    """A labelled image bundle of random grey levels: uint8 levels, or float32 in [0, 1]
    computed as the readers did before they kept uint8 (float32 copy, / (levels - 1))."""
    g = torch.Generator().manual_seed(0)
    ints = torch.randint(0, levels, (n, d), generator=g)
    if dtype == torch.uint8:
        x = ints.to(torch.uint8)
    else:
        x = torch.from_numpy(ints.numpy().astype(np.float32) / np.float32(levels - 1))
    labels = torch.arange(n) % 3
    return DataBundle("grey", x[:30], x[30:], (1, 4, 4), "image", "unit", labels[:30], labels[30:], levels=levels), ints


def split(bundle, val_fraction=VAL_FRACTION, **modes):
    return make_splits(bundle, val_fraction=val_fraction, seed=SEED, **modes)


def old_views(bundle, binarize="none", dequantize="none"):
    """The evaluation data as the splits computed them before they kept uint8: float32 splits,
    val carved by the seeded permutation, then fixed seeded draws."""
    train, test = bundle.train, bundle.test
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(SEED))
    n_val = int(round(VAL_FRACTION * len(train)))
    val, train = train[perm[:n_val]], train[perm[n_val:]]
    seed = EVAL_BINARIZE_SEED
    if binarize != "none":
        test, val = binarize_fixed(test), binarize_fixed(val, seed + 1)
        train = binarize_fixed(train, seed + 2 if binarize == "static" else seed + 3)
    elif dequantize == "uniform":
        test = dequantize_uniform(test, bundle.levels, torch.Generator().manual_seed(seed))
        val = dequantize_uniform(val, bundle.levels, torch.Generator().manual_seed(seed + 1))
        train = dequantize_uniform(train, bundle.levels, torch.Generator().manual_seed(seed + 3))
    return {"train": train, "val": val, "test": test}


SETTINGS = [{}, {"binarize": "dynamic"}, {"binarize": "static"}, {"dequantize": "uniform"}]
IDS = ["plain", "dynamic", "static", "dequantize"]


def uint8_splits(modes):
    return split(grey_bundle(dtype=torch.uint8)[0], **modes)


def full_views(splits):
    """Yield (split, examples, labels) of each split's whole evaluation view."""
    for name in ("train", "val", "test"):
        yield (name, *evaluation_view(splits, name))


@pytest.mark.parametrize("modes", SETTINGS, ids=IDS)
def test_uint8_splits_give_the_evaluation_values_float_splits_gave(modes):
    float_bundle, _ = grey_bundle()
    splits = uint8_splits(modes)
    assert splits.val.dtype == splits.test.dtype == torch.uint8
    assert splits.train.dtype == (torch.float32 if modes.get("binarize") == "static" else torch.uint8)
    old = old_views(float_bundle, **modes)
    for name in ("train", "val", "test"):
        new, labels = evaluation_view(splits, name)
        assert new.dtype == torch.float32 and torch.equal(new, old[name]), name
        assert labels is not None


@pytest.mark.parametrize("modes", SETTINGS, ids=IDS)
def test_evaluation_batches_do_not_depend_on_the_batch_size(modes):
    # The loop validates batch by batch; the draws must be those of one whole-split draw.
    splits = uint8_splits(modes)
    for name, full, labels in full_views(splits):
        for batch_size in (1, 7, 1000):
            batches = list(evaluation_batches(splits, name, batch_size))
            assert all(len(x) <= batch_size for x, _ in batches)
            assert torch.equal(torch.cat([x for x, _ in batches]), full), (name, batch_size)
            assert torch.equal(torch.cat([y for _, y in batches]), labels)


@pytest.mark.parametrize("modes", SETTINGS, ids=IDS)
def test_a_limited_view_is_the_start_of_the_full_view(modes):
    splits = uint8_splits(modes)
    for name, full, labels in full_views(splits):
        first, first_labels = evaluation_view(splits, name, limit=5)
        assert torch.equal(first, full[:5]) and torch.equal(first_labels, labels[:5]), name


def test_dequantised_values_stay_in_the_bin_of_their_integer_level():
    bundle, ints = grey_bundle()
    y = dequantize_uniform(bundle.train, 17, torch.Generator().manual_seed(1))
    assert torch.equal(torch.floor(y * 17).long(), ints[:30])
    assert y.min() >= 0 and y.max() < 1
    assert y.dtype == torch.float32


def train_rows():
    """Rows of a 30-example training set that make_splits keeps for training, in its order."""
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(SEED))
    return perm[int(round(VAL_FRACTION * 30)) :]


def test_dequantised_evaluation_data_are_fixed_and_training_data_stay_integer():
    bundle, ints = grey_bundle(dtype=torch.uint8)
    first, second = split(bundle, dequantize="uniform"), split(bundle, dequantize="uniform")
    assert first.levels == 17
    for name in ("val", "test"):
        assert torch.equal(evaluation_view(first, name)[0], evaluation_view(second, name)[0])
    assert torch.equal(torch.floor(evaluation_view(first, "test")[0] * 17).long(), ints[30:])
    assert torch.equal(first.train, bundle.train[train_rows()])  # grey levels: the loop adds noise per batch
    train_view, labels = evaluation_view(first, "train")
    assert torch.equal(train_view, evaluation_view(second, "train")[0])
    assert not torch.equal(train_view, first.train / 16) and labels is not None


def test_binarised_evaluation_uses_one_fixed_draw_of_test_and_train():
    bundle, _ = grey_bundle(dtype=torch.uint8)
    splits = split(bundle, binarize="dynamic")
    assert torch.equal(evaluation_view(splits, "test")[0], binarize_fixed(bundle.as_float("test")))
    train_view, _ = evaluation_view(splits, "train")
    assert set(train_view.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(train_view, evaluation_view(split(bundle, binarize="dynamic"), "train")[0])


def test_a_run_without_validation_has_no_validation_view():
    splits = split(grey_bundle(dtype=torch.uint8)[0], val_fraction=0.0)
    assert splits.val is None and evaluation_view(splits, "val") == (None, None)
    assert list(evaluation_batches(splits, "val", 10)) == []
    assert len(splits.train) == 30


def test_dequantising_data_without_grey_levels_is_refused():
    bundle, _ = grey_bundle()
    bundle.levels = None
    with pytest.raises(ConfigError, match="grey levels"):
        split(bundle, dequantize="uniform")


def test_binarising_real_valued_data_and_unknown_modes_are_refused():
    bundle, _ = grey_bundle()
    with pytest.raises(ConfigError, match="binarize must be one of"):
        split(bundle, binarize="yes")
    bundle.value_range = "real"
    with pytest.raises(ConfigError, match="real-valued"):
        split(bundle, binarize="dynamic")
