"""Fixed binarisation and uniform dequantisation of the data a run evaluates on."""

import pytest
import torch

from vaekit.config import RunConfig, validate
from vaekit.data import DataBundle
from vaekit.errors import ConfigError
from vaekit.training.splits import binarize_fixed, dequantize_uniform, evaluation_view, make_splits


def grey_bundle(levels=17, n=40, d=16):
    g = torch.Generator().manual_seed(0)
    ints = torch.randint(0, levels, (n, d), generator=g)
    x = (ints / (levels - 1)).float()
    labels = torch.arange(n) % 3
    return DataBundle("grey", x[:30], x[30:], (1, 4, 4), "image", "unit", labels[:30], labels[30:], levels=levels), ints


def config(**data):
    cfg = RunConfig()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    cfg.data.val_fraction = 0.2
    return cfg


def test_dequantised_values_stay_in_the_bin_of_their_integer_level():
    bundle, ints = grey_bundle()
    y = dequantize_uniform(bundle.train, 17, torch.Generator().manual_seed(1))
    assert torch.equal(torch.floor(y * 17).long(), ints[:30])
    assert y.min() >= 0 and y.max() < 1
    assert y.dtype == torch.float32


def test_dequantised_evaluation_data_are_fixed_and_training_data_stay_integer():
    bundle, ints = grey_bundle()
    cfg = config(dequantize="uniform")
    first, second = make_splits(cfg, bundle), make_splits(cfg, bundle)
    assert first.levels == 17
    assert torch.equal(first.test, second.test) and torch.equal(first.val, second.val)
    assert torch.equal(torch.floor(first.test * 17).long(), ints[30:])
    assert torch.equal(first.train * 16, torch.round(first.train * 16))  # the loop adds fresh noise per batch
    train_view, labels = evaluation_view(cfg, first, "train")
    assert torch.equal(train_view, evaluation_view(cfg, second, "train")[0])
    assert not torch.equal(train_view, first.train) and labels is not None


def test_binarised_evaluation_uses_one_fixed_draw_of_test_and_train():
    bundle, _ = grey_bundle()
    cfg = config(binarize="dynamic")
    splits = make_splits(cfg, bundle)
    assert torch.equal(splits.test, binarize_fixed(bundle.test))
    train_view, _ = evaluation_view(cfg, splits, "train")
    assert set(train_view.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(train_view, evaluation_view(cfg, make_splits(cfg, bundle), "train")[0])


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
