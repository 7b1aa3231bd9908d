"""The per-column mixed likelihood p(x|z) of a table: one distribution per block of slots.

A table row is encoded (by the data layer's table codec) as ``x`` of width ``dim``: value slots
first, then mask slots (1 = the block's value is present and scored, 0 = missing). Each block
scores its value slots under one family and is multiplied by its mask slot, so a missing cell
contributes exactly 0 nats whatever its value slots hold. A block is a dict::

    {"column": "bill_length_mm", "kind": "gaussian",    "slot": 3, "mask": 20}
    {"column": "species",        "kind": "categorical", "slot": 0, "size": 3, "mask": 18}
    {"column": "female",         "kind": "bernoulli",   "slot": 5, "mask": 19}
    {"column": "mdvis",          "kind": "negbin",      "slot": 6, "mask": 21, "shift": a, "scale": b}
    {"column": "mdvis",          "kind": "poisson",     "slot": 6, "mask": 21, "shift": a, "scale": b}

Decoder outputs are laid out in block order: a categorical block takes ``size`` outputs
(logits), every other block one (gaussian: the mean in slot units; bernoulli: the logit;
negbin/poisson: the log of the mean count). Gaussian blocks have a learned log sigma each
(``log_sigma``), negbin blocks a learned log dispersion each (``log_dispersion``). A count slot
holds ``(log1p(n) - shift) / scale``; the likelihood scores the count ``n`` itself (counting
measure), so ``log_prob`` is a normalised density/mass over the slot values: Lebesgue on
gaussian slots, counting on the rest.

How ``log_prob`` runs (it is most of a table VAE's training step on the CPU, where every small
op costs microseconds of overhead and every new tensor a trip through memory): one gather of
x's value slots, one of their mask slots and one of the decoder outputs bring every block's
inputs into one row, "the layout", each kind a contiguous range of it; each kind is then
scored by a few whole-range ops (a categorical block's sums over its slots, logsumexp's among
them, are one matmul with a 0/1 matrix). The backward pass is written out (`_BlockTerms`):
each term's derivatives are computed with it, and the gradient is their product with the
incoming one, gathered back into the decoder's output order, rather than ~60 small ops
recorded by autograd. Only first derivatives are supported.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood
from vaekit.distributions.likelihoods.bernoulli import smoothed_logit
from vaekit.distributions.posterior import LOG_2PI

#: block kinds and the fields each needs besides ``kind``, ``slot`` and ``mask``
BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "gaussian": (),
    "categorical": ("size",),
    "bernoulli": (),
    "negbin": ("shift", "scale"),
    "poisson": ("shift", "scale"),
}
#: learned log sigma of gaussian blocks is clamped to this range, as gaussian.py's per-example
#: sigma is: a constant column cannot drive the density to infinity, and the clamped value still
#: defines a normalised density
LOG_SIGMA_RANGE = (-7.0, 7.0)
#: learned log dispersion r of negbin blocks: r in [1e-3, 1.1e3] spans heavy over-dispersion to
#: nearly Poisson, and keeps lgamma(n + r) - lgamma(r) accurate in float32
LOG_DISPERSION_RANGE = (-7.0, 7.0)
#: the decoder's log mean count is clamped to this range (mean counts up to ~1e13) so that the
#: mean and draws stay finite; log_prob uses the same clamp, so it scores the distribution sampled
LOG_MEAN_RANGE = (-30.0, 30.0)
#: the order in which the groups of blocks of one kind are computed (categoricals: by size)
_SCALAR_KINDS = ("gaussian", "bernoulli", "negbin", "poisson")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _check_blocks(dim: object, blocks: object) -> list[dict[str, Any]]:
    """Return ``blocks`` as plain dicts (ints as ``int``, shift/scale as ``float``) after checking
    them against ``dim``; raise ``ValueError`` naming the first bad block and what is wrong."""
    if not _is_int(dim) or dim < 1:
        raise ValueError(f"mixed likelihood: dim must be a positive integer (the table's encoded width), got {dim!r}")
    if isinstance(blocks, (str, bytes, Mapping)) or not isinstance(blocks, Sequence) or not blocks:
        raise ValueError(f"mixed likelihood needs a non-empty list of block dicts (the codec's blocks), got {blocks!r}")
    checked: list[dict[str, Any]] = []
    owner: dict[int, int] = {}  # value slot -> index of the block scoring it
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            raise ValueError(f"mixed likelihood: block {i} must be a dict, got {block!r}")
        what = f"mixed likelihood: block {i} (column {block.get('column', '?')!r})"
        kind = block.get("kind")
        if kind not in BLOCK_FIELDS:
            raise ValueError(f"{what} has unknown kind {kind!r}; kinds are: {', '.join(BLOCK_FIELDS)}")
        missing = [f for f in ("slot", "mask", *BLOCK_FIELDS[kind]) if f not in block]
        if missing:
            raise ValueError(f"{what}, a {kind} block, lacks the field(s) {', '.join(missing)}")
        out = dict(block)
        for field in ("slot", "mask", "size"):
            if field in out and (field != "size" or kind == "categorical"):
                value = out[field]
                if not _is_int(value) or value < (1 if field == "size" else 0):
                    low = "a positive" if field == "size" else "a non-negative"
                    raise ValueError(f"{what}: {field} must be {low} integer, got {value!r}")
                out[field] = int(value)
        for field in ("shift", "scale"):
            if field in BLOCK_FIELDS[kind]:
                value = out[field]
                if not _is_real(value) or (field == "scale" and not value > 0):
                    need = "a finite number > 0" if field == "scale" else "a finite number"
                    raise ValueError(f"{what}: {field} must be {need}, got {value!r}")
                out[field] = float(value)
        width = out["size"] if kind == "categorical" else 1
        if out["slot"] + width > dim:
            raise ValueError(f"{what}: value slots {out['slot']}..{out['slot'] + width - 1} lie beyond the {dim} slots")
        for s in range(out["slot"], out["slot"] + width):
            if s in owner:
                raise ValueError(f"{what}: value slot {s} is also scored by block {owner[s]}; blocks may not overlap")
            owner[s] = i
        checked.append(out)
    value_width = max(owner) + 1
    for i, block in enumerate(checked):
        if not value_width <= block["mask"] < dim:
            raise ValueError(
                f"mixed likelihood: block {i} (column {block.get('column', '?')!r}): mask slot {block['mask']} is "
                f"not in the mask area {value_width}..{dim - 1} (after every value slot, within the {dim} slots)"
            )
    return checked


def _width(block: Mapping[str, Any]) -> int:
    """Return the number of value slots (and of decoder outputs) of a checked block."""
    return block["size"] if block["kind"] == "categorical" else 1


def _take(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Return ``tensor[..., index]``. A tensor of more than 2 dims is folded to 2-D first:
    selecting along dim 1 of the fold is ~8x faster on the CPU than ``index_select`` along the
    last of 3 dims (K-sample parameters)."""
    if tensor.dim() == 2:
        return tensor.index_select(1, index)
    return tensor.reshape(-1, tensor.shape[-1]).index_select(1, index).view(*tensor.shape[:-1], index.numel())


