"""One registry of encoder/decoder pairs by name: ``net: {name: mlp}`` or ``--net conv``.

A builder takes the :class:`NetSpec` (what the pair must fit, supplied by the library) and its
own options as keyword arguments (hidden widths, activation, ...), and returns
``(encoder, decoder)``: ``encoder(x, cond)`` gives ``(mu, logvar)``, each ``[B, latent_dim]``,
for ``x`` ``[B, D]``; ``decoder(z, cond)`` gives ``[B, spec.decoder_outputs]`` for ``z``
``[B, latent_dim]``; ``cond`` is ``[B, spec.cond_dim]`` or None (docs/extending.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from vaekit.nets.checks import check_net_pair
from vaekit.nets.conv import ConvDecoder, ConvEncoder
from vaekit.nets.mlp import GaussianEncoder, MLPDecoder
from vaekit.runtime.registry import Registry

#: hidden widths of the dense layers when the config gives none
DEFAULT_HIDDEN = (256, 128)


@dataclass
class NetSpec:
    """What an encoder/decoder pair must fit: data shape, latent size, outputs per data value,
    the width of the condition vector (0: unconditional) and, for a likelihood whose outputs are
    not ``params_per_dim`` per value (a table's mixed likelihood), its number of outputs."""

    input_shape: tuple[int, ...]
    latent_dim: int
    params_per_dim: int
    cond_dim: int = 0
    output_dim: int | None = None

    @property
    def input_dim(self) -> int:
        """Number of data values D of one flattened example."""
        return math.prod(self.input_shape)

    @property
    def decoder_outputs(self) -> int:
        """Number of values the decoder outputs per example: ``output_dim`` when set, else
        ``input_dim * params_per_dim``."""
        return self.output_dim if self.output_dim is not None else self.input_dim * self.params_per_dim


NetBuilder = Callable[..., tuple[nn.Module, nn.Module]]
def _checked_pair(name: str, pair: object, required: Mapping[str, object]) -> tuple[nn.Module, nn.Module]:
    """Return the pair net ``name`` built, once called on a dummy batch (:func:`check_net_pair`)."""
    return check_net_pair(name, pair, required.get("spec"))


#: every encoder/decoder pair by name; the library supplies ``spec``. Each pair built is
#: called once on a dummy batch, so that one breaking the contract is refused naming the fix.
NETS: Registry[NetBuilder] = Registry(
    "net", supplied=("spec",), required=("spec",), name_attribute=None, check_built=_checked_pair
)
register_net = NETS.register


def create_nets(name: str, spec: NetSpec, **options: object) -> tuple[nn.Module, nn.Module]:
    """Return the ``(encoder, decoder)`` pair registered as ``name``, sized by ``spec``, with
    the builder's ``options``."""
    return NETS.build(name, options, required={"spec": spec})


def _widths(value: Sequence[int] | None, what: str) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list of layer widths like [512, 256], got {value!r}")
    if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in value):
        raise ValueError(f"{what} widths must be positive integers, got {list(value)}")
    return list(value)


def hidden_widths(encoder: Sequence[int] | None, decoder: Sequence[int] | None) -> tuple[list[int], list[int]]:
    """Return the encoder's and the decoder's hidden widths, input side first; a missing
    decoder mirrors the encoder."""
    enc = _widths(encoder, "encoder")
    enc = list(DEFAULT_HIDDEN) if enc is None else enc
    dec = _widths(decoder, "decoder")
    return enc, (list(reversed(enc)) if dec is None else dec)


@register_net("mlp")
def mlp_nets(
    spec: NetSpec,
    encoder: Sequence[int] | None = DEFAULT_HIDDEN,
    decoder: Sequence[int] | None = None,
    activation: str = "relu",
    normalization: str = "none",
) -> tuple[nn.Module, nn.Module]:
    """Dense encoder and decoder: ``encoder``/``decoder`` hidden widths (the decoder mirrors the
    encoder by default), ``activation`` (relu, tanh, elu, gelu, silu, leaky_relu) and
    ``normalization`` (none, batch, layer) after each hidden layer."""
    enc, dec = hidden_widths(encoder, decoder)
    common = {"activation": activation, "normalization": normalization, "cond_dim": spec.cond_dim}
    return (
        GaussianEncoder(spec.input_dim, enc, spec.latent_dim, **common),
        MLPDecoder(spec.latent_dim, dec, spec.decoder_outputs, **common),
    )


#: conv stages used when ``channels`` is not given
DEFAULT_CHANNELS = (32, 64)


@register_net("conv")
def conv_nets(
    spec: NetSpec,
    channels: Sequence[int] = DEFAULT_CHANNELS,
    encoder: Sequence[int] | None = DEFAULT_HIDDEN,
    decoder: Sequence[int] | None = None,
    activation: str = "relu",
    normalization: str = "none",
) -> tuple[nn.Module, nn.Module]:
    """Convolutional encoder and decoder for images ``(C, H, W)``: ``channels`` of the conv
    stages, then dense layers of ``encoder``/``decoder`` widths to and from the latent code."""
    if spec.output_dim is not None:
        # The conv decoder gives params_per_dim values per pixel; it cannot lay out per-block outputs.
        raise ValueError(
            f"the conv net outputs parameters per pixel, but this likelihood needs {spec.output_dim} outputs "
            "laid out by its own blocks (a table's mixed likelihood); use --net mlp for tables"
        )
    if len(spec.input_shape) != 3:
        raise ValueError(
            f"the conv net needs images (C, H, W), but this data has shape {tuple(spec.input_shape)}; use --net mlp"
        )
    stages = _widths(channels, "channels")
    if not stages:
        raise ValueError("the conv net needs at least one conv stage in channels")
    enc, dec = hidden_widths(encoder, decoder)
    common = {"activation": activation, "normalization": normalization, "cond_dim": spec.cond_dim}
    return (
        ConvEncoder(spec.input_shape, stages, enc, spec.latent_dim, **common),
        ConvDecoder(spec.latent_dim, spec.input_shape, stages, dec, spec.params_per_dim, **common),
    )
