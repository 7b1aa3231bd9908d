"""Hand-written forward and backward passes of dense layers, shared by the fused training steps.

A pass runs an MLP's :class:`~vaekit.fast.dense.DenseLayer` list keeping, per layer, what its
backward reads; the backward writes every Linear layer's ``.grad`` (reusing the buffers) and
returns the gradient at the input. :class:`GaussianNetPass` does the same for a
:class:`~vaekit.nets.mlp.GaussianEncoder` with both heads as one matmul.

The backward's matmuls run in the tensors' own dtype, the same math as autograd, or under
``--precision bf16-grad`` (:data:`GRAD_DTYPES`) on bfloat16 factors with float32 accumulation
(:func:`backward_mm`); forward passes always run in the model's dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaekit.fast.dense import (
    ActivationInPlace,
    DenseLayer,
    activation_in_place,
    backward_reads_output_only,
    encoder_heads,
    mlp_layers,
)
from vaekit.nets.layers import log_in_place, numpy_applies, numpy_ufunc
from vaekit.nets.mlp import GaussianEncoder
from vaekit.runtime.batch_shard import whole_batch

#: what a forward pass keeps per layer for its backward: (input, pre-activation, output)
Saved = list[tuple[torch.Tensor, ...]]

#: the dtype the backward's matmuls read, by ``train.precision`` (the precisions the fused step
#: runs; None: the tensors' own)
GRAD_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16-grad": torch.bfloat16}

#: the smallest matmul (2 x rows x inputs x outputs floating-point operations) that reads a
#: low-precision dtype: below it the conversions and oneDNN's per-call costs outweigh the
#: faster arithmetic, so smaller layers' matmuls stay in the tensors' own dtype
LOW_PRECISION_MIN_FLOPS = 10_000_000

#: how many row counts the backward of the draws run under ``train.min_backward_weight`` takes
#: (:func:`kept_draws` pads to a whole number of 1/this of all draws): oneDNN compiles and
#: caches a bfloat16 matmul kernel per shape, and a shape per count of kept draws would grow
#: its cache by hundreds of megabytes and keep it compiling
KEPT_ROW_SHAPES = 32


def layer_grad_dtype(dtype: torch.dtype | None, rows: int, weight: torch.Tensor) -> torch.dtype | None:
    """Return the dtype a layer's two backward matmuls read (the weight's gradient and the
    input's, each 2 x ``rows`` x ``weight.numel()`` operations): ``dtype`` for a layer of at
    least :data:`LOW_PRECISION_MIN_FLOPS`, else None (the tensors' own)."""
    return dtype if dtype is not None and 2 * rows * weight.numel() >= LOW_PRECISION_MIN_FLOPS else None


def backward_mm(
    a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None, out: torch.Tensor | None = None, alpha: float = 1.0
) -> torch.Tensor:
    """Return ``alpha * a @ b``, written into ``out`` when it is given.

    ``dtype`` None is one BLAS call in the factors' dtype. ``dtype`` bfloat16 rounds both
    factors to bfloat16 (a factor already in it is used as it is), multiplies them with float32
    accumulation and rounds the product to bfloat16 before widening it to ``out``'s dtype (else
    ``b``'s, the layer weight's): every entry within about 2^-8 of its size, at the bfloat16
    matmul rate of CPUs with AVX512-BF16 or AMX (and of GPUs). The fused step uses it for
    gradients only, which feed nothing but the optimizer."""
    if dtype is None:
        if alpha == 1.0:
            return torch.mm(a, b) if out is None else torch.mm(a, b, out=out)
        if out is None:
            out = a.new_empty(a.shape[0], b.shape[1])
        return torch.addmm(out, a, b, beta=0, alpha=alpha, out=out)
    product = torch.mm(a.to(dtype), b.to(dtype))
    out = product.to(b.dtype) if out is None else out.copy_(product)
    return out if alpha == 1.0 else out.mul_(alpha)


def forward_layers(
    layers: list[DenseLayer], in_place_forwards: list[ActivationInPlace | None], h: torch.Tensor
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
    """Run dense layers; return the output and, per layer, (input, pre-activation, output).

    Where ``in_place_forwards`` has a layer's in-place activation (ReLU and Tanh: their
    backward reads only the output, which then also stands for the pre-activation), it
    runs in place: one allocation fewer per layer."""
    saved = []
    for layer, in_place in zip(layers, in_place_forwards, strict=True):
        a = torch.addmm(layer.linear.bias, h, layer.linear.weight.t())
        if layer.activation is None:
            out = a
        elif in_place is not None:
            out = a = in_place(a)
        else:
            out = layer.activation(a)
        saved.append((h, a, out))
        h = out
    return h, saved

def backward_layers(
    layers: list[DenseLayer],
    saved: list[tuple[torch.Tensor, ...]],
    grad: torch.Tensor,
    need_input_grad: bool,
    grad_scale: float = 1.0,
    dtype: torch.dtype | None = None,
) -> torch.Tensor | None:
    """Write the layers' parameter gradients given ``grad_scale * grad`` = d loss / d output;
    return d loss / d input (with the scale applied) when ``need_input_grad``. The matmuls
    read ``dtype`` where a layer is large enough (:func:`layer_grad_dtype`, :func:`backward_mm`).

    The scale rides on the first layer's matmuls (BLAS's alpha) and its bias sum, so the
    caller saves a pass over ``grad``: every activation's backward is linear in ``grad``."""
    for i in range(len(layers) - 1, -1, -1):
        layer, (h_in, a, out) = layers[i], saved[i]
        if layer.activation_grad is not None:
            grad = layer.activation_grad(grad, a, out)
        weight = layer.linear.weight
        matmul_dtype = layer_grad_dtype(dtype, grad.shape[0], weight)
        # Both matmuls read the same factor: rounded once.
        factor = grad if matmul_dtype is None else grad.to(matmul_dtype)
        write_linear_grads(layer.linear, grad, h_in, grad_scale, dtype=matmul_dtype, grad_factor=factor)
        if i > 0 or need_input_grad:
            grad = backward_mm(factor, weight, matmul_dtype, alpha=grad_scale)
        grad_scale = 1.0
    return grad if need_input_grad else None


def roulette_uniforms(like: torch.Tensor, seed: int, step: int) -> torch.Tensor:
    """Return uniform draws in [0, 1) shaped, typed and placed as ``like``, for the roulette of
    optimizer step ``step`` of a run seeded ``seed``: from a generator of their own seeded by
    both, so the option leaves the run's stream of noise as it was, and a resumed run draws the
    same. A ``[k, B]`` ``like`` in a distributed step (:func:`~vaekit.runtime.batch_shard.whole_batch`)
    gets the columns of its rows from one draw for the whole batch, as one process would draw."""
    share = whole_batch(tuple(like.shape), 1) if like.dim() == 2 else None
    if share is not None:
        full, rows = share
        return roulette_uniforms(like.new_empty(full), seed, step)[:, rows]
    generator = torch.Generator(device=like.device)
    # torch's CPU generator keeps 32 bits of a seed: mix both numbers into them (SplitMix64).
    z = (seed * 2**32 + step + 0x9E3779B97F4A7C15) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    generator.manual_seed(z ^ (z >> 31))
    return torch.rand(like.shape, dtype=like.dtype, device=like.device, generator=generator)


def kept_draws(
    coefficients: torch.Tensor, batch: int, min_weight: float, seed: int = 0, step: int = 0
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Return which draws the backward runs over and their weights in the loss: ``(rows, c)``,
    ``rows`` the flat row indices (into ``[k * B]``, draw-major, ascending; None: every draw)
    and ``c`` ``[n]`` their coefficients. ``coefficients`` ``[k, B]`` are the normalised
    importance weights over the batch size ``batch``, as the IWAE loss gives each draw.

    A draw whose normalised weight w is at least ``min_weight`` (W) keeps its coefficient; a
    lighter one plays Russian roulette: it runs with probability w / W (a uniform draw per draw,
    :func:`roulette_uniforms` of ``seed`` and ``step``) and then weighs W, else it weighs 0, so
    every draw's expected coefficient is its own and the gradient stays unbiased. The rows run
    are padded to a whole number of 1/:data:`KEPT_ROW_SHAPES` of all draws with rows of
    coefficient 0 (the heaviest of those left out), which add nothing to the gradient."""
    flat = coefficients.reshape(-1)
    if min_weight <= 0:
        return None, flat
    floor = min_weight / batch
    light = flat < floor
    wins = roulette_uniforms(coefficients, seed, step).reshape(-1).mul_(floor) < flat
    c = torch.where(light, wins.to(flat.dtype).mul_(floor), flat)
    run = ~light | wins
    count = int(run.sum())
    granule = -(-flat.numel() // KEPT_ROW_SHAPES)
    count = -(-count // granule) * granule
    if count >= flat.numel():
        return None, c
    # The rows that run first, then the heaviest of the others as padding.
    rows = torch.topk(torch.where(run, math.inf, flat), count, sorted=False).indices.sort().values
    return rows, c.index_select(0, rows)


def sum_draws(per_draw: torch.Tensor, k: int, batch: int, kept: torch.Tensor | None) -> torch.Tensor:
    """Return ``per_draw`` summed over each example's draws, ``[B, ...]``: its rows are all
    ``k * B`` draws (draw-major) when ``kept`` is None, else the draws at those flat indices."""
    if kept is None:
        return per_draw.reshape(k, batch, *per_draw.shape[1:]).sum(0)
    total = per_draw.new_zeros(batch, *per_draw.shape[1:])
    return total.index_add_(0, kept.remainder(batch), per_draw)


def rows_of_saved(layers: list[DenseLayer], saved: Saved, rows: torch.Tensor) -> Saved:
    """Return ``saved`` (a forward pass's per-layer (input, pre-activation, output)) at the row
    indices ``rows`` only, for a backward over those rows: what the backward reads is gathered
    once (a layer's output is the next one's input), what it does not (a linear layer's
    pre-activation and output) is None."""
    gathered: dict[int, torch.Tensor] = {}

    def take(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in gathered:
            gathered[id(t)] = t.index_select(0, rows)
        return gathered[id(t)]

    kept: Saved = []
    for layer, (h_in, a, out) in zip(layers, saved, strict=True):
        if layer.activation_grad is None:
            kept.append((take(h_in), None, None))  # type: ignore[arg-type]
        else:
            kept.append((take(h_in), take(a), take(out)))
    return kept


def in_place_forwards(layers: list[DenseLayer]) -> list[ActivationInPlace | None]:
    """Return, per layer, the in-place forward of its activation where the backward reads only
    the output, else None."""
    return [
        activation_in_place(d.activation) if d.activation is not None and backward_reads_output_only(d.activation) else None
        for d in layers
    ]


def bernoulli_recon_and_residual(logits: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return log p(x|z) of each row ``[B]`` (nats) and the residual ``x - sigmoid(logits)``
    ``[B, D]``, which is -d log p(x|z) / d logits.

    On CPU both come from one ``e = exp(logits)``: ``residual = x - e / (1 + e)`` (one
    ``addcdiv``) and ``log p = -sum(log(1 + e) - x * logits)`` (``log_`` and ``addcmul_`` in
    place), vectorised passes where ATen's BCE-with-logits (its ``log_sigmoid`` is not
    vectorised on CPU) is slower. ``log(1 + e)`` rounds away ``e`` below 6e-8 per pixel in
    float32, the order of the sums' own rounding. The exp and the log are NumPy's where
    :func:`~vaekit.nets.layers.numpy_applies` (as the passes' tanh is). Where ``exp`` overflows (a
    logit above ~88) the exact kernels are used; on other devices too, since the check would
    cost a synchronisation per step.
    """
    if logits.device.type == "cpu":
        if numpy_applies(logits):  # exp into a new tensor: the logits are read again below
            e = numpy_ufunc(np.exp, logits, torch.empty_like(logits))
        else:
            e = torch.exp(logits)
        one_plus_e = e + 1.0
        residual = torch.addcdiv(x, e, one_plus_e, value=-1.0, out=e)
        recon = log_in_place(one_plus_e).addcmul_(x, logits, value=-1.0).sum(-1).neg_()
        if bool(torch.isfinite(recon).all()):
            return recon, residual
    recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return recon, torch.sub(x, torch.sigmoid(logits))


def write_linear_grads(
    linear: nn.Linear,
    grad_out: torch.Tensor,
    inputs: torch.Tensor,
    scale: float = 1.0,
    dtype: torch.dtype | None = None,
    grad_factor: torch.Tensor | None = None,
) -> None:
    """Set ``linear``'s weight and bias gradients for d loss / d output ``scale * grad_out``
    ``[B, out]`` and the layer's ``inputs`` ``[B, in]``, reusing the ``.grad`` buffers when they
    exist. The weight's matmul reads ``dtype`` (:func:`backward_mm`), and ``grad_factor`` (``grad_out``
    already in ``dtype``) when the caller has it; the bias sums ``grad_out`` in its own dtype."""
    weight, bias = linear.weight, linear.bias
    if weight.grad is None:
        weight.grad = torch.empty_like(weight)
    if bias.grad is None:
        bias.grad = torch.empty_like(bias)
    # The buffer's old contents are ignored (NaN included), as torch.mm would.
    factor = grad_out if grad_factor is None else grad_factor
    backward_mm(factor.t(), inputs, dtype, out=weight.grad, alpha=scale)
    torch.sum(grad_out, 0, out=bias.grad)
    if scale != 1.0:
        bias.grad.mul_(scale)


class GaussianNetPass:
    """Passes through a :class:`GaussianEncoder` (dense hidden layers, then the ``mu`` and
    ``logvar`` heads) giving ``heads`` ``[N, 2L]``: ``mu`` then ``logvar``, as one matmul.
    :func:`~vaekit.fast.dense.mlp_layers` must accept the net."""

    def __init__(self, net: GaussianEncoder, grad_dtype: torch.dtype | None = None) -> None:
        layers = mlp_layers(net)
        if isinstance(layers, str):
            raise ValueError(f"the fused step cannot read this net: {layers}")
        self.layers: list[DenseLayer] = layers
        self.in_place = in_place_forwards(layers)
        self.mu, self.logvar = encoder_heads(net)
        self.latent = self.mu.out_features
        self.grad_dtype = grad_dtype

    def parameters(self) -> list[nn.Parameter]:
        """Return every parameter the passes write a gradient for."""
        linears = [d.linear for d in self.layers] + [self.mu, self.logvar]
        return [p for linear in linears for p in linear.parameters()]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Saved, torch.Tensor]:
        """Return ``heads`` ``[N, 2L]`` of ``x`` ``[N, D]``, with what the backward reads: the
        hidden layers' saved tensors and the features ``h`` the heads read."""
        h, saved = forward_layers(self.layers, self.in_place, x)
        weight = torch.cat([self.mu.weight, self.logvar.weight])
        heads = torch.addmm(torch.cat([self.mu.bias, self.logvar.bias]), h, weight.t())
        return heads, saved, h

    def backward(self, grad_heads: torch.Tensor, saved: Saved, h: torch.Tensor, need_input_grad: bool) -> torch.Tensor | None:
        """Write the net's parameter gradients given d loss / d heads ``[N, 2L]``; return d loss /
        d input when ``need_input_grad``."""
        latent = self.latent
        weight = torch.cat([self.mu.weight, self.logvar.weight])
        dtype = layer_grad_dtype(self.grad_dtype, grad_heads.shape[0], weight)
        factor, features = (grad_heads, h) if dtype is None else (grad_heads.to(dtype), h.to(dtype))
        write_linear_grads(self.mu, grad_heads[:, :latent], features, dtype=dtype, grad_factor=factor[:, :latent])
        write_linear_grads(self.logvar, grad_heads[:, latent:], features, dtype=dtype, grad_factor=factor[:, latent:])
        grad_h = backward_mm(factor, weight, dtype)
        if not self.layers:
            return grad_h if need_input_grad else None
        return backward_layers(self.layers, saved, grad_h, need_input_grad, dtype=self.grad_dtype)
