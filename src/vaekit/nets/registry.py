"""One registry of encoder/decoder pairs by name: ``--net mlp`` or ``--net conv``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from vaekit.nets.conv import ConvDecoder, ConvEncoder
from vaekit.nets.mlp import GaussianEncoder, MLPDecoder


@dataclass
class NetSpec:
    """What an encoder/decoder pair must fit: data shape, latent size, outputs per data value."""

    input_shape: tuple[int, ...]
    latent_dim: int
    params_per_dim: int
    encoder_hidden: list[int]
    decoder_hidden: list[int]
    activation: str = "relu"
    normalization: str = "none"
    cond_dim: int = 0
    channels: list[int] | None = None

    @property
    def input_dim(self) -> int:
        """Number of data values D of one flattened example."""
        d = 1
        for s in self.input_shape:
            d *= s
        return d


NetBuilder = Callable[[NetSpec], tuple[nn.Module, nn.Module]]
NETS: dict[str, NetBuilder] = {}


def register_net(name: str) -> Callable[[NetBuilder], NetBuilder]:
    """Decorator adding an encoder/decoder builder to ``NETS`` under ``name``."""

    def add(builder: NetBuilder) -> NetBuilder:
        if name in NETS:
            raise ValueError(f"net name {name!r} is already registered")
        NETS[name] = builder
        return builder

    return add


def create_nets(name: str, spec: NetSpec) -> tuple[nn.Module, nn.Module]:
    """Return the ``(encoder, decoder)`` pair registered as ``name``, sized by ``spec``."""
    try:
        builder = NETS[name]
    except KeyError:
        raise ValueError(f"unknown net {name!r}; choose one of {sorted(NETS)}") from None
    return builder(spec)


@register_net("mlp")
def mlp_nets(spec: NetSpec) -> tuple[nn.Module, nn.Module]:
    """Dense encoder and decoder (``channels`` does not apply)."""
    if spec.channels is not None:
        raise ValueError("channels apply to the conv net only; drop --channels or use --net conv")
    common = {"activation": spec.activation, "normalization": spec.normalization, "cond_dim": spec.cond_dim}
    encoder = GaussianEncoder(spec.input_dim, spec.encoder_hidden, spec.latent_dim, **common)
    decoder = MLPDecoder(spec.latent_dim, spec.decoder_hidden, spec.input_dim * spec.params_per_dim, **common)
    return encoder, decoder


#: conv stages used when ``channels`` is not given
DEFAULT_CHANNELS = [32, 64]


@register_net("conv")
def conv_nets(spec: NetSpec) -> tuple[nn.Module, nn.Module]:
    """Convolutional encoder and decoder for image data ``(C, H, W)``."""
    if len(spec.input_shape) != 3:
        raise ValueError(
            f"the conv net needs images (C, H, W), but this data has shape {tuple(spec.input_shape)}; use --net mlp"
        )
    channels = list(spec.channels) if spec.channels is not None else list(DEFAULT_CHANNELS)
    if not channels:
        raise ValueError("the conv net needs at least one conv stage in --channels")
    common = {"activation": spec.activation, "normalization": spec.normalization, "cond_dim": spec.cond_dim}
    encoder = ConvEncoder(spec.input_shape, channels, spec.encoder_hidden, spec.latent_dim, **common)
    decoder = ConvDecoder(
        spec.latent_dim, spec.input_shape, channels, spec.decoder_hidden, spec.params_per_dim, **common
    )
    return encoder, decoder
