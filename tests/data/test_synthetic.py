"""synthetic5: shape, determinism, and that it really is the documented 2-D manifold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data import synthetic5
from vaekit.data.synthetic import NOISE_STD
from vaekit.runtime.errors import DataError


def test_shape_and_metadata() -> None:
    bundle = synthetic5()
    assert bundle.name == "synthetic5"
    assert bundle.train.shape == (1600, 5) and bundle.test.shape == (400, 5)
    assert bundle.shape == (5,) and bundle.kind == "table"
    assert bundle.value_range == "real" and bundle.levels is None
    assert bundle.train.dtype == torch.float32 and bundle.num_classes is None


def test_deterministic_given_seed() -> None:
    a, b, c = synthetic5(n=100, seed=4), synthetic5(n=100, seed=4), synthetic5(n=100, seed=5)
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert not torch.equal(a.train, c.train)


def test_features_follow_the_latent_map() -> None:
    x = torch.cat([synthetic5(n=4000).train, synthetic5(n=4000).test]).double().numpy()
    u1, u2 = x[:, 0], x[:, 1]
    # Features 2..4 are functions of the noisy first two plus fresh noise: residuals stay small.
    for column, expected in ((2, u1 * u2), (3, np.sin(u1)), (4, u2**2 - 1)):
        assert np.corrcoef(x[:, column], expected)[0, 1] > 0.9
    assert abs(x[:, 0].std() - np.sqrt(1 + NOISE_STD**2)) < 0.05


def test_n_and_test_fraction() -> None:
    bundle = synthetic5(n=50, test_fraction=0.1)
    assert bundle.train.shape[0] == 45 and bundle.test.shape[0] == 5


@pytest.mark.parametrize("n", [0, 1, -5, 2.5, True])
def test_bad_n(n) -> None:
    with pytest.raises(DataError, match="at least 2"):
        synthetic5(n=n)
