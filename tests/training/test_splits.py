"""Validation carving, and the fixed binarisation and dequantisation of the data a run evaluates on."""

import numpy as np
import pytest
import torch

from vaekit.config import RunConfig, validate
from vaekit.data import DataBundle
from vaekit.runtime.errors import ConfigError
from vaekit.training.splits import (
    EVAL_BINARIZE_SEED,
    binarize_fixed,
    dequantize_uniform,
    evaluation_batches,
    evaluation_view,
    make_splits,
)


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


def config(**data):
    cfg = RunConfig()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    cfg.data.val_fraction = 0.2
    return cfg


def old_views(cfg, bundle):
    """The evaluation data as make_splits/evaluation_view computed them before the splits kept
    uint8: float32 splits, val carved by the seeded permutation, then fixed seeded draws."""
    train, test = bundle.train, bundle.test
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.train.seed))
    n_val = int(round(cfg.data.val_fraction * len(train)))
    val, train = train[perm[:n_val]], train[perm[n_val:]]
    seed = EVAL_BINARIZE_SEED
    if cfg.data.binarize != "none":
        test, val = binarize_fixed(test), binarize_fixed(val, seed + 1)
        train = binarize_fixed(train, seed + 2 if cfg.data.binarize == "static" else seed + 3)
    elif cfg.data.dequantize == "uniform":
        test = dequantize_uniform(test, bundle.levels, torch.Generator().manual_seed(seed))
        val = dequantize_uniform(val, bundle.levels, torch.Generator().manual_seed(seed + 1))
        train = dequantize_uniform(train, bundle.levels, torch.Generator().manual_seed(seed + 3))
    return {"train": train, "val": val, "test": test}


SETTINGS = [{}, {"binarize": "dynamic"}, {"binarize": "static"}, {"dequantize": "uniform"}]


def uint8_config_and_splits(data):
    cfg = config(**data)
    return cfg, make_splits(cfg, grey_bundle(dtype=torch.uint8)[0])


def full_views(cfg, splits):
    """Yield (split, examples, labels) of each split's whole evaluation view."""
    for split in ("train", "val", "test"):
        yield (split, *evaluation_view(cfg, splits, split))


@pytest.mark.parametrize("data", SETTINGS, ids=["plain", "dynamic", "static", "dequantize"])
def test_uint8_splits_give_the_evaluation_values_float_splits_gave(data):
    cfg = config(**data)
    float_bundle, _ = grey_bundle()
    uint8_bundle, _ = grey_bundle(dtype=torch.uint8)
    splits = make_splits(cfg, uint8_bundle)
    assert splits.val.dtype == splits.test.dtype == torch.uint8
    assert splits.train.dtype == (torch.float32 if data.get("binarize") == "static" else torch.uint8)
    old = old_views(cfg, float_bundle)
    for split in ("train", "val", "test"):
        new, labels = evaluation_view(cfg, splits, split)
        assert new.dtype == torch.float32 and torch.equal(new, old[split]), split
        assert labels is not None


@pytest.mark.parametrize("data", SETTINGS, ids=["plain", "dynamic", "static", "dequantize"])
def test_evaluation_batches_do_not_depend_on_the_batch_size(data):
    # The loop validates batch by batch; the draws must be those of one whole-split draw.
    cfg, splits = uint8_config_and_splits(data)
    for split, full, labels in full_views(cfg, splits):
        for batch_size in (1, 7, 1000):
            batches = list(evaluation_batches(cfg, splits, split, batch_size))
            assert all(len(x) <= batch_size for x, _ in batches)
            assert torch.equal(torch.cat([x for x, _ in batches]), full), (split, batch_size)
            assert torch.equal(torch.cat([y for _, y in batches]), labels)


@pytest.mark.parametrize("data", SETTINGS, ids=["plain", "dynamic", "static", "dequantize"])
def test_a_limited_view_is_the_start_of_the_full_view(data):
    cfg, splits = uint8_config_and_splits(data)
    for split, full, labels in full_views(cfg, splits):
        first, first_labels = evaluation_view(cfg, splits, split, limit=5)
        assert torch.equal(first, full[:5]) and torch.equal(first_labels, labels[:5]), split


def test_dequantised_values_stay_in_the_bin_of_their_integer_level():
    bundle, ints = grey_bundle()
    y = dequantize_uniform(bundle.train, 17, torch.Generator().manual_seed(1))
    assert torch.equal(torch.floor(y * 17).long(), ints[:30])
    assert y.min() >= 0 and y.max() < 1
    assert y.dtype == torch.float32


def test_dequantised_evaluation_data_are_fixed_and_training_data_stay_integer():
    bundle, ints = grey_bundle(dtype=torch.uint8)
    cfg = config(dequantize="uniform")
    first, second = make_splits(cfg, bundle), make_splits(cfg, bundle)
    assert first.levels == 17
    for split in ("val", "test"):
        assert torch.equal(evaluation_view(cfg, first, split)[0], evaluation_view(cfg, second, split)[0])
    assert torch.equal(torch.floor(evaluation_view(cfg, first, "test")[0] * 17).long(), ints[30:])
    assert torch.equal(first.train, bundle.train[train_rows(cfg)])  # grey levels: the loop adds noise per batch
    train_view, labels = evaluation_view(cfg, first, "train")
    assert torch.equal(train_view, evaluation_view(cfg, second, "train")[0])
    assert not torch.equal(train_view, first.train / 16) and labels is not None


def train_rows(cfg):
    """Rows of a 30-example training set that make_splits keeps for training, in its order."""
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(cfg.train.seed))
    return perm[int(round(cfg.data.val_fraction * 30)) :]


def test_binarised_evaluation_uses_one_fixed_draw_of_test_and_train():
    bundle, _ = grey_bundle(dtype=torch.uint8)
    cfg = config(binarize="dynamic")
    splits = make_splits(cfg, bundle)
    assert torch.equal(evaluation_view(cfg, splits, "test")[0], binarize_fixed(bundle.as_float("test")))
    train_view, _ = evaluation_view(cfg, splits, "train")
    assert set(train_view.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(train_view, evaluation_view(cfg, make_splits(cfg, bundle), "train")[0])


def test_a_run_without_validation_has_no_validation_view():
    cfg = config()
    cfg.data.val_fraction = 0.0
    splits = make_splits(cfg, grey_bundle(dtype=torch.uint8)[0])
    assert splits.val is None and evaluation_view(cfg, splits, "val") == (None, None)
    assert list(evaluation_batches(cfg, splits, "val", 10)) == []
    assert len(splits.train) == 30


def test_dequantising_data_without_grey_levels_is_refused():
    bundle, _ = grey_bundle()
    bundle.levels = None
    with pytest.raises(ConfigError, match="grey levels"):
        make_splits(config(dequantize="uniform"), bundle)


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        ({"dequantize": "gaussian"}, {}, "dequantize must be none or uniform"),
        ({"dequantize": "uniform", "binarize": "dynamic"}, {"likelihood": "gaussian"}, "exclude each other"),
        ({"dequantize": "uniform"}, {}, "continuous likelihood"),
        ({"dequantize": "uniform"}, {"likelihood": "bernoulli"}, "continuous likelihood"),
    ],
)
def test_invalid_dequantisation_settings_are_refused(data, model, message):
    cfg = config(**data)
    for key, value in model.items():
        setattr(cfg.model, key, value)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)
