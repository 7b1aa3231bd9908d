"""Linear and spherical interpolation of latent codes."""

import numpy as np
import pytest

from vaekit.runtime.errors import ConfigError
from vaekit.viz.interpolation import default_pair, lerp, slerp


def test_lerp_and_slerp_hit_both_ends():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    for f in (lerp, slerp):
        path = f(a, b, np.linspace(0, 1, 5))
        assert path.shape == (5, 3)
        assert np.allclose(path[0], a, atol=1e-6) and np.allclose(path[-1], b, atol=1e-6)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    mid_s, mid_l = slerp(a, b, np.array([0.5]))[0], lerp(a, b, np.array([0.5]))[0]
    assert np.linalg.norm(mid_s) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(mid_l) == pytest.approx(np.sqrt(0.5), abs=1e-6)
    assert np.allclose(mid_s, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)


def test_slerp_of_parallel_or_zero_codes_is_linear():
    t = np.linspace(0, 1, 4)
    a = np.array([1.0, 1.0])
    assert np.allclose(slerp(a, 3 * a, t), lerp(a, 3 * a, t))
    assert np.allclose(slerp(np.zeros(2), a, t), lerp(np.zeros(2), a, t))


def test_default_pair_prefers_another_label():
    assert default_pair(np.array([3, 3, 5, 1]), 4) == (0, 2)
    assert default_pair(None, 4) == (0, 1)
    assert default_pair(np.array([2, 2]), 2) == (0, 1)
    with pytest.raises(ConfigError):
        default_pair(None, 1)


def test_lerp_and_slerp_take_the_obvious_calls():
    import torch

    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    # one number t: one code [L]
    assert np.allclose(lerp(a, b, 0.5), [0.5, 1.0, 0.0])
    mid = slerp(a, b, 0.5)
    assert mid.shape == (3,) and mid.dtype == np.float32
    assert np.linalg.norm(mid) == pytest.approx(1.5, abs=1e-6)
    # lists and tensors (what vae.encode returns), and a plain list of t
    assert np.allclose(slerp(torch.tensor(a), torch.tensor(b), [0.0, 1.0]), [a, b], atol=1e-6)
    assert np.allclose(lerp([1.0, 2.0], [3.0, 4.0], [0.0, 0.5, 1.0]), [[1, 2], [2, 3], [3, 4]])
    assert lerp(torch.zeros(4, requires_grad=True), torch.ones(4), 0.25).shape == (4,)


def test_lerp_and_slerp_refuse_what_they_cannot_mean():
    a, b = np.zeros(3), np.ones(3)
    with pytest.raises(ConfigError, match=r"t must lie in \[0, 1\].*np.linspace\(0, 1, n\)"):
        slerp(a, b, 10)  # 10 points is np.linspace(0, 1, 10)
    with pytest.raises(ConfigError, match="same shape"):
        lerp(a, np.ones(4), 0.5)
    with pytest.raises(ConfigError, match="shape \\[L\\]"):
        slerp(np.ones((2, 3)), np.ones((2, 3)), 0.5)