def _put(tensor: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Return a copy of ``tensor`` with ``values`` in ``tensor[..., index]`` (folded to 2-D as in
    :func:`_take`)."""
    flat = values.reshape(-1, values.shape[-1])
    return tensor.reshape(-1, tensor.shape[-1]).index_copy(1, index, flat).view(tensor.shape)


class _Score(NamedTuple):
    """One kind's unmasked log probabilities, nats, ``[..., B, count]``, and their derivatives
    (None where not asked for, or zero): by each of the kind's decoder outputs and value slots
    (``[..., B, width]``), and by its learned per-block parameter (``[..., B, count]``, taken
    inside its clamp, with ``inside`` ``[count]`` True where the clamp passes the gradient)."""

    term: torch.Tensor
    output: torch.Tensor | None = None
    value: torch.Tensor | None = None
    parameter: torch.Tensor | None = None
    inside: torch.Tensor | None = None


class _BlockTerms(torch.autograd.Function):
    """The unmasked log probability of every block, nats, ``[..., B, n_blocks]`` in computation
    order, from the decoder outputs ``params`` ``[..., B, num_params]`` and the observed value
    slots ``values`` ``[..., B, width]`` in the layout (see ``MixedLikelihood._score``).

    The backward pass multiplies the incoming gradient of each block's term by the term's
    derivatives, saved by the forward pass, and gathers the products back into the decoder's
    output order: a handful of ops, where autograd would record and replay the ~60 small ops
    of the forward pass (twice the forward pass's time on the CPU)."""

    @staticmethod
    def forward(ctx, lik, params, values, log_sigma, log_dispersion, grad_enabled):
        wants = ctx.needs_input_grad  # (lik, params, values, log_sigma, log_dispersion, grad_enabled)
        slopes = grad_enabled and any(wants)
        outputs = _take(params, lik._value_outputs)
        terms, d_output, d_value, parameters = lik._score(values, outputs, slopes, wants[2])
        if slopes:
            ctx.lik, ctx.shapes = lik, (params.shape, values.shape)
            gaussian, negbin = parameters.get("gaussian", (None, None)), parameters.get("negbin", (None, None))
            ctx.save_for_backward(d_output, d_value, *gaussian, *negbin)
        return terms

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        lik, (params_shape, values_shape) = ctx.lik, ctx.shapes
        d_output, d_value, d_gaussian, inside_gaussian, d_negbin, inside_negbin = ctx.saved_tensors
        wants = ctx.needs_input_grad
        grads: list[torch.Tensor | None] = [None] * 6
        per_position = _take(grad, lik._value_blocks)  # each layout position: its block's gradient
        if wants[2]:
            grads[2] = torch.mul(per_position, d_value).sum_to_size(values_shape)
        if wants[1]:
            per_output = _take(per_position.mul_(d_output), lik._output_positions)
            grads[1] = per_output.sum_to_size(params_shape)
        if wants[3]:
            grads[3] = lik._parameter_grad(grad, d_gaussian, inside_gaussian, "gaussian", lik.log_sigma)
        if wants[4]:
            grads[4] = lik._parameter_grad(grad, d_negbin, inside_negbin, "negbin", lik.log_dispersion)
        return tuple(grads)


def _inside(raw: torch.Tensor, clamped: torch.Tensor) -> torch.Tensor:
    """Return True where ``clamp()`` left ``raw`` as it was: it passes the gradient there, both
    ends of its range included."""
    return torch.eq(raw, clamped)


def _as(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Return ``tensor`` in ``dtype``: itself when it is already (even a no-op ``to()`` costs a
    few microseconds, and log_prob would make a dozen)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def _cpu_eager(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is computed by eager CPU kernels. There bool tensors run ~10x slower
    than float ones and reading a number back costs nothing, so log_prob takes float-only paths
    checked by one sum, with an exact fallback; elsewhere (CUDA, torch.compile) it takes the
    exact paths, which read nothing back."""
    return tensor.device.type == "cpu" and not _is_compiling()


#: torch.compiler.is_compiling (torch >= 2.3; before it, eager is assumed)
_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


def _autocast_enabled(device_type: str) -> bool:
    """Return whether autocast is on for ``device_type`` ("cpu", "cuda", ...)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


@register_likelihood("mixed")
class MixedLikelihood(Likelihood):
    """Independent per-block distributions over the slots of an encoded table row.

    ``dim`` is the codec's width (value and mask slots), ``blocks`` the codec's blocks (see the
    module docstring); a bad block raises ``ValueError`` naming it. ``num_params`` is the number
    of decoder outputs (the nets size their last layer by it); ``params_per_dim`` stays 1 and is
    unused. ``output_offsets[i]`` is the first decoder output of block ``i``, ``mask_slots`` the
    sorted mask slots, ``value_width`` one past the last value slot.

    Exact for "table" data: ``log_prob`` is a normalised density/mass over the slot values
    (Lebesgue for gaussian slots, counting for the rest); add the codec's log Jacobian for nats
    in the data's own units.
    """

    exact_for = frozenset({"table"})
    # Columns on scales as far apart as counts and shares: a decoder that starts from each
    # column's own distribution need not spend its first steps learning them.
    marginals_by_default = True

    def __init__(self, dim: int, blocks: Sequence[Mapping[str, Any]], initial_sigma: float = 1.0) -> None:
        super().__init__()
        if not initial_sigma > 0:
            raise ValueError(
                f"initial_sigma must be > 0 (a standard deviation in standardised units), got {initial_sigma}"
            )
        self.blocks = _check_blocks(dim, blocks)
        self.dim = int(dim)
        widths = [_width(b) for b in self.blocks]
        self.output_offsets = [sum(widths[:i]) for i in range(len(widths))]
        self.num_params = sum(widths)
        self.value_width = max(b["slot"] + w for b, w in zip(self.blocks, widths, strict=True))
        self.mask_slots = sorted({b["mask"] for b in self.blocks})

        # Blocks are scored grouped by kind, not one column at a time. In "computation order"
        # the scalar kinds come in _SCALAR_KINDS order, then the categoricals grouped by size
        # (`_block_order` restores the block order for log_prob_blocks). log_prob's "layout"
        # puts the value slots of the categoricals first, then those of the scalar kinds
        # (`_value_slots`, their decoder outputs `_value_outputs`), each kind a contiguous
        # range (`_widths`). The indices are buffers built here once and never saved: the
        # blocks (in the run's config) rebuild them.
        members = {k: [i for i, b in enumerate(self.blocks) if b["kind"] == k] for k in _SCALAR_KINDS}
        self._counts = {k: len(v) for k, v in members.items()}
        for kind in _SCALAR_KINDS:
            self._index(f"{kind}_out", [self.output_offsets[i] for i in members[kind]])
        for kind in ("negbin", "poisson"):
            for field in ("shift", "scale"):
                # float64, cast where used: a float32 shift would move large decoded counts of a
                # float64 model off their integers.
                values = [self.blocks[i][field] for i in members[kind]]
                self.register_buffer(f"_{kind}_{field}", torch.tensor(values, dtype=torch.float64), persistent=False)
        #: size of the blocks of each categorical group (blocks of one size), in computation
        #: order; mean() and sample() take group g's logits (`_categorical{g}_out`) as one
        #: contiguous [..., count, size] (softmax over a strided slice runs far slower on the CPU)
        self._categorical_sizes: list[int] = []
        categorical: list[int] = []
        for size in sorted({b["size"] for b in self.blocks if b["kind"] == "categorical"}):
            group = [i for i, b in enumerate(self.blocks) if b["kind"] == "categorical" and b["size"] == size]
            outs = [o for i in group for o in range(self.output_offsets[i], self.output_offsets[i] + size)]
            self._index(f"categorical{len(self._categorical_sizes)}_out", outs)
            self._categorical_sizes.append(size)
            categorical += group
        scalar = [i for kind in _SCALAR_KINDS for i in members[kind]]
        order = scalar + categorical  # computation order
        position = {block: at for at, block in enumerate(order)}
        self._index("block_order", [position[i] for i in range(len(order))])
        self._index("mask_slots", self.mask_slots)

        laid_out = categorical + scalar  # the blocks in the layout's order
        spans = {i: range(self.blocks[i]["slot"], self.blocks[i]["slot"] + _width(self.blocks[i])) for i in laid_out}
        owner = [i for i in laid_out for _ in spans[i]]  # the block of each layout position
        self._index("value_slots", [s for i in laid_out for s in spans[i]])
        self._index("value_blocks", [position[i] for i in owner])  # in computation order
        outputs = [self.output_offsets[i] + k for i in laid_out for k in range(len(spans[i]))]
        self._index("value_outputs", outputs)
        self._index("output_positions", sorted(range(len(outputs)), key=outputs.__getitem__))  # the inverse
        # The mask slot of each layout position (to zero the value slots of missing cells), then
        # of each categorical block: the tail from the first scalar position on is then the mask
        # of every block in computation order.
        self._index("value_gates", [self.blocks[i]["mask"] for i in owner + categorical])
        #: the width of each kind in the layout, in the layout's order
        self._widths = {"categorical": sum(len(spans[i]) for i in categorical)}
        #: [start, stop) of each scalar kind's blocks in computation order
        self._block_ranges: dict[str, tuple[int, int]] = {}
        for kind in _SCALAR_KINDS:
            self._widths[kind] = len(members[kind])
            first = position[members[kind][0]] if members[kind] else 0
            self._block_ranges[kind] = (first, first + len(members[kind]))

        # A categorical block's sum over its slots is a matmul with this 0/1 [slot, block]
        # matrix: a reduction over each block's 2-20 slots (as logsumexp over [..., count,
        # size] makes) runs ~10x slower on the CPU than the whole matmul.
        slot_block = [position[i] - len(scalar) for i in owner[: self._widths["categorical"]]]
        self._index("categorical_blocks", slot_block)  # the block of each categorical slot
        # Built from Python lists: a tensor op here would, on the meta device (the memory check),
        # load torch's reference kernels, a second of import.
        sizes = [float(_width(self.blocks[i])) for i in categorical]
        membership = [[float(b == j) for j in range(len(categorical))] for b in slot_block]
        mean = [[v / sizes[j] for j, v in enumerate(row)] for row in membership]
        shape = (len(slot_block), len(categorical))
        self.register_buffer("_categorical_sum", torch.tensor(membership).reshape(shape), persistent=False)
        self.register_buffer("_categorical_mean", torch.tensor(mean).reshape(shape), persistent=False)
        # Each categorical block's layout positions, padded to the largest size by repeating
        # its first: [..., count, largest] gives each block's largest logit.
        largest = max(self._categorical_sizes, default=0)
        self._index(
            "categorical_padded",
            [owner.index(i) + (k if k < _width(self.blocks[i]) else 0) for i in categorical for k in range(largest)],
        )

        # sigma 1 suits the standardised values gaussian slots hold; dispersion 1 (a geometric
        # distribution of counts) is a broad start. A kind with no block has no parameter.
        n_gaussian, n_negbin = self._counts["gaussian"], self._counts["negbin"]
        log_sigma = torch.full((n_gaussian,), math.log(initial_sigma))
        self.register_parameter("log_sigma", nn.Parameter(log_sigma) if n_gaussian else None)
        self.register_parameter("log_dispersion", nn.Parameter(torch.zeros(n_negbin)) if n_negbin else None)

    @torch.no_grad()
    def start_from_marginals(self, x: torch.Tensor) -> torch.Tensor:
        """Fit each block alone to the rows ``x`` ``[N, dim]`` (its observed cells): set the
        gaussian blocks' sigma to the slot's standard deviation and the negbin blocks'
        dispersion by the method of moments, and return the decoder output bias ``[num_params]``
        (float32) whose outputs are those marginals (the mean, the log-frequencies, the logit of
        the share of ones, the log mean count). A decoder starting from it starts from the
        columns' own distributions, so the first steps need not learn them."""
        x = x.detach().to("cpu", torch.float64)
        bias = torch.zeros(self.num_params, dtype=torch.float64)
        log_sigma = self.log_sigma.detach().clone() if self.log_sigma is not None else None
        log_dispersion = self.log_dispersion.detach().clone() if self.log_dispersion is not None else None
        seen_kind = {"gaussian": 0, "negbin": 0}
        for block, offset in zip(self.blocks, self.output_offsets, strict=True):
            kind, slot = block["kind"], block["slot"]
            position = seen_kind.get(kind, 0)
            if kind in seen_kind:
                seen_kind[kind] += 1
            rows = x[x[:, block["mask"]] > 0]
            if len(rows) == 0:
                continue
            if kind == "categorical":
                size = block["size"]
                counts = rows[:, slot : slot + size].sum(0)
                bias[offset : offset + size] = ((counts + 0.5) / (len(rows) + 0.5 * size)).log()
            elif kind == "bernoulli":
                bias[offset] = smoothed_logit(rows[:, slot].sum(), len(rows))
            elif kind == "gaussian":
                values = rows[:, slot]
                bias[offset] = values.mean()
                if log_sigma is not None and len(values) > 1:
                    log_sigma[position] = values.std().clamp(min=1e-3).log()
            else:  # negbin or poisson: the counts behind the slots
                n = torch.round(torch.expm1(rows[:, slot] * block["scale"] + block["shift"])).clamp(min=0.0)
                mean = n.mean().clamp(min=1e-3)
                bias[offset] = mean.log()
                if kind == "negbin" and log_dispersion is not None and len(n) > 1:
                    excess = n.var() - mean
                    r = mean**2 / excess if excess > 1e-6 * mean else torch.tensor(1e3, dtype=torch.float64)
                    log_dispersion[position] = r.log()
        if log_sigma is not None:
            self.log_sigma.copy_(log_sigma.clamp(*LOG_SIGMA_RANGE))
        if log_dispersion is not None:
            self.log_dispersion.copy_(log_dispersion.clamp(*LOG_DISPERSION_RANGE))
        return bias.float()

    def extra_repr(self) -> str:
        kinds = [b["kind"] for b in self.blocks]
        counts = ", ".join(f"{k} {kinds.count(k)}" for k in BLOCK_FIELDS if k in kinds)
        return f"dim={self.dim}, num_params={self.num_params}, blocks={len(self.blocks)} ({counts})"

    def _index(self, name: str, values: Sequence[int]) -> None:
        self.register_buffer(f"_{name}", torch.tensor(list(values), dtype=torch.long), persistent=False)

    # --- the per-kind pieces ------------------------------------------------------------------

    def _counts_of(self, slots: torch.Tensor, kind: str) -> torch.Tensor:
        """Return the counts n = round(expm1(slot * scale + shift)), at least 0, of count slots."""
        shift, scale = (_as(getattr(self, f"_{kind}_{f}"), slots.dtype) for f in ("shift", "scale"))
        return torch.addcmul(shift, slots, scale).expm1_().round_().clamp_(min=0.0)

    def _to_slot(self, log1p_count: torch.Tensor, kind: str) -> torch.Tensor:
        """Return slot values (log1p(n) - shift) / scale from log1p(n) of count blocks."""
        shift, scale = (getattr(self, f"_{kind}_{f}").to(log1p_count.dtype) for f in ("shift", "scale"))
        return (log1p_count - shift) / scale

    def _log_sigma(self) -> torch.Tensor:
        return self.log_sigma.clamp(*LOG_SIGMA_RANGE)

    def _log_dispersion(self) -> torch.Tensor:
        return self.log_dispersion.clamp(*LOG_DISPERSION_RANGE)

    def _categorical_logits(self, params: torch.Tensor, group: int) -> torch.Tensor:
        """Return the logits of categorical group ``group``, contiguous ``[..., count, size]``."""
        logits = _take(params, getattr(self, f"_categorical{group}_out"))
        return logits.unflatten(-1, (-1, self._categorical_sizes[group]))

    def _check(self, x: torch.Tensor | None, params: torch.Tensor) -> None:
        if params.shape[-1] != self.num_params:
            raise ValueError(
                f"the mixed likelihood takes {self.num_params} decoder outputs per row, got {params.shape[-1]}"
                " (size the decoder by likelihood.num_params)"
            )
        if x is not None and x.shape[-1] != self.dim:
            raise ValueError(f"the mixed likelihood scores rows of {self.dim} slots, got {x.shape[-1]}")

    # --- log_prob: each kind's terms and their derivatives (for _BlockTerms.backward) ----------

    def _observed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return x's value slots in the layout, ``[..., B, width]``, with 0 in those of missing
        cells (mask slot not > 0), and the mask of every block, ``[..., B, n_blocks]`` in
        computation order. Whatever the value slots of a missing cell held (NaN, huge values),
        zeroed they give finite terms and derivatives, which the mask then makes exactly 0."""
        values, gates = _take(x, self._value_slots), _take(x, self._value_gates)
        width, first_scalar = values.shape[-1], self._widths["categorical"]
        present = gates.narrow(-1, first_scalar, gates.shape[-1] - first_scalar)
        gates = gates.narrow(-1, 0, width)
        if _cpu_eager(values):
            # values * (gate > 0) in float ops, in place on the fresh gather: sign() of a mask
            # slot is 1, 0 or -1 (clamped to 0).
            with torch.no_grad():
                observed = torch.sign(gates).clamp_(min=0.0)
            observed = values.mul_(observed)
            if math.isfinite(observed.detach().sum().item()):
                return observed, present
            # A NaN or infinity in the value slots: the product leaves NaN where the mask is 0.
            values = _take(x, self._value_slots)
        return torch.where(gates > 0, values, torch.zeros_like(values)), present

    def _block_sums(self, values: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
        """Return ``values @ matrix`` (with a 0/1 matrix: sums over each categorical block's
        slots) in the values' dtype, also under autocast (a bf16 matmul would keep 3 digits of
        a sum of probabilities)."""
        matrix = _as(matrix, values.dtype)
        if _autocast_enabled(values.device.type):
            with torch.autocast(values.device.type, enabled=False):
                return values @ matrix
        return values @ matrix

    def _categorical_score(
        self, one_hot: torch.Tensor, logits: torch.Tensor, slopes: bool, value_slopes: bool
    ) -> _Score:
        """Score the categorical blocks: the sum of one_hot * logits over each block's slots
        minus the logsumexp of its logits, nats, ``[..., count]``; derivatives: one_hot -
        softmax(logits) by the logits, the logits by the one-hot values. ``one_hot`` and
        ``logits`` hold the blocks' slots one after another, ``[..., slots]``."""
        blocks = self._categorical_blocks
        # logsumexp = shift + log(sum(exp(logits - shift))) for any shift. torch.logsumexp
        # shifts by each block's largest logit, a slow reduction over a few slots on the CPU;
        # the block's mean logit is a matmul, keeps the largest term >= 1 (the sum cannot
        # underflow) and overflows only where a logit lies ~88 nats above its block's mean, as
        # one float sum of the block sums tells: then the largest logit after all. (Ops run in
        # place where they can: each new tensor costs another trip through memory.)
        if _cpu_eager(logits):
            shift = self._block_sums(logits, self._categorical_mean)
            exp = _take(shift, blocks)
            torch.sub(logits, exp, out=exp).exp_()
            total = self._block_sums(exp, self._categorical_sum)
        if not _cpu_eager(logits) or not math.isfinite(total.sum().item()):
            padded = _take(logits, self._categorical_padded)
            shift = padded.unflatten(-1, (-1, self._categorical_sizes[-1])).amax(-1)
            exp = _take(shift, blocks)
            torch.sub(logits, exp, out=exp).exp_()
            total = self._block_sums(exp, self._categorical_sum)
        if slopes:
            softmax = exp.div_(_take(total, blocks))
            d_logits = torch.sub(one_hot, softmax, out=softmax)
        term = self._block_sums(one_hot * logits, self._categorical_sum).sub_(total.log_().add_(shift))
        return _Score(term, d_logits, logits if value_slopes else None) if slopes else _Score(term)

    def _gaussian_score(self, value: torch.Tensor, mean: torch.Tensor, slopes: bool, value_slopes: bool) -> _Score:
        """Score the gaussian blocks: log N(value; mean, sigma^2), nats; derivatives by the
        mean, the value and log sigma."""
        log_sigma = self._log_sigma()
        precision = torch.exp(log_sigma * -2.0)
        error = torch.sub(value, mean)
        # ((value - mean) / sigma)^2, in place unless the error is kept for the derivatives
        scaled = (error.square() if slopes else error.square_()).mul_(precision)
        # -0.5 * (log 2 pi + 2 log sigma + scaled), the per-block constant computed once
        term = torch.add(torch.rsub(log_sigma, -0.5 * LOG_2PI), scaled, alpha=-0.5)
        if not slopes:
            return _Score(term)
        d_mean = error.mul_(precision)
        d_log_sigma = scaled.sub_(1.0)
        inside = _inside(self.log_sigma, log_sigma)
        return _Score(term, d_mean, -d_mean if value_slopes else None, d_log_sigma, inside)

    def _bernoulli_score(self, value: torch.Tensor, logit: torch.Tensor, slopes: bool, value_slopes: bool) -> _Score:
        """Score the bernoulli blocks: log Bernoulli(value; sigmoid(logit)), nats; derivatives
        by the logit and the value."""
        logit = logit.contiguous()  # softplus and sigmoid of a slice of a wider row run ~10x slower
        term = torch.mul(value, logit).sub_(F.softplus(logit))
        if not slopes:
            return _Score(term)
        return _Score(term, torch.sigmoid(logit).neg_().add_(value), logit if value_slopes else None)

    def _negbin_score(self, value: torch.Tensor, log_mean: torch.Tensor, slopes: bool, value_slopes: bool) -> _Score:
        """Score the negbin blocks: log NB(n; mean mu, dispersion r), nats, of the count n behind
        each slot; derivatives by the log mean and log r (none by the value: n is rounded)."""
        n = self._counts_of(value, "negbin")
        clamped = log_mean.clamp(*LOG_MEAN_RANGE)
        log_r = self._log_dispersion()
        r = torch.exp(log_r)
        ratio = clamped - log_r  # log(mu / r)
        excess = F.softplus(ratio)  # log(1 + mu / r) = log(r + mu) - log r
        n_r = n + r
        # lgamma(n + r) - lgamma(r) - lgamma(n + 1) + r log(r / (r + mu)) + n log(mu / (r + mu))
        term = torch.sub(torch.lgamma(n_r), r * excess).sub_(torch.lgamma(r)).sub_(torch.lgamma(n + 1.0))
        term.addcmul_(n, ratio - excess)
        if not slopes:
            return _Score(term)
        share = torch.sigmoid(ratio)  # mu / (r + mu) = d log(r + mu) / d log mu
        d_log_mean = torch.addcmul(n, n_r, share, value=-1.0)  # n - (n + r) mu / (r + mu)
        # r (digamma(n + r) - digamma(r) - log(1 + mu / r)) - n + (n + r) mu / (r + mu)
        d_log_r = torch.sub(torch.digamma(n_r).sub_(torch.digamma(r)), excess).mul_(r).sub_(d_log_mean)
        d_log_mean.mul_(_inside(log_mean, clamped))
        return _Score(term, d_log_mean, None, d_log_r, _inside(self.log_dispersion, log_r))

    def _poisson_score(self, value: torch.Tensor, log_mean: torch.Tensor, slopes: bool, value_slopes: bool) -> _Score:
        """Score the poisson blocks: log Poisson(n; mean), nats, of the count n behind each
        slot; derivative by the log mean (none by the value: n is rounded)."""
        n = self._counts_of(value, "poisson")
        clamped = log_mean.clamp(*LOG_MEAN_RANGE)
        mean = torch.exp(clamped)
        term = torch.mul(n, clamped).sub_(mean).sub_(torch.lgamma(n + 1.0))
        if not slopes:
            return _Score(term)
        return _Score(term, torch.sub(n, mean).mul_(_inside(log_mean, clamped)))

    def _score(
        self, values: torch.Tensor, outputs: torch.Tensor, slopes: bool, value_slopes: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
        """Score every block from its observed value slots ``values`` and decoder outputs
        ``outputs``, both ``[..., B, width]`` in the layout: return the unmasked log
        probabilities, nats, ``[..., B, n_blocks]`` in computation order, and with ``slopes``
        their derivatives: by each output and (with ``value_slopes``) each value slot, ``[...,
        B, width]`` in the layout, and by each learned parameter (kind -> (``[..., B, count]``,
        where its clamp passes the gradient ``[count]``))."""
        if values.shape[:-1] != outputs.shape[:-1]:
            # In-place ops need their first operand in the full shape: the outputs' is.
            outputs = outputs.expand(*torch.broadcast_shapes(values.shape[:-1], outputs.shape[:-1]), outputs.shape[-1])
        widths = list(self._widths.values())
        scores = {}
        for kind, value, output in zip(self._widths, values.split(widths, -1), outputs.split(widths, -1), strict=True):
            if output.shape[-1]:
                scores[kind] = getattr(self, f"_{kind}_score")(value, output, slopes, value_slopes)
        terms = torch.cat([scores[k].term for k in (*_SCALAR_KINDS, "categorical") if k in scores], dim=-1)
        if not slopes:
            return terms, None, None, {}
        d_output = torch.cat([s.output for s in scores.values()], dim=-1)
        d_value = None
        if value_slopes:
            d_value = torch.cat(
                [torch.zeros_like(s.output) if s.value is None else s.value for s in scores.values()], -1
            )
        parameters = {k: (s.parameter, s.inside) for k, s in scores.items() if s.parameter is not None}
        return terms, d_output, d_value, parameters

    def _parameter_grad(
        self, grad: torch.Tensor, slope: torch.Tensor, inside: torch.Tensor, kind: str, parameter: torch.Tensor
    ) -> torch.Tensor:
        """Return the gradient of a learned per-block parameter (log sigma, log dispersion): the
        gradient of its blocks' terms ``grad`` times their derivative ``slope``, summed over
        the rows, where its clamp passes it (``inside``)."""
        start, stop = self._block_ranges[kind]
        total = torch.mul(grad.narrow(-1, start, stop - start), slope)
        return _as(total.reshape(-1, stop - start).sum(0).mul_(inside), parameter.dtype)

    # --- the interface ------------------------------------------------------------------------

    def _terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return the masked per-block log probabilities, nats, ``[..., B, n_blocks]`` in
        computation order."""
        self._check(x, params)
        # The wider of the two dtypes: under bf16 autocast the float32 data keep their precision
        # (a count slot rounded to bf16 decodes to another count).
        dtype = torch.promote_types(x.dtype, params.dtype)
        values, present = self._observed(_as(x, dtype))
        terms = _BlockTerms.apply(
            self, _as(params, dtype), values, self.log_sigma, self.log_dispersion, torch.is_grad_enabled()
        )
        return terms * present

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return log p(x|params), nats per row: the sum over blocks of mask * log p(block).

        ``x`` ``[..., B, dim]``, ``params`` ``[..., B, num_params]`` (leading sample dimensions
        broadcast); the result has their broadcast leading shape ``[..., B]``."""
        return self._terms(x, params).sum(-1)

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return :meth:`log_prob_blocks`: one term per column block."""
        return self.log_prob_blocks(x, params)

    def log_prob_blocks(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return the masked per-block terms of :meth:`log_prob`, nats, ``[..., B, n_blocks]``
        in block order (0 for a missing cell); they sum to ``log_prob``."""
        return _take(self._terms(x, params), self._block_order)

    def _assemble(self, params: torch.Tensor, values: list[torch.Tensor]) -> torch.Tensor:
        """Return x-format rows ``[..., dim]``: ``values`` (each kind's, in computation order)
        in their value slots, 1 in every mask slot, 0 in any slot no block scores."""
        out = params.new_zeros(*params.shape[:-1], self.dim)
        out = _put(out, self._mask_slots, torch.ones_like(_take(out, self._mask_slots)))
        return _put(out, self._value_slots, torch.cat(values, dim=-1).to(params.dtype))

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return E[x|z] in x-format, ``[..., dim]``: gaussian means, bernoulli probabilities and
        categorical probabilities in their slots, each count block's mean count mapped into slot
        units ((log1p(mean) - shift) / scale), and 1 in the mask slots."""
        self._check(None, params)
        values = [_take(params, self._gaussian_out)]
        values.append(torch.sigmoid(_take(params, self._bernoulli_out)))
        for kind in ("negbin", "poisson"):
            log_mean = _take(params, getattr(self, f"_{kind}_out")).clamp(*LOG_MEAN_RANGE)
            values.append(self._to_slot(F.softplus(log_mean), kind))  # log1p(exp(log mean))
        probabilities = [
            torch.softmax(self._categorical_logits(params, group), dim=-1).flatten(-2)
            for group in range(len(self._categorical_sizes))
        ]
        return self._assemble(params, probabilities + values)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a draw x ~ p(x|z) in x-format, ``[..., dim]``: gaussian draws, 0/1 bernoullis,
        one-hot categoricals, integer counts mapped into slot units ((log1p(n) - shift) / scale),
        and 1 in the mask slots."""
        self._check(None, params)
        values = []
        mean = _take(params, self._gaussian_out)
        if self._counts["gaussian"]:
            mean = mean + torch.exp(self._log_sigma()) * torch.randn_like(mean)
        values.append(mean)
        values.append(torch.bernoulli(torch.sigmoid(_take(params, self._bernoulli_out))))
        log_mean = _take(params, self._negbin_out).clamp(*LOG_MEAN_RANGE)
        if self._counts["negbin"]:
            # Gamma-Poisson: NegativeBinomial(total_count r, logits log mu - log r) has mean mu.
            log_r = self._log_dispersion()
            counts = torch.distributions.NegativeBinomial(
                total_count=torch.exp(log_r).expand_as(log_mean), logits=log_mean - log_r, validate_args=False
            ).sample()
        else:
            counts = torch.zeros_like(log_mean)  # no negbin block: an empty [..., 0]
        values.append(self._to_slot(torch.log1p(counts), "negbin"))
        log_mean = _take(params, self._poisson_out).clamp(*LOG_MEAN_RANGE)
        values.append(self._to_slot(torch.log1p(torch.poisson(torch.exp(log_mean))), "poisson"))
        one_hots = []  # drawn after the scalar kinds, as always: a seed gives the same rows
        for group, size in enumerate(self._categorical_sizes):
            index = torch.distributions.Categorical(logits=self._categorical_logits(params, group)).sample()
            one_hots.append(F.one_hot(index, size).to(params.dtype).flatten(-2))
        return self._assemble(params, one_hots + values)
