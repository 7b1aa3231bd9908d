"""Multi-layer perceptrons: the dense encoder and decoder of the founding diagram."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vaekit.nets.layers import ACTIVATIONS, make_activation, make_normalization, with_condition

__all__ = ["ACTIVATIONS", "MLP", "GaussianEncoder", "MLPDecoder", "make_activation"]


class MLP(nn.Module):
    """Dense layers ``in_features -> hidden[0] -> ... -> hidden[-1]``, each followed by the
    normalisation (``"none"``, ``"batch"`` or ``"layer"``) and the activation. With
    ``out_features`` set, a final linear layer without activation is added.

    Input ``[..., in_features]`` (leading dimensions are flattened for the layers and restored);
    output ``[..., hidden[-1]]`` (or ``[..., out_features]``).
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int | None = None,
        activation: str = "relu",
        normalization: str = "none",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), *make_normalization(normalization, h), make_activation(activation)]
            width = h
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BatchNorm1d wants [N, F]: fold sample dimensions into the batch.
        lead = x.shape[:-1]
        return self.layers(x.reshape(-1, x.shape[-1])).reshape(*lead, self.out_features)


class GaussianEncoder(nn.Module):
    """Encoder of the founding diagram: an MLP body, then two linear heads giving the
    posterior mean ``mu`` and log-variance ``logvar`` of q(z|x), each ``[B, latent_dim]``.

    ``sigma`` is kept as log-variance so that any real output is a valid scale. With
    ``cond_dim > 0`` a condition vector ``[B, cond_dim]`` is appended to the input.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        latent_dim: int,
        activation: str = "relu",
        normalization: str = "none",
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.body = MLP(in_features + cond_dim, hidden, activation=activation, normalization=normalization)
        self.mu = nn.Linear(self.body.out_features, latent_dim)
        self.logvar = nn.Linear(self.body.out_features, latent_dim)

    @property
    def hidden_layers(self) -> nn.Sequential:
        """The body's modules in order (Linear, normalisation, activation, ...), which the heads
        ``mu`` and ``logvar`` follow: the public way to read the encoder's layers."""
        return self.body.layers

    @property
    def feature_dim(self) -> int:
        """Width of :meth:`features`' output, the input of the heads."""
        return self.body.out_features

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Return the last hidden layer's output ``[..., feature_dim]``, from which the heads
        read ``mu`` and ``logvar``: the context an IAF posterior and a ladder VAE's upward path
        take (``forward`` is ``self.mu(h), self.logvar(h)`` of it)."""
        return self.body(with_condition(x, cond))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(with_condition(x, cond))
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    """Decoder mirroring the encoder: ``latent_dim (+ cond_dim) -> hidden... -> out_features``
    where ``out_features`` is the number of likelihood parameters (e.g. D logits)."""

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        normalization: str = "none",
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.net = MLP(
            latent_dim + cond_dim, hidden, out_features=out_features, activation=activation, normalization=normalization
        )

    @property
    def layers(self) -> nn.Sequential:
        """The decoder's modules in order, ending in the output Linear layer: the public way to
        read its layers."""
        return self.net.layers

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(with_condition(z, cond))
