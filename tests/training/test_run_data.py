"""The run config's view of its data: the splits it asks for, and the settings it refuses."""

import pytest
import torch

from vaekit.config import RunConfig, validate
from vaekit.data import DataBundle
from vaekit.data.views import evaluation_view
from vaekit.data.views import make_splits as split_bundle
from vaekit.runtime.errors import ConfigError
from vaekit.training.run_data import bind_to_data, load_bundle, make_splits


def config(**data):
    cfg = RunConfig()
    for key, value in data.items():
        setattr(cfg.data, key, value)
    cfg.data.val_fraction = 0.2
    return cfg


def test_the_run_splits_with_its_validation_fraction_seed_and_binarisation():
    x = torch.randint(0, 17, (30, 16), dtype=torch.uint8)
    bundle = DataBundle("grey", x[:20], x[20:], (1, 4, 4), "image", "unit", None, None, levels=17)
    cfg = config(binarize="dynamic")
    cfg.train.seed = 3
    splits = make_splits(cfg, bundle)
    plain = split_bundle(bundle, val_fraction=0.2, seed=3, binarize="dynamic")
    assert splits.binarize == "dynamic" and splits.dequantize == "none" and len(splits.val) == 4
    assert torch.equal(splits.val, plain.val)
    assert torch.equal(evaluation_view(splits, "test")[0], evaluation_view(plain, "test")[0])


def test_binding_records_the_data_as_the_model_sees_it():
    cfg = config(name="digits", binarize="static")
    bundle = load_bundle(cfg)
    bind_to_data(cfg, bundle)
    assert cfg.input_shape == [1, 8, 8] and cfg.value_range == "binary" and cfg.levels == 2
    assert cfg.num_classes == 10


@pytest.mark.parametrize(
    ("data", "model", "message"),
    [
        ({"dequantize": "gaussian"}, {}, "dequantize must be none or uniform"),
        ({"dequantize": "uniform", "binarize": "dynamic"}, {"likelihood": {"name": "gaussian"}}, "exclude each other"),
        ({"dequantize": "uniform"}, {}, "continuous likelihood"),
        ({"dequantize": "uniform"}, {"likelihood": {"name": "bernoulli"}}, "continuous likelihood"),
    ],
)
def test_invalid_dequantisation_settings_are_refused(data, model, message):
    cfg = config(**data)
    for key, value in model.items():
        setattr(cfg.model, key, value)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)
