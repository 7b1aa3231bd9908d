"""The layers of a net read from the modules it builds, for every net but the dense one.

The model is built on the ``meta`` device (shapes only: no memory, no random draws) and a
dummy batch is passed through its encoder and decoder with hooks that record which modules
run, in which order, and what each gives per example. So the picture follows the code that
runs, not a copy of it in the diagram:

- the built-in conv net (and the dense net's classes under another name), whose modules run
  one after another, is drawn layer by layer: dense layers as columns, conv stages as blocks
  with their channels, kernel, stride and the image size they give;
- any other net (a plugin's ``@register_net``) is drawn as the modules its encoder and decoder
  call, each a box with its class, parameter count and output size, under a note saying what
  is not drawn; where even that cannot be read, the encoder and the decoder are one box each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from vaekit.viz.diagram.layers import (
    Architecture,
    ConvBlock,
    Dense,
    Layer,
    assemble,
    condition_of,
    decoder_outputs,
    is_deterministic,
)

#: more module calls than this on one side are drawn as one box: a long row of boxes tells less
MAX_BLOCKS = 10
#: examples in the dummy batch: more than one, so that no axis of size one is taken for the batch
BATCH = 2
#: layers that only rescale or reshape values, left out of a layer-by-layer drawing as the
#: dense diagram leaves them out
QUIET = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.Dropout, nn.Flatten, nn.Unflatten)


@dataclass(frozen=True, eq=False)
class Call:
    """One call of a module in a forward pass: its name in the net, the module, what it
    returned and, for a tensor, its shape per example. Calls compare by identity (``eq=False``):
    their outputs are tensors."""

    name: str
    module: nn.Module
    output: Any
    shape: tuple[int, ...] | None


class NotTraced(Exception):
    """A net's modules cannot be drawn one by one; the message says why, for the note."""


def traced_architecture(config: Any, net: str, title: str) -> Architecture:
    """Return the layers of the model ``config`` describes, whose net ``net`` is not the dense
    one, read from its modules built on the ``meta`` device."""
    from vaekit.training.build import meta_model

    model = meta_model(config)
    encoder, decoder = getattr(model, "encoder", None), getattr(model, "decoder", None)
    if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
        return _one_box_each(config, net, title, None, None, "the model cannot be built on the meta device")
    chain = _chain_architecture(config, model, title)
    if chain is not None:
        return chain
    try:
        return _module_architecture(config, model, net, title)
    except NotTraced as why:
        return _one_box_each(config, net, title, encoder, decoder, str(why))


def record_calls(modules: dict[str, nn.Module], run: Callable[[], Any]) -> tuple[list[Call], Any]:
    """Call ``run`` and return the outermost calls of ``modules`` (a call made inside another
    recorded call is part of that one), in the order they ran, with ``run``'s result."""
    calls: list[Call] = []
    depth = [0]
    names = {id(m): name for name, m in modules.items()}

    def enter(module: nn.Module, args: Any) -> None:
        depth[0] += 1

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        depth[0] -= 1
        if depth[0] == 0:
            calls.append(Call(names[id(module)], module, output, per_example_shape(output)))

    handles = []
    for module in modules.values():
        handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    try:
        result = run()
    finally:
        for handle in handles:
            handle.remove()
    return calls, result


def per_example_shape(output: Any) -> tuple[int, ...] | None:
    """Return the shape of one example of a batched tensor ``output``, None for anything else."""
    if torch.is_tensor(output) and output.dim() >= 1:
        return tuple(int(s) for s in output.shape[1:])
    return None


def trace(model: nn.Module, config: Any, leaves: bool) -> tuple[list[Call], list[Call], tuple[Any, Any], Any]:
    """Pass a dummy batch through ``model``'s encoder and then its decoder (as the model's
    forward pass does, a condition included; on the device of ``model``'s weights, ``meta``
    for the diagram) and return the calls of each, the encoder's
    ``(mu, logvar)`` and the decoder's output. ``leaves`` records the modules without children,
    else the outermost modules each side calls."""
    device = next((p.device for p in model.parameters()), torch.device("meta"))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()  # a model with real weights keeps its batch statistics
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            x = torch.zeros(BATCH, config.input_dim, device=device)
            cond = model.condition(_dummy_condition(model, device))
            enc_calls, heads = record_calls(_modules(model.encoder, leaves), lambda: model.encoder(x, cond))
            if not (isinstance(heads, tuple) and len(heads) == 2 and all(torch.is_tensor(h) for h in heads)):
                raise TypeError("the encoder does not return (mu, logvar)")
            dec_calls, params = record_calls(_modules(model.decoder, leaves), lambda: model.decoder(heads[0], cond))
    finally:
        for m, training in modes:
            m.training = training
    return enc_calls, dec_calls, heads, params


