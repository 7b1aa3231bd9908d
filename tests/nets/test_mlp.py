import pytest
import torch

from vaekit.nets import MLP, GaussianEncoder, MLPDecoder


def test_seed_network_shapes_and_gradient_flow():
    torch.manual_seed(0)
    encoder = GaussianEncoder(5, [4, 3], latent_dim=3)
    decoder = MLPDecoder(3, [3, 4], out_features=5)
    x = torch.randn(7, 5)
    mu, logvar = encoder(x)
    assert mu.shape == logvar.shape == (7, 3)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    out = decoder(z)
    assert out.shape == (7, 5)
    out.pow(2).sum().backward()
    for name, p in [*encoder.named_parameters(), *decoder.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_mlp_layer_widths_follow_the_hidden_list():
    net = MLP(10, [8, 6], out_features=2, activation="tanh")
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 8), (8, 6), (6, 2)]
    assert any(isinstance(m, torch.nn.Tanh) for m in net.modules())


def test_unknown_activation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        MLP(3, [2], activation="swishy")
