"""Multi-layer perceptrons: the dense encoder body and decoder of the founding diagram."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (one of ``ACTIVATIONS``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


class MLP(nn.Module):
    """Dense layers ``in_features -> hidden[0] -> ... -> hidden[-1]``, each followed by the
    activation. With ``out_features`` set, a final linear layer without activation is added.

    Input ``[B, in_features]``; output ``[B, hidden[-1]]`` (or ``[B, out_features]``).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), make_activation(activation)]
            width = h
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GaussianEncoder(nn.Module):
    """Encoder of the founding diagram: an MLP body, then two linear heads giving the
    posterior mean ``mu`` and log-variance ``logvar`` of q(z|x), each ``[B, latent_dim]``.

    ``sigma`` is kept as log-variance so that any real output is a valid scale.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], latent_dim: int, activation: str = "relu") -> None:
        super().__init__()
        self.body = MLP(in_features, hidden, activation=activation)
        self.mu = nn.Linear(self.body.out_features, latent_dim)
        self.logvar = nn.Linear(self.body.out_features, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    """Decoder mirroring the encoder: ``latent_dim -> hidden... -> out_features`` where
    ``out_features`` is the number of likelihood parameters (e.g. D logits)."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], out_features: int, activation: str = "relu") -> None:
        super().__init__()
        self.net = MLP(latent_dim, hidden, out_features=out_features, activation=activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