def _dummy_condition(model: nn.Module, device: torch.device) -> torch.Tensor | None:
    """Return the condition of the dummy batch: None for an unconditional model, else zero
    condition vectors ``[BATCH, cond_dim]`` (not class numbers, whose range check reads their
    values, which a ``meta`` tensor does not have)."""
    if not getattr(model, "conditional", False):
        return None
    return torch.zeros(BATCH, model.cond_dim, device=device)


def _modules(net: nn.Module, leaves: bool) -> dict[str, nn.Module]:
    """Return ``net``'s modules below itself by name: those without children, or all."""
    return {
        name: m for name, m in net.named_modules() if name and (not leaves or next(m.children(), None) is None)
    }


def _chain_types() -> tuple[type, ...]:
    """The net classes whose modules run one after another, each on the one before's output,
    so that drawing their layers in the order they ran is the whole picture."""
    from vaekit.nets.conv import ConvDecoder, ConvEncoder
    from vaekit.nets.mlp import GaussianEncoder, MLPDecoder

    return ConvEncoder, ConvDecoder, GaussianEncoder, MLPDecoder


def _chain_architecture(config: Any, model: nn.Module, title: str) -> Architecture | None:
    """Return the layers of a net built of the library's own chains (conv, dense), layer by
    layer, or None for any other net."""
    chains = _chain_types()
    # Exact types: a subclass may run its layers in another order.
    if type(model.encoder) not in chains or type(model.decoder) not in chains:
        return None
    try:
        enc_calls, dec_calls, heads, params = trace(model, config, leaves=True)
    except Exception:  # noqa: BLE001 - drawn from its modules instead, as a plugin's net is
        return None
    head_calls = [c for c in enc_calls if any(c.output is h for h in heads)]
    if len(head_calls) != 2 or not all(isinstance(c.module, nn.Linear) for c in head_calls):
        return None
    encoder = _chain_layers([c for c in enc_calls if c not in head_calls], "enc")
    if dec_calls and isinstance(dec_calls[-1].module, nn.Linear):
        # The last dense layer's weights are the edges into the output column.
        dec_calls = dec_calls[:-1]
    decoder = _chain_layers(dec_calls, "dec")
    if encoder is None or decoder is None:
        return None
    return vae_architecture(config, encoder, heads[0].shape[-1], decoder, _outputs(params), title)


def _chain_layers(calls: list[Call], side: str) -> list[Layer] | None:
    """Return the layers a chain's calls draw: dense layers as columns ``enc1``, ``enc2``...,
    conv stages as blocks; None where a call is of a kind this drawing does not know."""
    layers: list[Layer] = []
    for call in calls:
        m = call.module
        name = f"{side}{len(layers) + 1}"
        if isinstance(m, nn.Linear):
            layers.append(Dense(m.out_features, "hidden", name))
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            layers.append(conv_block(m, call.shape, name))
        elif isinstance(m, QUIET) or not any(True for _ in m.parameters()):
            continue  # activations and normalisations: not drawn, as in the dense diagram
        else:
            return None
    return layers


def conv_block(m: nn.Conv2d | nn.ConvTranspose2d, shape: tuple[int, ...] | None, name: str) -> ConvBlock:
    """Return the block of a conv stage: ``conv 32`` (``deconv`` for a transposed one), its
    kernel and stride, and the channels x height x width it gives."""
    kind = "deconv" if isinstance(m, nn.ConvTranspose2d) else "conv"
    detail = f"{_pair(m.kernel_size)}, stride {_pair(m.stride, single=True)}"
    return ConvBlock(f"{kind} {m.out_channels}", detail, name, shape_text(shape))


def _pair(value: tuple[int, ...], single: bool = False) -> str:
    """Write a kernel size or stride: ``3x3``; a stride the same on both axes as ``2``."""
    if single and len(set(value)) == 1:
        return str(value[0])
    return "x".join(str(v) for v in value)


def shape_text(shape: tuple[int, ...] | None) -> str:
    """Write what one example leaves a block as: ``32x14x14``, or ``64 units`` for a vector."""
    if not shape:
        return ""
    if len(shape) == 1:
        return f"{shape[0]} units"
    return "x".join(str(s) for s in shape)


