"""Encoders and decoders as plain ``nn.Module``s (torch only), and their registry by name."""

from vaekit.nets.conv import ConvDecoder, ConvEncoder
from vaekit.nets.mlp import MLP, GaussianEncoder, MLPDecoder
from vaekit.nets.registry import NETS, NetSpec, create_nets, register_net

__all__ = [
    "MLP",
    "NETS",
    "ConvDecoder",
    "ConvEncoder",
    "GaussianEncoder",
    "MLPDecoder",
    "NetSpec",
    "create_nets",
    "register_net",
]
