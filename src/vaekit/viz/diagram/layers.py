"""The network as a list of layers to draw, derived from a run's config.

The diagram is drawn from this description rather than from the config directly, so that a new
kind of layer (a conv net's blocks) is a new ``Layer`` type plus one case in the layout, not a
change to every renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dense:
    """A dense layer of ``width`` units, drawn as a column of circles.

    ``role`` is ``"input"`` (labelled x_1..x_D), ``"output"`` (labelled x-hat_1..x-hat_D) or
    ``"hidden"``; ``name`` identifies the column in the drawing (e.g. ``enc1``). ``outputs`` is
    the output layer's number of units where the likelihood takes more than one parameter per
    value (a location and a scale: ``2 * width``), None where it is ``width``."""

    width: int
    role: str = "hidden"
    name: str = ""
    outputs: int | None = None


@dataclass(frozen=True)
class GaussianHeads:
    """The posterior's two heads, mu and sigma, each of ``width`` (= latent_dim) units, fed by
    every unit of the layer before; drawn as a yellow box over a blue box."""

    width: int


@dataclass(frozen=True)
class Sample:
    """The reparameterised sample z = mu + sigma * eps (``width`` = latent_dim units), fed
    element-wise by both heads; drawn as a green box."""

    width: int


@dataclass(frozen=True)
class ConvBlock:
    """A convolutional (or any non-dense) stage, drawn as one labelled block, e.g.
    ``ConvBlock("conv 32", "4x4, stride 2", shape="32x14x14")``.

    ``shape`` is what one example leaves the block as, written under it; ``kind`` names the
    box (``conv`` for a conv stage, ``module`` for a part of a net the diagram does not know,
    ``net`` for a whole encoder or decoder drawn as one box)."""

    label: str
    detail: str = ""
    name: str = ""
    shape: str = ""
    kind: str = "conv"


Layer = Dense | GaussianHeads | Sample | ConvBlock


@dataclass(frozen=True)
class Architecture:
    """The layers of a VAE from input to output, in drawing order."""

    layers: tuple[Layer, ...]
    title: str = ""
    #: a line under the drawing on what it leaves out (a hierarchy's upper layers, a flow)
    note: str = ""


def dense_vae(
    input_dim: int, encoder: list[int], latent_dim: int, decoder: list[int], title: str = "", outputs: int | None = None
) -> Architecture:
    """Return the founding diagram's shape for a dense VAE: input, encoder hidden layers,
    mu/sigma heads, sample, decoder hidden layers, output (``input_dim`` values again, in
    ``outputs`` units where the likelihood takes several parameters per value)."""
    layers: list[Layer] = [Dense(input_dim, "input", "input")]
    layers += [Dense(w, "hidden", f"enc{i + 1}") for i, w in enumerate(encoder)]
    layers += [GaussianHeads(latent_dim), Sample(latent_dim)]
    layers += [Dense(w, "hidden", f"dec{i + 1}") for i, w in enumerate(decoder)]
    layers.append(Dense(input_dim, "output", "output", outputs if outputs != input_dim else None))
    return Architecture(tuple(layers), title)


def decoder_outputs(config: Any) -> int | None:
    """Return the number of decoder outputs of the model ``config`` describes (the likelihood's
    parameters of every value: ``2 * input_dim`` for a location and a scale), or None where the
    model cannot be sized without building it for real."""
    from vaekit.training.build import meta_model

    model = meta_model(config)
    likelihood = getattr(model, "likelihood", None)
    if likelihood is None:
        return None
    return getattr(likelihood, "num_params", None) or config.input_dim * likelihood.params_per_dim


def left_out(model: str, options: dict[str, Any]) -> str:
    """Return what the founding diagram's shape leaves out of model ``model`` with family
    ``options``: a hierarchy's upper stochastic layers and an IAF posterior's steps ("" for none)."""
    parts = []
    if model in ("hvae", "lvae"):
        upper = options.get("upper_latents")
        widths = f" ({', '.join(str(w) for w in upper)} units)" if upper else ""
        parts.append(f"z is z1 of the {model} hierarchy; its upper stochastic layers{widths} are not drawn")
    steps = options.get("flow_steps") or 0
    if steps:
        parts.append(f"q(z|x) goes on through {steps} IAF step{'s' if steps != 1 else ''}, not drawn")
    return "; ".join(parts)
