"""The architecture a run's config describes: the dense net from its widths, any other net
(``conv``, a plugin's) traced from the modules it builds."""

from __future__ import annotations

import dataclasses
from typing import Any

from vaekit.viz.diagram.layers import (
    Architecture,
    condition_of,
    decoder_outputs,
    dense_vae,
    is_deterministic,
    left_out,
)


def architecture_from_config(config: Any) -> Architecture:
    """Return the layers of the model a ``RunConfig`` (bound to data) describes.

    The dense net is drawn from its widths in the config; any other net (``conv``, a plugin's)
    from the modules it builds (:mod:`vaekit.viz.diagram.traced`), never as default widths.
    A deterministic family (``ae``) is drawn with its code z in place of mu, sigma and the
    sample; a conditional one (``cvae``) with the condition y its encoder and decoder take."""
    m = config.model
    title = f"{m.name}: {config.data.name}" + (f" ({m.preset} preset)" if m.preset else "")
    net = m.net.get("name") or "mlp"
    if net != "mlp":
        from vaekit.viz.diagram.traced import traced_architecture  # torch, only for nets it must trace

        arch = traced_architecture(config, net, title)
        return dataclasses.replace(arch, note="; ".join(n for n in (arch.note, left_out(m.name, m.options)) if n))
    from vaekit.nets.registry import hidden_widths

    encoder, decoder = hidden_widths(m.net.get("encoder"), m.net.get("decoder"))
    arch = dense_vae(
        config.input_dim,
        encoder,
        m.latent_dim,
        decoder,
        title,
        decoder_outputs(config),
        deterministic=is_deterministic(config),
        condition=condition_of(config),
    )
    return dataclasses.replace(arch, note=left_out(m.name, m.options))
