"""Assembling a model's parts (nets, likelihood, prior) from a run config, by registry name."""

from __future__ import annotations

from typing import Any

from vaekit.config import RunConfig
from vaekit.construct import accepted_options, construct
from vaekit.distributions import LIKELIHOODS, PRIORS
from vaekit.runtime.errors import ConfigError
from vaekit.nets import NetSpec, create_nets


def default_likelihood(value_range: str | None) -> str:
    """Return the likelihood name that fits data with this value range."""
    return "gaussian" if value_range == "real" else "bernoulli"


def build_likelihood(config: RunConfig) -> Any:
    """Return the likelihood ``config.model.likelihood`` names (default: from the data)."""
    m = config.model
    name = m.likelihood or default_likelihood(config.value_range)
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ConfigError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}") from None
    what = f"the {name} likelihood"
    needs_levels = "levels" in accepted_options(cls)
    if needs_levels and config.levels is None:
        raise ConfigError(f"{what} needs data with known grey levels (e.g. images); this data has none")
    return construct(
        cls,
        what,
        required={"dim": config.input_dim},
        user={
            "sigma": ("--sigma", m.sigma),
            "sigma_type": ("--sigma-type", m.sigma_type),
            "mixtures": ("--mixtures", m.mixtures),
            "groups": ("--categorical-groups", m.categorical_groups),
        },
        derived={"levels": config.levels},
    )


def build_parts(model_cls: type, config: RunConfig) -> dict[str, Any]:
    """Return the keyword arguments of ``model_cls(...)``: sizes, encoder, decoder, likelihood, prior."""
    m = config.model
    likelihood = build_likelihood(config)
    spec = NetSpec(
        input_shape=tuple(config.input_shape or ()),
        latent_dim=m.latent_dim,
        params_per_dim=likelihood.params_per_dim,
        encoder_hidden=list(m.encoder),
        decoder_hidden=m.decoder_hidden(),
        activation=m.activation,
        normalization=m.normalization,
        cond_dim=model_cls.condition_dim(config),
        channels=m.channels,
    )
    try:
        encoder, decoder = create_nets(m.net, spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    prior_name = model_cls.prior_name
    prior = construct(
        PRIORS[prior_name],
        f"the {prior_name} prior of model {m.name}",
        required={"latent_dim": m.latent_dim},
        user={"pseudo_inputs": ("--pseudo-inputs", m.pseudo_inputs)},
        derived={"input_dim": config.input_dim, "encoder": encoder},
    )
    return {
        "input_dim": config.input_dim,
        "latent_dim": m.latent_dim,
        "encoder": encoder,
        "decoder": decoder,
        "likelihood": likelihood,
        "prior": prior,
    }
