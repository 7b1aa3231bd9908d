"""The check every encoder/decoder pair passes once, when the net registry builds it: the
calls the models make (``encoder(x, cond)``, ``decoder(z, cond)``) on a dummy batch of two
examples, so that a net that breaks the contract (docs/extending.md) is refused naming the fix
before training, not with a traceback from inside a model or a silent condition that does
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from vaekit.runtime.errors import ConfigError

#: examples in the dummy batch: two, so that batch normalisation sees a batch
PROBE_BATCH = 2
#: the contract, for messages
ENCODER_CALL = "encoder(x, cond) with x [B, D] and cond [B, C] (None when the model is unconditional)"
DECODER_CALL = "decoder(z, cond) with z [B, latent_dim]"


def check_net_pair(name: str, pair: Any, spec: Any) -> tuple[nn.Module, nn.Module]:
    """Return the ``(encoder, decoder)`` that net ``name``'s builder returned for ``spec`` (a
    :class:`~vaekit.nets.registry.NetSpec`) after calling them once on a dummy batch; raise
    ``ConfigError`` naming the net and the fix when they break the contract."""
    encoder, decoder = _as_pair(name, pair)
    if spec is None:
        return encoder, decoder
    device, dtype = _device_and_dtype(encoder, decoder)
    if device.type == "meta" or torch.empty(0).device.type == "meta":
        # A model sized without memory: its tensors hold no values, and drawing them goes through
        # torch's compiler stack; the real build checks the pair.
        return encoder, decoder
    with _probing(encoder, decoder):
        generator = torch.Generator().manual_seed(0)  # the global RNG is the run's: leave it alone
        x = torch.rand(PROBE_BATCH, spec.input_dim, generator=generator).to(device, dtype)
        z = torch.randn(PROBE_BATCH, spec.latent_dim, generator=generator).to(device, dtype)
        cond = _one_hot(spec.cond_dim, device, dtype)
        with torch.no_grad():
            _check_encoder(name, encoder, x, cond, spec)
            _check_decoder(name, decoder, z, cond, spec)
        if spec.cond_dim > 0:
            _check_uses_condition(name, decoder, z, spec.cond_dim)
    return encoder, decoder


def _as_pair(name: str, pair: Any) -> tuple[nn.Module, nn.Module]:
    """Return ``pair`` as two modules; anything else raises ``ConfigError``."""
    fix = "end the builder with `return encoder, decoder`, two torch.nn.Modules (see docs/extending.md)"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        got = f"{len(pair)} values" if isinstance(pair, (tuple, list)) else f"a {type(pair).__name__}"
        raise ConfigError(f"net {name!r} returned {got}, not an (encoder, decoder) pair: {fix}")
    for role, module in zip(("encoder", "decoder"), pair, strict=True):
        if not isinstance(module, nn.Module):
            raise ConfigError(f"net {name!r} returned a {type(module).__name__} as its {role}, not an nn.Module: {fix}")
    return pair[0], pair[1]


@contextmanager
def _probing(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode (no running statistics updated, no dropout) and restore
    each submodule's own mode after."""
    modes = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in modes:
            m.training = training


def _device_and_dtype(*modules: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Return the device and floating dtype of the first floating parameter (CPU, float32 if none)."""
    for module in modules:
        for p in module.parameters():
            if p.is_floating_point() and not isinstance(p, nn.parameter.UninitializedParameter):
                return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _one_hot(cond_dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
    """Return two different one-hot conditions ``[2, cond_dim]`` (None for cond_dim 0)."""
    if cond_dim <= 0:
        return None
    cond = torch.zeros(PROBE_BATCH, cond_dim)
    cond[0, 0] = 1.0
    cond[1, cond_dim - 1] = 1.0
    return cond.to(device, dtype)


def _shape(value: Any) -> str:
    """Describe ``value`` for a message: a tensor's shape, else its type."""
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)} ({', '.join(_shape(v) for v in value)})"
    return f"a {type(value).__name__}"