def _module_architecture(config: Any, model: nn.Module, net: str, title: str) -> Architecture:
    """Return a net the diagram does not know drawn as the modules its encoder and decoder
    call, one box each, in the order they ran; raise ``NotTraced`` where that cannot be drawn
    or would not account for every parameter."""
    try:
        enc_calls, dec_calls, heads, params = trace(model, config, leaves=False)
    except Exception as exc:  # noqa: BLE001 - a plugin's forward that needs real values: one box each
        raise NotTraced("its forward pass cannot run on the meta device") from exc
    head_calls = [c for c in enc_calls if any(c.output is h for h in heads)]
    if len(head_calls) != 2 or not all(isinstance(c.module, nn.Linear) for c in head_calls):
        head_calls = []  # the heads are inside a box: the mu and sigma boxes show its two outputs
    encoder = _module_blocks(model.encoder, enc_calls, head_calls, "encoder")
    decoder = _module_blocks(model.decoder, dec_calls, [], "decoder")
    note = (
        f"the {net} net drawn as the modules its encoder and decoder call, in the order they run; "
        "what is inside a box, and any connection that skips one, is not drawn"
    )
    arch = vae_architecture(config, encoder, heads[0].shape[-1], decoder, _outputs(params), title)
    if arch.condition is not None:
        # The net is handed y as a whole: which of its modules read it is not traced.
        note += "; y is drawn into the first box of each side, which may not be the module that reads it"
    return replace(arch, note=note)


def _module_blocks(net: nn.Module, calls: list[Call], heads: list[Call], side: str) -> list[Layer]:
    """Return one box per call but the heads (its name in ``net`` and class, its parameter
    count and output size); raise ``NotTraced`` where ``side`` (``encoder`` or ``decoder``)
    calls no module or too many, or has parameters outside the modules it calls (an
    ``nn.Parameter`` of its own)."""
    called = {id(c.module): c.module for c in calls}
    if not calls:
        raise NotTraced(f"its {side} calls no submodule")
    if len(calls) > MAX_BLOCKS + len(heads):
        raise NotTraced(f"its {side} calls {len(calls)} modules, more than {MAX_BLOCKS} boxes")
    if sum(_count(m) for m in called.values()) != _count(net):
        raise NotTraced(f"some of its {side}'s parameters are outside the modules it calls")
    return [
        ConvBlock(
            f"{c.name}: {type(c.module).__name__}",
            _parameters_text(_count(c.module)),
            f"{side[:3]}{i}",
            shape_text(c.shape),
            "module",
        )
        for i, c in enumerate((c for c in calls if c not in heads), start=1)
    ]


def _one_box_each(
    config: Any, net: str, title: str, encoder: nn.Module | None, decoder: nn.Module | None, why: str
) -> Architecture:
    """Return the net drawn as one box for the encoder and one for the decoder, with their
    parameter counts where the modules were built, between the true input, latent and output
    sizes, under a note saying the inside is not drawn and why."""

    def box(part: str, module: nn.Module | None) -> ConvBlock:
        detail = _parameters_text(_count(module)) if module is not None else ""
        return ConvBlock(f"{net} {part}", detail, part, kind="net")

    outputs = decoder_outputs(config)
    note = f"the {net} net's encoder and decoder are drawn as one box each: {why}, so their layers are not drawn"
    arch = vae_architecture(config, [box("encoder", encoder)], config.model.latent_dim, [box("decoder", decoder)], outputs, title)
    return replace(arch, note=note)


def vae_architecture(
    config: Any, encoder: list[Layer], latent_dim: int, decoder: list[Layer], outputs: int | None, title: str
) -> Architecture:
    """Return input, ``encoder``, the mu/sigma heads and the sample (a deterministic family's
    code z instead), ``decoder`` and the output (``outputs`` units where that is not one per
    value), with the condition y of a conditional family."""
    return assemble(
        config.input_dim,
        encoder,
        latent_dim,
        decoder,
        title,
        outputs,
        deterministic=is_deterministic(config),
        condition=condition_of(config),
    )


def _outputs(params: Any) -> int | None:
    """Return the decoder's number of outputs per example, None where it gave no tensor."""
    shape = per_example_shape(params)
    if shape is None:
        return None
    count = 1
    for s in shape:
        count *= s
    return count


def _count(module: nn.Module) -> int:
    """Return the number of parameters of ``module`` (on ``meta`` too)."""
    return sum(p.numel() for p in module.parameters())


def _parameters_text(count: int) -> str:
    """Write a parameter count: ``50,240 parameters``."""
    return f"{count:,} parameter{'s' if count != 1 else ''}" if count else "no parameters"
