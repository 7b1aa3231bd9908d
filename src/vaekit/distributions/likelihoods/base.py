"""The likelihood interface and its registry by name.

Every ``log_prob`` returns nats per example (summed over the D data dimensions), shape ``[...]``
for inputs ``x`` ``[B, D]`` and parameters ``[..., B, D * params_per_dim]`` (leading sample
dimensions broadcast). Parameters are laid out parameter-major: the first D values are the
first parameter of every dimension, the next D the second, and so on.

Each family records which kinds of data it is a true likelihood for (``exact_for``), so that
evaluation never calls a Bernoulli score of grey levels an NLL.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry


class Likelihood(nn.Module):
    """Base class. ``params_per_dim`` decoder outputs are produced for each data dimension."""

    name: str = ""
    params_per_dim: int = 1
    #: value ranges ("binary", "unit", "real") on which ``log_prob`` is a normalised density/mass
    exact_for: frozenset[str] = frozenset()
    #: whether a fresh decoder starts from the data's marginals unless told otherwise
    #: (``train.output_bias: auto``); a likelihood offers them with ``start_from_marginals(x)``
    marginals_by_default: bool = False

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return log p(x|params) in nats per example, summed over D; shape ``params.shape[:-1]``."""
        raise NotImplementedError(_missing(self, "log_prob"))

    def log_prob_terms(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Return the terms of :meth:`log_prob` per feature, nats, ``[..., F]``: F = D for a
        likelihood that factorises over the data dimensions (a table's ``mixed`` likelihood
        gives one per column block). They sum to ``log_prob``; they explain anomaly scores
        (``explain``), which a likelihood without them refuses with ``ConfigError``."""
        raise ConfigError(
            f"the {self.name or type(self).__name__!r} likelihood does not give per-feature terms, which explaining "
            f"a score needs: define its log_prob_terms(x, params), returning the nats of each feature [..., D] "
            f"that sum to log_prob (see docs/extending.md), or use score() for the scores alone"
        )

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """Return E[x|z], ``[..., D]``, in data units."""
        raise NotImplementedError(_missing(self, "mean"))

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        """Return a draw x ~ p(x|z), ``[..., D]``."""
        raise NotImplementedError(_missing(self, "sample"))

    def split_params(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the ``params_per_dim`` parameter tensors, each ``[..., D]``."""
        return params.chunk(self.params_per_dim, dim=-1)


#: what a likelihood must define, with its signature, for messages
LIKELIHOOD_METHODS = {
    "log_prob": "log_prob(self, x, params) -> [...] nats per example",
    "mean": "mean(self, params) -> [..., D], E[x|z] in data units (pictures, reconstructions)",
    "sample": "sample(self, params) -> [..., D], a draw x ~ p(x|z) (samples.png, vaekit sample)",
}


def _missing(likelihood: Any, method: str) -> str:
    """Return the message for a likelihood without ``method``: what to define."""
    return (
        f"the {likelihood.name or type(likelihood).__name__!r} likelihood does not define {method}: define "
        f"{LIKELIHOOD_METHODS[method]} (see docs/extending.md)"
    )


def _check_likelihood_class(name: str, factory: Any) -> None:
    """Refuse, when it registers, a likelihood class that leaves a method training, evaluation or
    the pictures call to the base class, or whose ``params_per_dim`` is not a positive integer."""
    if not isinstance(factory, type) or not issubclass(factory, Likelihood):
        return
    missing = [m for m in LIKELIHOOD_METHODS if getattr(factory, m) is getattr(Likelihood, m)]
    if missing:
        raise ConfigError(
            f"likelihood {name!r}: {factory.__name__} does not define {' or '.join(missing)}, which vaekit calls: "
            f"define {'; '.join(LIKELIHOOD_METHODS[m] for m in missing)} (see docs/extending.md)"
        )
    _check_params_per_dim(name, factory.params_per_dim, factory.__name__)


def _check_params_per_dim(name: str, value: Any, owner: str) -> None:
    """Refuse a ``params_per_dim`` that is not a positive integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"likelihood {name!r}: {owner}.params_per_dim is {value!r}; set it to the number of decoder outputs "
            f"per data dimension that log_prob reads, a positive integer (e.g. params_per_dim = 2 for a location "
            f"and a scale)"
        )


def _checked_likelihood(name: str, likelihood: Any, required: Any) -> Any:
    """Return a likelihood just built, once its ``params_per_dim`` (which ``__init__`` may set)
    is checked and, for one from outside vaekit, ``log_prob`` has split dummy parameters into as
    many parts as it reads (the usual sign of a ``params_per_dim`` left at the default 1)."""
    if not isinstance(likelihood, Likelihood):
        return likelihood
    _check_params_per_dim(name, likelihood.params_per_dim, type(likelihood).__name__)
    dim = required.get("dim")
    if type(likelihood).__module__.startswith("vaekit.") or not isinstance(dim, int) or getattr(
        likelihood, "num_params", None
    ) is not None:
        return likelihood
    x = torch.full((1, dim), 0.5)
    params = torch.zeros(1, dim * likelihood.params_per_dim)
    try:
        with torch.no_grad():
            likelihood.log_prob(x, params)
    except ValueError as exc:
        if "values to unpack" not in str(exc):
            return likelihood  # the dummy values may be outside its support: not this check's business
        raise ConfigError(
            f"likelihood {name!r}: log_prob could not split its parameters ({exc}): its params_per_dim is "
            f"{likelihood.params_per_dim}, the number of parts split_params gives; set params_per_dim (a class "
            f"attribute, or self.params_per_dim in __init__) to the number of decoder outputs per data dimension "
            f"log_prob reads (see docs/extending.md)"
        ) from exc
    except Exception:  # the dummy values may be outside its support: not this check's business
        return likelihood
    return likelihood


#: every likelihood by name; the library supplies ``dim`` (D) and, to those that take it,
#: ``levels`` (grey levels of the data) and ``blocks`` (a table's column blocks, from its
#: codec); other keyword arguments are the user's options
LIKELIHOODS: Registry[type[Likelihood]] = Registry(
    "likelihood",
    supplied=("dim", "levels", "blocks"),
    required=("dim",),
    base="vaekit.distributions.likelihoods:Likelihood",
    check_piece=_check_likelihood_class,
    check_built=_checked_likelihood,
)
register_likelihood = LIKELIHOODS.register


def create_likelihood(name: str, dim: int, **options: object) -> Likelihood:
    """Build the likelihood registered as ``name`` for ``dim`` data dimensions."""
    return LIKELIHOODS.build(name, options, required={"dim": dim})


def likelihood_is_exact(likelihood: Any, value_range: str | None, dequantize: str = "none") -> bool:
    """Return True when ``likelihood.log_prob`` is a normalised density or mass for the data the
    model is evaluated on, so that its bound may be called a log-likelihood.

    Uniformly dequantised pixels are continuous values in [0, 1): any density on the real line
    (``"real"`` in ``exact_for``) is a (sub-)normalised density for them. Otherwise the data's
    value range (``"binary"``, ``"unit"``, ``"real"``) must be one the likelihood is exact for."""
    if dequantize == "uniform":
        return "real" in likelihood.exact_for
    return value_range in likelihood.exact_for
