"""The K-sample NLL's inner loop written out for the most common VAE: an MLP decoder, the N(0, I)
prior, the Bernoulli likelihood, on binary data.

The generic chunk (:func:`vaekit.evaluation.iwae.chunk_log_weights`) calls the model's decoder,
the likelihood's ``log_prob`` (whose ``softplus`` is not vectorised on CPU) and the prior's and
posterior's densities, allocating every intermediate. This chunk computes the same log weights
with the decoder's own matmuls and a few passes over one reused buffer:

- for binary ``x`` with ``s = 1 - 2x``, ``log p(x|z) = x.l - softplus(l) = -sum_d log(1 +
  exp(s_d l_d))``; the last layer's bias and the sign are applied in one pass (``addcmul``), then
  ``exp``, ``+ 1``, ``log`` and the row sum run in place;
- ``z - mu = std * eps``, so ``log p(z) - log q(z|x) = (|eps|^2 - |z|^2 + sum logvar) / 2``.

``log(1 + e)`` instead of ``log1p(e)`` drops terms below float rounding of 1 (``e`` < 6e-8 for
float32): each pixel's term is exact to ~6e-8 nats, the same order as the rounding of the sums.
Where ``exp`` overflows (a pixel predicted with probability below ~e^-88 in float32) the chunk is
recomputed by the generic path, so the result is always finite where the generic one is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vaekit.distributions import StandardNormalPrior
from vaekit.distributions.likelihoods.bernoulli import BernoulliLikelihood
from vaekit.fast.dense import DenseLayer, activation_in_place, mlp_layers
from vaekit.fast.families import ONE_LAYER_FAMILIES, family_unsupported
from vaekit.models.vae import VAE
from vaekit.nets.layers import exp_in_place, log_in_place


def fused_chunk_unsupported(model: nn.Module) -> str | None:
    """Return why :class:`FusedBernoulliChunk` cannot evaluate ``model``, or None when it can:
    a built-in :class:`~vaekit.models.vae.VAE` class by exact type (any encoder; a subclass may
    override ``encode``/``decode``, which the chunk would leave out) with an MLP decoder of
    Linear layers and plain activations ending in a Linear layer, the N(0, I) prior, the Bernoulli likelihood,
    no condition, and float32 or float64 parameters on the CPU."""
    reason = family_unsupported(model, ONE_LAYER_FAMILIES)
    if reason is not None:
        return reason
    if getattr(model, "conditional", False):
        return f"model {type(model).__name__} takes a condition"
    if not getattr(model, "variational", True):
        return f"model {type(model).__name__} has no posterior to sample"
    if getattr(model, "own_log_weights", False):
        # An IAF posterior or a hierarchy: its weights are not those of N(mu, sigma) and N(0, I).
        return f"model {type(model).__name__} computes its own importance weights (a flow or latent layers)"
    if type(model.prior) is not StandardNormalPrior:
        return f"prior {type(model.prior).__name__}"
    if type(model.likelihood) is not BernoulliLikelihood:
        return f"likelihood {type(model.likelihood).__name__}"
    layers = mlp_layers(model.decoder)
    if isinstance(layers, str):
        return f"decoder: {layers}"
    if layers[-1].activation is not None:
        return "a decoder whose last layer has an activation"
    weight = layers[-1].linear.weight
    if weight.device.type != "cpu":
        # Its overflow check reads each chunk's result back: on an accelerator, a stall per chunk.
        return f"a model on {weight.device.type} (the fused chunk runs on CPU)"
    dtype = weight.dtype
    if dtype not in (torch.float32, torch.float64):
        # log(1 + e) rounds away e below the format's epsilon: 2^-8 in bfloat16 is not honest.
        return f"parameters in {dtype} (the fused chunk is float32 or float64)"
    return None


def is_binary(x: torch.Tensor) -> bool:
    """Return whether every value of ``x`` is exactly 0 or 1."""
    return bool(((x == 0) | (x == 1)).all())


class FusedBernoulliChunk:
    """Log importance weights ``log p(x, z_k) - log q(z_k|x)`` of one chunk of draws for a model
    :func:`fused_chunk_unsupported` accepts, with the buffers of the last chunk shape reused.

    Call it with binary ``x`` ``[B, D]``, the posterior's ``mu``, ``logvar``, ``std`` ``[B, L]``
    and standard normal draws ``eps`` ``[size, B, L]``; it returns ``[size, B]`` in the model's
    dtype, nats, equal to :func:`~vaekit.evaluation.iwae.chunk_log_weights` to float rounding.
    ``fallback`` (that function) computes the chunks whose ``exp`` overflows.
    """

    def __init__(self, model: VAE, fallback: Callable[..., torch.Tensor]) -> None:
        reason = fused_chunk_unsupported(model)
        if reason is not None:
            raise ValueError(f"the fused NLL chunk cannot evaluate this model: {reason}")
        self.model, self.fallback = model, fallback
        self.layers: list[DenseLayer] = mlp_layers(model.decoder)  # type: ignore[assignment]
        self.in_place = [activation_in_place(d.activation) if d.activation is not None else None for d in self.layers]
        self._buffers: dict[int, torch.Tensor] = {}
        self._signs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @staticmethod
    def covers(x: torch.Tensor) -> bool:
        """Return whether the chunk can evaluate the examples ``x``: binary data only (grey
        levels have no single-``exp`` form of ``x.l - softplus(l)``)."""
        return is_binary(x)

    def _signs_of(self, x: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``s = 1 - 2x`` and ``s * b`` (b: the last layer's bias) for the batch ``x``,
        computed once per batch rather than once per chunk."""
        if self._signs is None or self._signs[0] is not x or self._signs[1].dtype != dtype:
            sign = 1.0 - 2.0 * x.to(dtype)
            self._signs = (x, sign, sign * self.layers[-1].linear.bias)
        return self._signs[1], self._signs[2]

    def _buffer(self, index: int, rows: int, like: torch.Tensor) -> torch.Tensor:
        """Return the reused output buffer of layer ``index`` for ``rows`` rows (a fresh
        multi-MiB tensor per chunk would page-fault on every chunk)."""
        width = self.layers[index].linear.out_features
        buffer = self._buffers.get(index)
        if buffer is None or buffer.shape != (rows, width) or buffer.dtype != like.dtype or buffer.device != like.device:
            buffer = self._buffers[index] = torch.empty((rows, width), dtype=like.dtype, device=like.device)
        return buffer

    @torch.inference_mode()
    def __call__(
        self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, std: torch.Tensor, eps: torch.Tensor
    ) -> torch.Tensor:
        size, batch, latent = eps.shape
        z = torch.addcmul(mu, std, eps)
        h = z.reshape(size * batch, latent)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers[:last]):
            out = torch.addmm(layer.linear.bias, h, layer.linear.weight.t(), out=self._buffer(i, len(h), h))
            h = self.in_place[i](out) if self.in_place[i] is not None else out
        linear = self.layers[last].linear
        logits = torch.mm(h, linear.weight.t(), out=self._buffer(last, len(h), h)).view(size, batch, -1)
        sign, signed_bias = self._signs_of(x, logits.dtype)
        # s * (h W^T + b) in one pass, then log(1 + exp(.)) summed: -log p(x|z) per draw.
        signed = torch.addcmul(signed_bias, logits, sign, out=logits)
        neg_log_px = log_in_place(exp_in_place(signed).add_(1.0)).sum(-1)
        if not bool(torch.isfinite(neg_log_px).all()):
            return self.fallback(self.model, x, mu, logvar, std, eps)
        prior_minus_posterior = 0.5 * ((eps * eps).sum(-1) - (z * z).sum(-1) + logvar.sum(-1))
        return prior_minus_posterior - neg_log_px
