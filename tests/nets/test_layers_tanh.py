import numpy as np
import pytest
import torch

from vaekit.fast import dense
from vaekit.fast.dense import NUMPY_TANH_MAX_THREADS, activation_in_place, tanh_in_place


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tanh_in_place_overwrites_its_input_with_tanh_also_through_a_strided_view(dtype):
    x = torch.randn(40, 30, dtype=dtype, generator=torch.Generator().manual_seed(0)) * 4
    expected = torch.tanh(x.double())
    a = x.clone()
    assert tanh_in_place(a) is a
    torch.testing.assert_close(a.double(), expected, rtol=0, atol=4 * torch.finfo(dtype).eps)
    b = x.clone().t()  # column-major view
    tanh_in_place(b)
    torch.testing.assert_close(b.t().double(), expected, rtol=0, atol=4 * torch.finfo(dtype).eps)


def test_tanh_in_place_uses_numpy_on_few_threads_and_torch_where_autograd_or_many_threads_need_it(monkeypatch):
    calls = []
    real = np.tanh
    monkeypatch.setattr(dense.np, "tanh", lambda v, out: calls.append(v.shape) or real(v, out=out))
    tanh_in_place(torch.zeros(3, 2))
    assert calls == [(3, 2)]
    leaf = torch.randn(4, requires_grad=True)
    tracked = leaf * 1.0
    tanh_in_place(tracked).sum().backward()  # autograd sees the in-place tanh and its backward
    torch.testing.assert_close(leaf.grad, 1 - torch.tanh(leaf.detach()) ** 2)
    monkeypatch.setattr(dense.torch, "get_num_threads", lambda: NUMPY_TANH_MAX_THREADS + 1)
    tanh_in_place(torch.zeros(5))
    assert calls == [(3, 2)]


def test_the_in_place_forward_of_tanh_is_tanh_in_place():
    assert activation_in_place(torch.nn.Tanh()) is tanh_in_place
