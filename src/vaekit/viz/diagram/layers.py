"""The network as a list of layers to draw, derived from a run's config.

The diagram is drawn from this description rather than from the config directly, so that a new
kind of layer (a conv net's blocks) is a new ``Layer`` type plus one case in the layout, not a
change to every renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
class Code:
    """A deterministic model's code z (``width`` = latent_dim units), fed by every unit of the
    layer before: the plain autoencoder has no mu, sigma or sample between its encoder and its
    decoder. Drawn as a column in a grey box."""

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


Layer = Dense | GaussianHeads | Sample | Code | ConvBlock


@dataclass(frozen=True)
class Condition:
    """A conditional model's second input y: ``width`` values (a one-hot class, or a vector)
    that the layers named in ``feeds`` take with their other input (the encoder's layer that
    reads x, the decoder's that reads z). ``detail`` says what y is, e.g. ``10 classes,
    one-hot``. Drawn as a column under the input with lines into each layer it feeds."""

    width: int
    detail: str = ""
    feeds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Architecture:
    """The layers of a VAE from input to output, in drawing order, and the condition y that
    a conditional model's encoder and decoder also take (None for the others)."""

    layers: tuple[Layer, ...]
    title: str = ""
    #: a line under the drawing on what it leaves out (a hierarchy's upper layers, a flow)
    note: str = ""
    condition: Condition | None = None


def dense_vae(
    input_dim: int,
    encoder: list[int],
    latent_dim: int,
    decoder: list[int],
    title: str = "",
    outputs: int | None = None,
    *,
    deterministic: bool = False,
    condition: Condition | None = None,
) -> Architecture:
    """Return the founding diagram's shape for a dense VAE: input, encoder hidden layers,
    mu/sigma heads, sample, decoder hidden layers, output (``input_dim`` values again, in
    ``outputs`` units where the likelihood takes several parameters per value). A
    ``deterministic`` model has the code z in place of the heads and the sample; a
    ``condition`` is fed to the first layer of each side (see :func:`assemble`)."""
    return assemble(
        input_dim,
        [Dense(w, "hidden", f"enc{i + 1}") for i, w in enumerate(encoder)],
        latent_dim,
        [Dense(w, "hidden", f"dec{i + 1}") for i, w in enumerate(decoder)],
        title,
        outputs,
        deterministic=deterministic,
        condition=condition,
    )


def assemble(
    input_dim: int,
    encoder: list[Layer],
    latent_dim: int,
    decoder: list[Layer],
    title: str = "",
    outputs: int | None = None,
    *,
    deterministic: bool = False,
    condition: Condition | None = None,
) -> Architecture:
    """Return input, ``encoder``, the latent layers (:func:`latent_layers`), ``decoder`` and
    the output (``outputs`` units where that is not one per value), with ``condition`` fed
    where :func:`condition_feeds` says unless it names its layers itself."""
    layers: list[Layer] = [Dense(input_dim, "input", "input"), *encoder, *latent_layers(latent_dim, deterministic)]
    layers += [*decoder, Dense(input_dim, "output", "output", outputs if outputs not in (None, input_dim) else None)]
    if condition is not None and not condition.feeds:
        condition = replace(condition, feeds=condition_feeds(encoder, decoder, deterministic))
    return Architecture(tuple(layers), title, condition=condition)


def latent_layers(latent_dim: int, deterministic: bool) -> list[Layer]:
    """Return what lies between the encoder and the decoder: the mu/sigma heads and the
    sample, or for a ``deterministic`` model (the plain autoencoder) its code z alone."""
    if deterministic:
        return [Code(latent_dim)]
    return [GaussianHeads(latent_dim), Sample(latent_dim)]


def condition_feeds(encoder: list[Layer], decoder: list[Layer], deterministic: bool) -> tuple[str, str]:
    """Return the names of the layers the condition y is fed to: on each side the first layer
    that is not a conv stage, since the library's nets append y to the input of their first
    dense layer (and a net drawn as boxes gets y with x or z); else the latent layer (the
    heads, or the code) on the encoder's side and the output on the decoder's."""
    latent = "z" if deterministic else "heads"
    return _first_reader(encoder, latent), _first_reader(decoder, "output")


def _first_reader(side: list[Layer], otherwise: str) -> str:
    """Return the name of the first layer of ``side`` that can read y, or ``otherwise``."""
    for layer in side:
        if isinstance(layer, Dense) or (isinstance(layer, ConvBlock) and layer.kind != "conv"):
            return layer.name
    return otherwise


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


def is_deterministic(config: Any) -> bool:
    """Return True where the model family of ``config`` has no posterior to sample (its
    ``variational`` is False: the plain autoencoder, whose encoder gives the code z)."""
    from vaekit.models.registry import MODELS

    return not getattr(MODELS.get_factory(config.model.name), "variational", True)


def condition_of(config: Any) -> Condition | None:
    """Return the condition y the model of ``config`` (bound to data) takes with x and z, or
    None for an unconditional family; its detail names the classes it is one-hot over (a
    table's condition columns), else its width."""
    from vaekit.models.registry import MODELS
    from vaekit.training.build import data_facts

    width = MODELS.get_factory(config.model.name).condition_dim(data_facts(config))
    if not width:
        return None
    return Condition(width, _condition_detail(config, width))


def _condition_detail(config: Any, width: int) -> str:
    """Say what a condition of ``width`` values is: the data's classes, one-hot (for a table,
    the joint values of its condition columns), or else a vector of that many dims."""
    if width != config.num_classes:
        return f"{width} dims"
    if config.table is not None:
        from vaekit.data.tables import TableCodec

        columns = TableCodec.from_dict(config.table).condition_on
        if columns:
            return f"{width} values of {', '.join(columns)}, one-hot"
    return f"{width} classes, one-hot"
