"""Inverse autoregressive flow (Kingma et al. 2016, arXiv:1606.04934): MADE-style masked layers
and the flow steps that turn a Gaussian posterior draw into a more flexible one.

Each step computes ``[m, s] = AR(z, h)``, an autoregressive net of the current draw ``z`` (output
``d`` sees only the inputs before ``d`` in the step's order) and of a context ``h`` (the encoder's
features, seen by every unit), then the numerically stable LSTM-type update of the paper's
equations (13)-(14)::

    sigma = sigmoid(s),   z <- sigma * z + (1 - sigma) * m,   log|det dz'/dz| = sum_d log sigma_d

The Jacobian of one step is triangular in its order, with diagonal ``sigma``, so the log
determinant is exact. Successive steps reverse the order (the paper's alternation), so every
dimension can depend on every other after two steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["IAF", "IAFStep", "AutoregressiveNet", "MaskedLinear"]

#: added to ``s`` so that a fresh step starts near the identity: sigmoid(1) = 0.73 keeps most of
#: the draw (the paper initialises s "sufficiently positive, close to +1 or +2")
FORGET_BIAS = 1.0


class MaskedLinear(nn.Linear):
    """A dense layer whose weight is multiplied by a fixed 0/1 ``mask`` ``[out, in]`` (a
    non-persistent buffer: it is rebuilt from the sizes, never stored in checkpoints)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.device, self.weight.dtype), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def _hidden_degrees(width: int, latent_dim: int) -> torch.Tensor:
    """Degrees 0..L-1 cycled over a hidden layer (MADE): a unit of degree k sees inputs 1..k.
    Units of degree 0 see the context alone: they carry it to the first output, which sees no
    input (MADE without a context has no use for them)."""
    return torch.arange(width, device="cpu") % latent_dim


class AutoregressiveNet(nn.Module):
    """MADE (Germain et al. 2015) with a context: ``(z [..., L], h [..., C]) -> (m, s)``, each
    ``[..., L]``, where output ``d`` depends on ``z`` only through the inputs that come before
    ``d`` in ``order`` (a permutation of 1..L: ``order[i]`` is input ``i``'s place) and on all
    of ``h``. ELU between the masked layers, as in Kingma et al.'s experiments."""

    def __init__(self, latent_dim: int, context_dim: int, hidden: Sequence[int], order: torch.Tensor) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("an autoregressive net needs at least one hidden layer")
        self.latent_dim = latent_dim
        degrees = order
        layers = []
        for width in hidden:
            out_degrees = _hidden_degrees(width, latent_dim)
            # A hidden unit of degree k sees inputs (or units) of degree <= k.
            layers.append(MaskedLinear(len(degrees), width, (out_degrees[:, None] >= degrees[None, :]).float()))
            degrees = out_degrees
        self.hidden = nn.ModuleList(layers)
        # Output d sees hidden units of degree < order[d]: strictly earlier inputs only.
        out_mask = (order[:, None] > degrees[None, :]).float()
        self.out = MaskedLinear(len(degrees), 2 * latent_dim, torch.cat([out_mask, out_mask]))
        self.context = nn.Linear(context_dim, hidden[0]) if context_dim else None

    def forward(self, z: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.hidden[0](z)
        if self.context is not None and context is not None:
            a = a + self.context(context)  # [B, H] broadcasts over leading sample dimensions of z
        a = F.elu(a)
        for layer in self.hidden[1:]:
            a = F.elu(layer(a))
        m, s = self.out(a).chunk(2, dim=-1)
        return m, s + FORGET_BIAS


class IAFStep(nn.Module):
    """One IAF step: ``z -> sigma * z + (1 - sigma) * m`` with ``(m, s) = AR(z, h)``,
    ``sigma = sigmoid(s)``; returns the new ``z`` and ``log sigma`` (per dimension, nats)."""

    def __init__(self, latent_dim: int, context_dim: int, hidden: Sequence[int], reverse: bool) -> None:
        super().__init__()
        # The masks are made on the CPU, whatever device the model is built on: on the meta device
        # their arithmetic would import torch's compiler stack, and give no values to mask with.
        order = torch.arange(latent_dim, 0, -1, device="cpu") if reverse else torch.arange(1, latent_dim + 1, device="cpu")
        self.net = AutoregressiveNet(latent_dim, context_dim, hidden, order)

    def forward(self, z: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        m, s = self.net(z, context)
        sigma = torch.sigmoid(s)
        return sigma * z + (1 - sigma) * m, F.logsigmoid(s)


class IAF(nn.Module):
    """``steps`` IAF steps of alternating order over ``latent_dim`` dimensions, each with
    autoregressive hidden layers of widths ``hidden`` and the context ``context_dim`` wide.

    ``forward(z0, h)`` returns ``(z_T, log_det)`` with ``log_det`` ``[..., L]`` the sum over steps
    of ``log sigma`` per dimension (nats): log q(z_T|x) = log q(z_0|x) - log_det.sum(-1).
    """

    def __init__(self, latent_dim: int, context_dim: int, steps: int, hidden: Sequence[int]) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"an IAF needs at least one step, got {steps}")
        self.latent_dim = latent_dim
        self.steps = nn.ModuleList(IAFStep(latent_dim, context_dim, hidden, reverse=t % 2 == 1) for t in range(steps))

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = torch.zeros_like(z)
        for step in self.steps:
            z, log_sigma = step(z, context)
            log_det = log_det + log_sigma
        return z, log_det

    def code(
        self, mu: torch.Tensor, logvar: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the flow's image of the base mean, ``f(mu)``, and ``logvar + 2 log_det``
        there, each ``[..., L]``: a diagonal Gaussian summary of q(z|x) (the base spread scaled
        by each dimension's share of the log-determinant) for codes, reconstructions and plots.
        The bounds use the exact flow."""
        z, log_det = self(mu, context)
        return z, logvar + 2 * log_det
