import torch

from vaekit.fast.dense import activation_grad, activation_in_place, backward_reads_output_only
from vaekit.nets.layers import Tanh, tanh_in_place


def test_both_tanh_modules_are_dense_activations_with_an_in_place_forward_through_numpy():
    for module in (torch.nn.Tanh(), Tanh()):
        assert activation_in_place(module) is tanh_in_place
        assert backward_reads_output_only(module)
        h = torch.tanh(torch.linspace(-2, 2, 7))
        torch.testing.assert_close(activation_grad(module)(torch.ones(7), None, h), 1 - h * h)
