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
