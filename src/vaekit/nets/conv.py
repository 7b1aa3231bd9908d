"""Convolutional encoder and decoder for images of any size ``(C, H, W)``.

Each encoder stage is a 3x3 convolution with stride 2 and padding 1, which maps a side of n
pixels to ceil(n / 2): 28 -> 14 -> 7, 8 -> 4 -> 2, 32 -> 16 -> 8. The decoder retraces those
sizes exactly with transposed convolutions whose ``output_padding`` (0 for an odd target side,
1 for an even one) is derived per stage and per axis, so no resolution is hard-wired.
Both take and return flattened examples, like every other net.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vaekit.nets.layers import make_activation, make_normalization, with_condition
from vaekit.nets.mlp import MLP


def downsampled_sizes(side: int, stages: int) -> list[int]:
    """Return the side length before and after each of ``stages`` stride-2 stages."""
    sizes = [side]
    for _ in range(stages):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class ConvEncoder(nn.Module):
    """Conv stages (``channels``), then dense layers (``hidden``), then the ``mu``/``logvar``
    heads. Input ``[B, C*H*W]``; output ``(mu, logvar)``, each ``[B, latent_dim]``."""

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int],
        hidden: Sequence[int],
        latent_dim: int,
        activation: str = "relu",
        normalization: str = "none",
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        layers: list[nn.Module] = []
        width = c
        for ch in channels:
            layers += [
                nn.Conv2d(width, ch, kernel_size=3, stride=2, padding=1),
                *make_normalization(normalization, ch, conv=True),
                make_activation(activation),
            ]
            width = ch
        self.convs = nn.Sequential(*layers)
        features = width * downsampled_sizes(h, len(channels))[-1] * downsampled_sizes(w, len(channels))[-1]
        self.body = MLP(features + cond_dim, hidden, activation=activation, normalization=normalization)
        self.mu = nn.Linear(self.body.out_features, latent_dim)
        self.logvar = nn.Linear(self.body.out_features, latent_dim)

    @property
    def feature_dim(self) -> int:
        """Width of :meth:`features`' output, the input of the heads."""
        return self.body.out_features

    def features(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Return the last dense layer's output ``[B, feature_dim]``, the heads' input (the
        context of an IAF posterior, the start of a ladder VAE's upward path)."""
        features = self.convs(x.reshape(len(x), *self.image_shape)).flatten(1)
        return self.body(with_condition(features, cond))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.convs(x.reshape(len(x), *self.image_shape)).flatten(1)
        h = self.body(with_condition(features, cond))
        return self.mu(h), self.logvar(h)


class ConvDecoder(nn.Module):
    """Dense layers (``hidden``) to a small feature map, transposed conv stages mirroring the
    encoder's ``channels``, and a 3x3 conv giving ``params_per_pixel`` maps per image channel.

    Input ``[..., latent_dim]``; output ``[..., params_per_pixel * C*H*W]``, parameter-major
    (all C*H*W first parameters, then all second parameters...).
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        channels: Sequence[int],
        hidden: Sequence[int],
        params_per_pixel: int = 1,
        activation: str = "relu",
        normalization: str = "none",
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        self.params_per_pixel = params_per_pixel
        widths = list(reversed(channels))  # deepest stage first
        hs, ws = downsampled_sizes(h, len(widths)), downsampled_sizes(w, len(widths))
        self.start_shape = (widths[0], hs[-1], ws[-1])
        self.body = MLP(latent_dim + cond_dim, hidden, activation=activation, normalization=normalization)
        self.project = nn.Sequential(
            nn.Linear(self.body.out_features, widths[0] * hs[-1] * ws[-1]), make_activation(activation)
        )
        layers: list[nn.Module] = []
        for stage, out_ch in enumerate([*widths[1:], widths[-1]]):
            target_h, target_w = hs[-2 - stage], ws[-2 - stage]
            source_h, source_w = hs[-1 - stage], ws[-1 - stage]
            layers += [
                nn.ConvTranspose2d(
                    widths[stage],
                    out_ch,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=(target_h - 2 * source_h + 1, target_w - 2 * source_w + 1),
                ),
                *make_normalization(normalization, out_ch, conv=True),
                make_activation(activation),
            ]
        self.deconvs = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], params_per_pixel * c, kernel_size=3, padding=1)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.project(self.body(with_condition(z, cond)))
        maps = self.out(self.deconvs(h.reshape(-1, *self.start_shape)))
        return maps.reshape(*lead, -1)
