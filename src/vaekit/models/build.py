"""Building a model from its spec: the family, its nets, likelihood and prior, each by registry
name with its own options.

The spec is plain data, the ``model`` section of a run's ``config.json``::

    {"name": "vae", "latent_dim": 8, "options": {},
     "net": {"name": "mlp", "encoder": [256, 128]},
     "likelihood": {"name": null}, "prior": {"name": null}, "objective": {"name": null}}

A piece whose ``name`` is null takes its default: the likelihood from the data's value range,
the prior from the family. The facts about the data come in a :class:`DataFacts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from vaekit.distributions import LIKELIHOODS, PRIORS
from vaekit.models.registry import MODELS
from vaekit.nets import NETS, NetSpec
from vaekit.runtime.construct import accepted_options
from vaekit.runtime.errors import ConfigError


@dataclass(frozen=True)
class DataFacts:
    """What a model must know of its data: the shape of one example, its value range
    ("binary", "unit", "real"), grey levels (None for tables), label classes (None when
    unlabelled), the data's name (for messages) and, for a table read with its schema, the
    codec's blocks (JSON-able dicts, see ``MixedLikelihood``; None otherwise)."""

    input_shape: tuple[int, ...]
    value_range: str | None = None
    levels: int | None = None
    num_classes: int | None = None
    data_name: str = "the data"
    table_blocks: Sequence[Mapping[str, Any]] | None = None

    @property
    def input_dim(self) -> int:
        """Number of values D of one flattened example."""
        return math.prod(self.input_shape)


def default_likelihood(value_range: str | None, table_blocks: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Return the likelihood name that fits data with this value range: "mixed" for a table
    with its codec's ``table_blocks``."""
    if table_blocks is not None:
        return "mixed"
    return "gaussian" if value_range == "real" else "bernoulli"


def split_piece(piece: Mapping[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    """Return a piece's ``(name, options)`` from its mapping ``{"name": ..., **options}``."""
    options = dict(piece or {})
    return options.pop("name", None), options


def likelihood_name(spec: Mapping[str, Any], facts: DataFacts) -> str:
    """Return the name of the model's likelihood: the spec's, else the data's default."""
    name, _ = split_piece(spec.get("likelihood"))
    return name or default_likelihood(facts.value_range, facts.table_blocks)


def build_likelihood(spec: Mapping[str, Any], facts: DataFacts) -> nn.Module:
    """Return the likelihood the spec names (default: from the data) with its options."""
    name = likelihood_name(spec, facts)
    _, options = split_piece(spec.get("likelihood"))
    what = f"likelihood {name!r}"
    accepts = accepted_options(LIKELIHOODS.get_factory(name))
    if "levels" in accepts and facts.levels is None:
        raise ConfigError(f"{what} needs data with known grey levels (e.g. images); this data has none")
    if "blocks" in accepts and facts.table_blocks is None:
        raise ConfigError(f"{what} needs a table read with its schema (a .csv/.tsv/.parquet file)")
    blocks = None if facts.table_blocks is None else [dict(b) for b in facts.table_blocks]
    return LIKELIHOODS.build(
        name, options, required={"dim": facts.input_dim}, derived={"levels": facts.levels, "blocks": blocks}
    )


def create(spec: Mapping[str, Any], facts: DataFacts) -> nn.Module:
    """Build the model ``spec`` describes for data with ``facts``; a bad name or option raises
    ``ConfigError`` naming the piece and the options it takes."""
    name = spec.get("name", "vae")
    family = MODELS.get_factory(name)
    latent_dim = spec.get("latent_dim", 8)
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ConfigError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    likelihood = build_likelihood(spec, facts)
    cond_dim = family.condition_dim(facts)
    net_name, net_options = split_piece(spec.get("net"))
    # A likelihood with its own output layout (num_params) sizes the decoder by it.
    output_dim = getattr(likelihood, "num_params", None)
    net_spec = NetSpec(tuple(facts.input_shape), latent_dim, likelihood.params_per_dim, cond_dim, output_dim)
    encoder, decoder = NETS.build(net_name or "mlp", net_options, required={"spec": net_spec})
    prior_name, prior_options = split_piece(spec.get("prior"))
    prior_name = prior_name or family.prior_name
    prior = PRIORS.build(
        prior_name,
        prior_options,
        required={"latent_dim": latent_dim},
        derived={"input_dim": facts.input_dim, "encoder": encoder},
        what=f"prior {prior_name!r} of model {name!r}",
    )
    parts = {
        "input_dim": facts.input_dim,
        "latent_dim": latent_dim,
        "encoder": encoder,
        "decoder": decoder,
        "likelihood": likelihood,
        "prior": prior,
    }
    return MODELS.build(name, spec.get("options") or {}, required=parts, derived={"cond_dim": cond_dim})