def _call(name: str, role: str, call: str, module: nn.Module, *args: Any) -> Any:
    """Return ``module(*args)``; an exception raises ``ConfigError`` naming the call vaekit makes."""
    try:
        return module(*args)
    except Exception as exc:  # any failure of the user's code: say what vaekit called
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ConfigError(
            f"net {name!r}: its {role} ({type(module).__name__}) failed when called as vaekit calls it, {call}: "
            f"{type(exc).__name__}: {first}; define forward(self, {'x' if role == 'encoder' else 'z'}, cond=None) "
            f"and size its first layer for spec.cond_dim more inputs when cond is given (see docs/extending.md)"
        ) from exc


def _check_encoder(name: str, encoder: nn.Module, x: torch.Tensor, cond: torch.Tensor | None, spec: Any) -> None:
    """Refuse an encoder whose output on ``x`` is not ``(mu, logvar)``, each ``[B, latent_dim]``."""
    out = _call(name, "encoder", ENCODER_CALL, encoder, x, cond)
    expected = [PROBE_BATCH, spec.latent_dim]
    ok = isinstance(out, (tuple, list)) and len(out) == 2
    if not (ok and all(isinstance(t, torch.Tensor) and list(t.shape) == expected for t in out)):
        raise ConfigError(
            f"net {name!r}: its encoder returned {_shape(out)} for a batch of {PROBE_BATCH}; it must return "
            f"(mu, logvar), each a tensor {expected} ([B, spec.latent_dim]; logvar the log-variance of q(z|x)): "
            f"end forward with `return self.mu(h), self.logvar(h)` (see docs/extending.md)"
        )


def _check_decoder(name: str, decoder: nn.Module, z: torch.Tensor, cond: torch.Tensor | None, spec: Any) -> None:
    """Refuse a decoder whose output for ``z`` is not one tensor ``[B, spec.decoder_outputs]``."""
    out = _call(name, "decoder", DECODER_CALL, decoder, z, cond)
    expected = [PROBE_BATCH, spec.decoder_outputs]
    if not (isinstance(out, torch.Tensor) and list(out.shape) == expected):
        raise ConfigError(
            f"net {name!r}: its decoder returned {_shape(out)} for a batch of {PROBE_BATCH}; it must return one "
            f"tensor {expected}, the likelihood's parameters ([B, spec.decoder_outputs]: D = {spec.input_dim} "
            f"values x {spec.params_per_dim} per value, flattened) (see docs/extending.md)"
        )


def _check_uses_condition(name: str, decoder: nn.Module, z: torch.Tensor, cond_dim: int) -> None:
    """Refuse a conditional model's decoder that ignores its condition: the same ``z`` under two
    different one-hot conditions gives the same output and no gradient reaches the condition.
    Both, so that a condition read through an index (no gradient) or by a layer that starts at
    zero (same output at first) passes."""
    same_z = z[:1].expand_as(z)
    with torch.no_grad():
        outputs = decoder(same_z, _one_hot(cond_dim, z.device, z.dtype))
    if cond_dim > 1 and not torch.equal(outputs[0], outputs[1]):
        return
    cond = _one_hot(cond_dim, z.device, z.dtype)
    assert cond is not None
    cond.requires_grad_(True)
    with torch.enable_grad():
        out = decoder(same_z, cond)
        if not out.requires_grad:
            grad = None
        else:
            (grad,) = torch.autograd.grad(out.sum(), cond, allow_unused=True)
    if grad is None:
        raise ConfigError(
            f"net {name!r}: its decoder ignores the condition (the same z under two different conditions gives "
            f"the same output), so a conditional model (spec.cond_dim = {cond_dim}) could not generate by label: "
            f"use cond in decoder(z, cond), e.g. a first layer of spec.latent_dim + spec.cond_dim inputs taking "
            f"torch.cat([z, cond], -1) (see docs/extending.md)"
        )
