"""A piece with an option, added in a module of its own, trains without any other file changing."""

import importlib
import json
import sys
import textwrap

import pytest

import vaekit
from vaekit.distributions import LIKELIHOODS
from vaekit.runtime.errors import ConfigError

MODULE = '''
import torch

from vaekit.distributions.likelihoods import Likelihood, register_likelihood


@register_likelihood("scaled-gaussian")
class ScaledGaussian(Likelihood):
    """A Gaussian with a fixed standard deviation, its option."""

    exact_for = frozenset({"real"})

    def __init__(self, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.dim, self.scale = dim, float(scale)

    def log_prob(self, x, params):
        return torch.distributions.Normal(params, self.scale).log_prob(x).sum(-1)

    def mean(self, params):
        return params

    def sample(self, params):
        return params + self.scale * torch.randn_like(params)
'''


@pytest.fixture
def plugin(tmp_path):
    (tmp_path / "my_pieces.py").write_text(textwrap.dedent(MODULE))
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("my_pieces")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_pieces", None)
        LIKELIHOODS.pop("scaled-gaussian", None)


def _train(out, **likelihood):
    return vaekit.train(
        data="synthetic5", likelihood={"name": "scaled-gaussian", **likelihood}, encoder=[8], latent_dim=2,
        epochs=1, out=out, progress="quiet",
    )  # fmt: skip


def test_a_likelihood_with_an_option_in_its_own_module_trains_and_reloads_with_that_option(plugin, tmp_path):
    vae = _train(tmp_path / "run", scale=0.5)
    assert type(vae.model.likelihood).__name__ == "ScaledGaussian" and vae.model.likelihood.scale == 0.5
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["likelihood"]
    assert saved == {"name": "scaled-gaussian", "scale": 0.5}
    assert vaekit.load(tmp_path / "run").model.likelihood.scale == 0.5


def test_the_new_pieces_options_are_checked_by_its_own_constructor(plugin, tmp_path):
    with pytest.raises(ConfigError, match="takes no option 'sigma'; its options are: scale"):
        _train(tmp_path / "a", sigma=0.5)
    with pytest.raises(ConfigError, match="scale must be > 0"):
        _train(tmp_path / "b", scale=0.0)
