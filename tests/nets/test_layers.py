import numpy as np
import pytest
import torch

from vaekit.nets import layers
from vaekit.nets.layers import NUMPY_MAX_THREADS, Tanh, exp_in_place, log_in_place, tanh_in_place


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
    monkeypatch.setattr(layers.np, "tanh", lambda v, out: calls.append(v.shape) or real(v, out=out))
    tanh_in_place(torch.zeros(3, 2))
    assert calls == [(3, 2)]
    leaf = torch.randn(4, requires_grad=True)
    tracked = leaf * 1.0
    tanh_in_place(tracked).sum().backward()  # autograd sees the in-place tanh and its backward
    torch.testing.assert_close(leaf.grad, 1 - torch.tanh(leaf.detach()) ** 2)
    monkeypatch.setattr(layers.torch, "get_num_threads", lambda: NUMPY_MAX_THREADS + 1)
    tanh_in_place(torch.zeros(5))
    assert calls == [(3, 2)]


def test_tanh_module_outside_autograd_gives_torch_tanh_values_in_a_new_tensor():
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(1)) * 3
    kept = x.clone()
    for context in (torch.no_grad(), torch.inference_mode()):
        with context:
            y = Tanh()(x.t())
        torch.testing.assert_close(y, torch.tanh(kept.t()), rtol=0, atol=2e-7)
        assert torch.equal(x, kept)  # the input is left alone


def test_tanh_module_under_autograd_is_torch_tanh_with_its_gradient(monkeypatch):
    monkeypatch.setattr(layers.np, "tanh", lambda *a, **k: pytest.fail("NumPy's tanh under autograd"))
    x = torch.randn(4, 3, requires_grad=True)
    Tanh()(x).sum().backward()
    torch.testing.assert_close(x.grad, 1 - torch.tanh(x.detach()) ** 2)


def test_nets_built_with_tanh_use_the_module_whose_state_dict_is_that_of_any_activation():
    from vaekit.nets.mlp import GaussianEncoder

    torch.manual_seed(0)
    tanh_net = GaussianEncoder(8, [6], 2, "tanh")
    torch.manual_seed(0)
    relu_net = GaussianEncoder(8, [6], 2, "relu")
    assert any(type(m) is Tanh for m in tanh_net.modules())
    relu_net.load_state_dict(tanh_net.state_dict())  # strict: the same keys, no activation state


def test_tanh_of_a_negated_view_which_has_no_numpy_array_is_torch_tanh():
    x = torch._neg_view(torch.linspace(-2, 2, 5))
    assert x.is_neg()
    torch.testing.assert_close(Tanh()(x), torch.tanh(x.clone()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exp_and_log_in_place_match_torch_and_overflow_silently_to_inf_as_torch_does(dtype, recwarn):
    x = torch.randn(50, 40, dtype=dtype, generator=torch.Generator().manual_seed(2)) * 5
    eps = torch.finfo(dtype).eps
    e = x.clone()
    assert exp_in_place(e) is e
    torch.testing.assert_close(e, torch.exp(x), rtol=4 * eps, atol=0)
    positive = x.abs() + 0.5
    logs = positive.clone().t()  # a strided view
    log_in_place(logs)
    torch.testing.assert_close(logs.t(), torch.log(positive), rtol=0, atol=4 * eps)
    big = torch.tensor([1000.0, -1000.0], dtype=dtype)
    assert exp_in_place(big).tolist() == [float("inf"), 0.0]
    assert not recwarn.list  # NumPy's overflow warning is not the user's business
