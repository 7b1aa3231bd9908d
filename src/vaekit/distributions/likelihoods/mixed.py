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
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.distributions.likelihoods.base import Likelihood, register_likelihood
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
    """Return ``tensor[..., index]``. Selecting along dim 1 of the tensor folded to 2-D is ~8x
    faster on the CPU than ``index_select`` along the last of 3 dims (K-sample parameters)."""
    return tensor.reshape(-1, tensor.shape[-1]).index_select(1, index).view(*tensor.shape[:-1], index.numel())


def _put(tensor: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Return a copy of ``tensor`` with ``values`` in ``tensor[..., index]`` (folded to 2-D as in
    :func:`_take`)."""
    flat = values.reshape(-1, values.shape[-1])
    return tensor.reshape(-1, tensor.shape[-1]).index_copy(1, index, flat).view(tensor.shape)


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

    def __init__(self, dim: int, blocks: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        self.blocks = _check_blocks(dim, blocks)
        self.dim = int(dim)
        widths = [_width(b) for b in self.blocks]
        self.output_offsets = [sum(widths[:i]) for i in range(len(widths))]
        self.num_params = sum(widths)
        self.value_width = max(b["slot"] + w for b, w in zip(self.blocks, widths, strict=True))
        self.mask_slots = sorted({b["mask"] for b in self.blocks})

        # Group the blocks by kind (categoricals by size too) so that each group is one gather
        # and one vectorised computation per call, not a loop over the columns. The indices are
        # buffers built here once and never saved: the blocks (in the run's config) rebuild them.
        # Terms are computed group by group ("computation order"); `_block_order` restores the
        # block order for log_prob_blocks.
        members = {k: [i for i, b in enumerate(self.blocks) if b["kind"] == k] for k in _SCALAR_KINDS}
        self._counts = {k: len(v) for k, v in members.items()}
        order: list[int] = []
        for kind in _SCALAR_KINDS:
            self._index(f"{kind}_slot", [self.blocks[i]["slot"] for i in members[kind]])
            self._index(f"{kind}_out", [self.output_offsets[i] for i in members[kind]])
            self._index(f"{kind}_mask", [self.blocks[i]["mask"] for i in members[kind]])
            order += members[kind]
        for kind in ("negbin", "poisson"):
            for field in ("shift", "scale"):
                # float64, cast where used: a float32 shift would move large decoded counts of a
                # float64 model off their integers.
                values = [self.blocks[i][field] for i in members[kind]]
                self.register_buffer(f"_{kind}_{field}", torch.tensor(values, dtype=torch.float64), persistent=False)
        # Categorical group g (blocks of one size) is the pseudo-kind f"categorical{g}": one
        # gather gives it contiguous [..., count, size] (log_softmax and logsumexp over a
        # strided slice of a wider gather run ~100x slower on the CPU).
        #: size of the blocks of each categorical group, in computation order
        self._categorical_sizes: list[int] = []
        cat_slot: list[int] = []
        cat_gate: list[int] = []  # the mask slot of each categorical value slot
        for size in sorted({b["size"] for b in self.blocks if b["kind"] == "categorical"}):
            group = [i for i, b in enumerate(self.blocks) if b["kind"] == "categorical" and b["size"] == size]
            kind = f"categorical{len(self._categorical_sizes)}"
            self._categorical_sizes.append(size)
            slots = [s for i in group for s in range(self.blocks[i]["slot"], self.blocks[i]["slot"] + size)]
            self._index(f"{kind}_slot", slots)
            self._index(
                f"{kind}_out", [o for i in group for o in range(self.output_offsets[i], self.output_offsets[i] + size)]
            )
            self._index(f"{kind}_mask", [self.blocks[i]["mask"] for i in group])
            cat_slot += slots
            cat_gate += [self.blocks[i]["mask"] for i in group for _ in range(size)]
            order += group
        inverse = [0] * len(order)
        for position, block in enumerate(order):
            inverse[block] = position
        self._index("block_order", inverse)
        self._index("mask_slots", self.mask_slots)
        # Value slots in computation order (where mean() and sample() write), and the mask
        # slot gating each (to clean the value slots of missing cells before scoring).
        fill = [self.blocks[i]["slot"] for kind in _SCALAR_KINDS for i in members[kind]] + cat_slot
        gate = [self.blocks[i]["mask"] for kind in _SCALAR_KINDS for i in members[kind]] + cat_gate
        self._index("fill_slots", fill)
        self._index("fill_gates", gate)

        # sigma 1 suits the standardised values gaussian slots hold; dispersion 1 (a geometric
        # distribution of counts) is a broad start. A kind with no block has no parameter.
        n_gaussian, n_negbin = self._counts["gaussian"], self._counts["negbin"]
        self.register_parameter("log_sigma", nn.Parameter(torch.zeros(n_gaussian)) if n_gaussian else None)
        self.register_parameter("log_dispersion", nn.Parameter(torch.zeros(n_negbin)) if n_negbin else None)

    def extra_repr(self) -> str:
        kinds = [b["kind"] for b in self.blocks]
        counts = ", ".join(f"{k} {kinds.count(k)}" for k in BLOCK_FIELDS if k in kinds)
        return f"dim={self.dim}, num_params={self.num_params}, blocks={len(self.blocks)} ({counts})"

    def _index(self, name: str, values: Sequence[int]) -> None:
        self.register_buffer(f"_{name}", torch.tensor(list(values), dtype=torch.long), persistent=False)

    # --- the per-kind pieces ------------------------------------------------------------------

    def _clean(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with the value slots of missing cells (mask 0) set to 0, so that whatever
        they held (NaN, huge values) the masked terms are finite and contribute exactly 0."""
        values = _take(x, self._fill_slots)
        present = _take(x, self._fill_gates) > 0
        return _put(x, self._fill_slots, torch.where(present, values, torch.zeros_like(values)))

    def _gather(self, x: torch.Tensor, params: torch.Tensor, kind: str) -> tuple[torch.Tensor, ...]:
        """Return (value slots, decoder outputs, mask slots) of the blocks of ``kind``."""
        return (
            _take(x, getattr(self, f"_{kind}_slot")),
            _take(params, getattr(self, f"_{kind}_out")),
            _take(x, getattr(self, f"_{kind}_mask")),
        )

    def _counts_of(self, slots: torch.Tensor, kind: str) -> torch.Tensor:
        """Return the counts n = round(expm1(slot * scale + shift)), at least 0, of count slots."""
        shift, scale = (getattr(self, f"_{kind}_{f}").to(slots.dtype) for f in ("shift", "scale"))
        return torch.round(torch.expm1(slots * scale + shift)).clamp(min=0.0)

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

    # --- the interface ------------------------------------------------------------------------

    def _terms(self, x: torch.Tensor, params: torch.Tensor) -> list[torch.Tensor]:
        """Return the masked per-block log probabilities, nats, one ``[..., B, n_group]`` tensor
        per group in computation order."""
        self._check(x, params)
        # The wider of the two dtypes: under bf16 autocast the float32 data keep their precision
        # (a count slot rounded to bf16 decodes to another count).
        dtype = torch.promote_types(x.dtype, params.dtype)
        x, params = self._clean(x.to(dtype)), params.to(dtype)
        parts = []
        if self._counts["gaussian"]:
            value, mean, present = self._gather(x, params, "gaussian")
            log_sigma = self._log_sigma()
            log_p = -0.5 * (LOG_2PI + 2.0 * log_sigma + (value - mean).pow(2) * torch.exp(-2.0 * log_sigma))
            parts.append(log_p * present)
        if self._counts["bernoulli"]:
            value, logit, present = self._gather(x, params, "bernoulli")
            parts.append((value * logit - F.softplus(logit)) * present)
        if self._counts["negbin"]:
            value, log_mean, present = self._gather(x, params, "negbin")
            n = self._counts_of(value, "negbin")
            log_mean = log_mean.clamp(*LOG_MEAN_RANGE)
            log_r = self._log_dispersion()
            r = torch.exp(log_r)
            log_total = log_r + F.softplus(log_mean - log_r)  # log(r + mu); faster than logaddexp
            log_p = (
                torch.lgamma(n + r)
                - torch.lgamma(r)
                - torch.lgamma(n + 1.0)
                + r * (log_r - log_total)
                + n * (log_mean - log_total)
            )
            parts.append(log_p * present)
        if self._counts["poisson"]:
            value, log_mean, present = self._gather(x, params, "poisson")
            n = self._counts_of(value, "poisson")
            log_mean = log_mean.clamp(*LOG_MEAN_RANGE)
            parts.append((n * log_mean - torch.exp(log_mean) - torch.lgamma(n + 1.0)) * present)
        for group, size in enumerate(self._categorical_sizes):
            one_hot, logits, present = self._gather(x, params, f"categorical{group}")
            one_hot, logits = one_hot.unflatten(-1, (-1, size)), logits.unflatten(-1, (-1, size))
            # sum(one_hot * log_softmax) without materialising log_softmax: faster for small sizes.
            parts.append(((one_hot * logits).sum(-1) - torch.logsumexp(logits, dim=-1)) * present)
        return parts

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return log p(x|params), nats per row: the sum over blocks of mask * log p(block).

        ``x`` ``[..., B, dim]``, ``params`` ``[..., B, num_params]`` (leading sample dimensions
        broadcast); the result has their broadcast leading shape ``[..., B]``."""
        parts = self._terms(x, params)
        total = parts[0].sum(-1)
        for part in parts[1:]:
            total = total + part.sum(-1)
        return total

    def log_prob_blocks(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return the masked per-block terms of :meth:`log_prob`, nats, ``[..., B, n_blocks]``
        in block order (0 for a missing cell); they sum to ``log_prob``."""
        parts = self._terms(x, params)
        shape = torch.broadcast_shapes(*(p.shape[:-1] for p in parts))
        return _take(torch.cat([p.expand(*shape, p.shape[-1]) for p in parts], dim=-1), self._block_order)

    def _assemble(self, params: torch.Tensor, values: list[torch.Tensor]) -> torch.Tensor:
        """Return x-format rows ``[..., dim]``: ``values`` (computation order) in their value
        slots, 1 in every mask slot, 0 in any slot no block scores."""
        out = params.new_zeros(*params.shape[:-1], self.dim)
        out = _put(out, self._mask_slots, torch.ones_like(_take(out, self._mask_slots)))
        return _put(out, self._fill_slots, torch.cat(values, dim=-1).to(params.dtype))

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
        for group in range(len(self._categorical_sizes)):
            values.append(torch.softmax(self._categorical_logits(params, group), dim=-1).flatten(-2))
        return self._assemble(params, values)

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
        for group, size in enumerate(self._categorical_sizes):
            index = torch.distributions.Categorical(logits=self._categorical_logits(params, group)).sample()
            values.append(F.one_hot(index, size).to(params.dtype).flatten(-2))
        return self._assemble(params, values)
