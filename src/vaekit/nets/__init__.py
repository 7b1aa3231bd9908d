"""Encoders and decoders as plain ``nn.Module``s (torch only)."""

from vaekit.nets.mlp import MLP, GaussianEncoder, MLPDecoder

__all__ = ["MLP", "GaussianEncoder", "MLPDecoder"]
