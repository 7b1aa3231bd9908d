"""Turning a run config into its model and objective, through the registries, after checking
that the model fits in memory (counted on the ``meta`` device, which allocates nothing)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from vaekit import objectives
from vaekit._version import __version__
from vaekit.config import INITS, LEGACY_MODEL_OPTIONS, OUTPUT_BIASES, PIECES, RunConfig
from vaekit.data.units import to_model_units
from vaekit.distributions import LIKELIHOODS, PRIORS
from vaekit.models import MODELS, DataFacts, create
from vaekit.models.build import likelihood_name, split_piece
from vaekit.nets import NETS
from vaekit.runtime.errors import ConfigError, VaekitError
from vaekit.runtime.memory import available_bytes, require_memory
from vaekit.runtime.versions import is_newer

#: bytes per float32 parameter for the weights alone (building or loading a model)
WEIGHT_BYTES = 4
#: bytes per parameter while training with Adam: the weight, its gradient and two moments
TRAINING_BYTES_PER_PARAMETER = 16
#: bytes per activation value while training: the value kept for the backward pass and its gradient
TRAINING_BYTES_PER_ACTIVATION = 8
#: what to try when a model does not fit
SMALLER = "choose a smaller --latent, narrower --encoder/--decoder widths or a smaller --image-size"


def data_facts(config: RunConfig) -> DataFacts:
    """Return what the model must know of the data a config is bound to (its shape, value
    range, grey levels, label classes and, for a table, the blocks of its mixed likelihood)."""
    if config.input_shape is None:
        raise ValueError("the config is not bound to data: input_shape is not set")
    blocks = None
    if config.table is not None:
        from vaekit.data.tables import TableCodec

        blocks = TableCodec.from_dict(config.table).blocks
    return DataFacts(
        input_shape=tuple(config.input_shape),
        value_range=config.value_range,
        levels=config.levels,
        num_classes=config.num_classes,
        data_name=config.data.name,
        table_blocks=blocks,
    )


def build_model(config: RunConfig, check_memory: bool = True, record_options: bool = True) -> nn.Module:
    """Return the model ``config.model`` describes, sized for the data it is bound to.

    A model whose weights cannot fit in this machine's free memory is refused first
    (``ConfigError`` with the estimate), rather than failing inside the allocator;
    ``check_memory=False`` skips that for a caller that has checked more already
    (:func:`check_training_memory`).

    Once the model is built, ``config.model`` records every piece's resolved name and options
    (:func:`record_piece_options`), so that the config a training saves rebuilds this model
    whatever the defaults become; ``record_options=False`` leaves ``config`` as it was read (a
    loaded run keeps showing what its config.json holds)."""
    check_family_options(config)
    meta = meta_model(config) if check_memory else None
    if meta is not None:
        count = parameter_count(meta)
        require_memory(WEIGHT_BYTES * count, f"the model's {count:,} parameters", advice=SMALLER)
    with _newer_version_note(config):
        model = create(dataclasses.asdict(config.model), data_facts(config))
    if record_options:
        # After the build, from the config as given: an old run resumed here is built exactly as
        # before, and records the defaults it was built with at its next saved config.
        record_piece_options(config)
    return model


#: the net a model is built with when its config names none (as ``vaekit.models.build.create`` does)
DEFAULT_NET = "mlp"


class _Unrecordable:
    """The marker of a default that JSON cannot hold (an object, an infinite number)."""


_UNRECORDABLE = _Unrecordable()


def json_plain(value: Any) -> Any:
    """Return ``value`` as plain JSON data (a tuple becomes a list), or ``_UNRECORDABLE`` when
    JSON cannot hold it exactly (an object, a non-finite number, a mapping with non-text keys)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _UNRECORDABLE
    if isinstance(value, list | tuple):
        items = [json_plain(v) for v in value]
        return _UNRECORDABLE if any(v is _UNRECORDABLE for v in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        entries = {k: json_plain(v) for k, v in value.items()}
        return _UNRECORDABLE if any(v is _UNRECORDABLE for v in entries.values()) else entries
    return _UNRECORDABLE


def _piece_registries() -> dict[str, Any]:
    """Return the registry that builds each piece of ``config.model`` (``PIECES``)."""
    return {"net": NETS, "likelihood": LIKELIHOODS, "prior": PRIORS, "objective": objectives.OBJECTIVES}


def piece_names(config: RunConfig) -> dict[str, str]:
    """Return the name of each piece of ``config.model`` and of its family (key ``"model"``) as
    the model is built: the config's, else the default (the likelihood from the data, the prior
    and objective from the family). An unknown family raises ``ConfigError``."""
    spec = dataclasses.asdict(config.model)
    family = MODELS.get_factory(config.model.name)
    given = {piece: split_piece(spec[piece])[0] for piece in PIECES}
    return {
        "model": config.model.name,
        "net": given["net"] or DEFAULT_NET,
        "likelihood": likelihood_name(spec, data_facts(config)),
        "prior": given["prior"] or family.prior_name,
        "objective": given["objective"] or getattr(family, "objective_name", "elbo"),
    }


def resolved_options(registry: Any, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Return piece ``name``'s options as it is built: each default of its registered
    constructor (in the constructor's order, as JSON data) with the ``given`` options over
    them; a default that JSON cannot hold is left out (the code's default applies)."""
    options = {}
    for option, default in registry.options(name).items():
        if option in given:
            options[option] = given[option]
        elif (plain := json_plain(default)) is not _UNRECORDABLE:
            options[option] = plain
    return {**options, **{k: v for k, v in given.items() if k not in options}}


def resolved_model_section(config: RunConfig) -> dict[str, Any]:
    """Return ``{piece: {"name": ..., **options}}`` for each piece of ``config.model`` and
    ``{"options": ...}`` for its family, every option resolved (:func:`resolved_options`) and
    every name the one the model is built with (:func:`piece_names`). ``config`` is unchanged;
    an unknown piece raises ``ConfigError``."""
    names = piece_names(config)
    registries = _piece_registries()
    section: dict[str, Any] = {}
    for piece in PIECES:
        _, given = split_piece(getattr(config.model, piece))
        section[piece] = {"name": names[piece], **resolved_options(registries[piece], names[piece], given)}
    section["options"] = resolved_options(MODELS, names["model"], dict(config.model.options))
    return section


def record_piece_options(config: RunConfig) -> None:
    """Fill ``config.model``'s pieces and family options with their resolved names and options
    (:func:`resolved_model_section`), in place: config.json then holds everything that
    rebuilds the model, and a default changed later cannot silently change the run."""
    for key, value in resolved_model_section(config).items():
        setattr(config.model, key, value)


def unrecorded_options(config: RunConfig) -> dict[str, list[str]]:
    """Return, for each piece of ``config.model`` (``"options"``: the family's own) that leaves
    its name or options to today's defaults (a config.json written before vaekit recorded
    them), the names it leaves so; empty when everything is recorded or a piece is unknown."""
    try:
        resolved = resolved_model_section(config)
    except (VaekitError, ValueError):  # an unknown piece, or a config not bound to data
        return {}
    found = {}
    for key, options in resolved.items():
        recorded = getattr(config.model, key)
        missing = [k for k in options if k not in recorded or (k == "name" and recorded[k] is None)]
        if missing:
            found[key] = missing
    return found


def changed_piece_hint(config: RunConfig) -> str:
    """Return what most likely changed when a run's saved weights do not fit the model built
    from its ``config``: today's default of an option its config.json does not record (naming
    those pieces and options, and how to record the trained value), else a piece's code."""
    unrecorded = unrecorded_options(config)
    if not unrecorded:
        return (
            "config.json records every option of the run's pieces, so a piece's code has likely changed since the "
            f"run was trained (a piece's module, or vaekit: the run was written by vaekit {config.version}, this is "
            f"{__version__}), or the weights are another run's: load it with the code that trained it"
        )
    resolved = resolved_model_section(config)

    def label(key: str) -> str:
        return f"model {config.model.name!r}" if key == "options" else f"{key} {resolved[key]['name']!r}"

    options = [f"{label(k)} ({', '.join(o for o in m if o != 'name')})" for k, m in unrecorded.items() if m != ["name"]]
    names = [label(k) for k, m in unrecorded.items() if "name" in m]
    left = "; ".join([*options, *([f"the names of {', '.join(names)}"] if names else [])])
    # An option makes the better example of what to record; a piece may lack only its name.
    examples = [(k, o) for k, m in unrecorded.items() for o in m if o != "name"]
    key, option = (examples or [(k, m[0]) for k, m in unrecorded.items()])[0]
    return (
        f"its config.json was written before vaekit recorded every option of a run's pieces, so today's defaults "
        f"filled in {left}; one of them has likely changed since the run was trained: add the value it was "
        f'trained with to config.json\'s "model" (e.g. "{key}": {{..., "{option}": VALUE}}), or load the run with '
        "the vaekit version and piece modules that trained it"
    )


def check_family_options(config: RunConfig) -> None:
    """Raise ``ConfigError`` for a model option (``--set model.KEY``) that the family does not
    take but a piece of the model does (an earlier version's flat ``model.activation``), naming
    where it goes now; an option no piece knows is refused as the family is built."""
    if config.model.name not in MODELS:
        return  # an unknown family is named as the model is built
    own = MODELS.options(config.model.name)
    for key in config.model.options:
        if key in LEGACY_MODEL_OPTIONS and key not in own:
            piece, option = LEGACY_MODEL_OPTIONS[key]
            raise ConfigError(
                f"model {config.model.name!r} takes no option {key!r}: it is an option of the {piece} now: "
                f"--set {piece}.{option}=..."
            )


def meta_model(config: RunConfig) -> nn.Module | None:
    """Return the model ``config`` describes built on the ``meta`` device: every shape, no
    memory and no random draws. A bad name or option raises ``ConfigError`` as
    :func:`build_model` would; None when a piece cannot be built on ``meta``."""
    check_family_options(config)
    with _newer_version_note(config), torch.random.fork_rng(devices=[]):
        try:
            with torch.device("meta"):
                return create(dataclasses.asdict(config.model), data_facts(config))
        except VaekitError:
            raise
        except Exception:  # noqa: BLE001 - a piece that needs real tensors: no estimate, build as usual
            return None


def parameter_count(model: nn.Module) -> int:
    """Return the number of parameters of ``model`` (on any device, ``meta`` included)."""
    return sum(p.numel() for p in model.parameters())


def activation_values(model: nn.Module, config: RunConfig, batch_size: int) -> int:
    """Return an estimate of the values the forward pass of one training batch produces: the
    outputs of every leaf module, measured by running ``model`` (on ``meta``) on batches of one
    and two examples (a part that does not grow with the batch, like a VampPrior's pseudo-inputs,
    is counted once). Falls back to the widths of the dense layers when the forward pass cannot
    run on ``meta``."""
    outputs: list[int] = []

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        tensors = output if isinstance(output, (tuple, list)) else (output,)
        outputs.append(sum(t.numel() for t in tensors if torch.is_tensor(t)))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    totals = []
    try:
        for n in (1, 2):
            outputs.clear()
            x = torch.empty(n, config.input_dim, device="meta")
            y = torch.zeros(n, dtype=torch.long, device="meta") if getattr(model, "conditional", False) else None
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                model(x, *objectives.model_args(model, y))
            totals.append(sum(outputs) + n * config.input_dim)
    except Exception:  # noqa: BLE001 - estimate from the dense layers instead
        widths = sum(m.out_features for m in leaves if isinstance(m, nn.Linear))
        return batch_size * (widths + config.input_dim)
    finally:
        for hook in hooks:
            hook.remove()
    per_example = max(totals[1] - totals[0], 0)
    return max(totals[0] - per_example, 0) + batch_size * per_example


def activation_bound(model: nn.Module, config: RunConfig, batch_size: int) -> int:
    """Return a quick estimate, from the layers alone, of the values one training batch's forward
    pass produces: twice (the layer and its activation function) each dense layer's width and
    each conv layer's channels at the full image resolution (more than strided stages produce),
    plus the input. No forward pass: see :func:`activation_values` for the measured count."""
    shape = config.input_shape or []
    pixels = math.prod(shape[1:]) if len(shape) == 3 else 1
    per_example = config.input_dim
    for m in model.modules():
        if isinstance(m, nn.Linear):
            per_example += 2 * m.out_features
        elif isinstance(m, nn.modules.conv._ConvNd):
            per_example += 2 * m.out_channels * pixels
    return batch_size * per_example


def check_training_memory(config: RunConfig, device: torch.device, train_values: int = 0) -> None:
    """Refuse (``ConfigError``) a run whose training cannot fit in ``device``'s free memory:
    the parameters with their gradients and Adam moments, the activations of one batch and,
    on an accelerator with ``data_loading: memory``, the ``train_values`` bytes of training
    data moved there. The message gives the estimate and the memory available.

    The parameters are counted on the ``meta`` device. The activations are first bounded from
    the layers (:func:`activation_bound`); only when that leaves less than half of the free
    memory are they measured by a forward pass on ``meta`` (:func:`activation_values`, whose
    first call in a process costs seconds: torch imports its shape rules then)."""
    model = meta_model(config)
    free = available_bytes(device)
    if model is None or free is None:
        return
    params = parameter_count(model)
    fixed = TRAINING_BYTES_PER_PARAMETER * params
    if device.type != "cpu" and config.train.data_loading == "memory":
        fixed += train_values
    samples = importance_samples(config, model)
    advice = SMALLER + ", or a smaller --batch-size" + (" or objective.k (--set objective.k=K)" if samples > 1 else "")
    if fixed > free:
        what = f"training this model ({params:,} parameters, with their gradients and Adam's moments)"
        require_memory(fixed, what, device=device, advice=advice)
    batch = config.train.batch_size
    # K importance samples run [K * batch, width] activations: every layer is counted K times (an
    # upper bound: the encoder's layers run once per example).
    rows = batch * samples
    if fixed + TRAINING_BYTES_PER_ACTIVATION * activation_bound(model, config, rows) <= free // 2:
        return
    activations = activation_values(model, config, rows)
    per = f"per batch of {batch}" + (f" with k = {samples} importance samples each" if samples > 1 else "")
    what = f"training this model ({params:,} parameters, {activations:,} activation values {per})"
    require_memory(fixed + TRAINING_BYTES_PER_ACTIVATION * activations, what, device=device, advice=advice)


def importance_samples(config: RunConfig, model: nn.Module) -> int:
    """Return the posterior draws per example one training step of ``config`` takes: the
    objective's ``k`` (the ``iwae`` objective), else 1. A bad objective option raises the
    ``ConfigError`` building the objective would."""
    return max(1, int(getattr(build_objective(config, model), "k", 1)))


@contextlib.contextmanager
def _newer_version_note(config: RunConfig) -> Iterator[None]:
    """Give a ``ConfigError`` raised inside a note when the config was written by a newer vaekit
    (the piece or option it names may be one this version does not know)."""
    try:
        yield
    except ConfigError as exc:
        written = config.version
        if isinstance(written, str) and is_newer(written, __version__):
            raise ConfigError(
                f"{exc} (this config was written by vaekit {written}, newer than this vaekit {__version__}, "
                f"which may not know it: upgrade vaekit to {written} or later)"
            ) from None
        raise


def build_objective(config: RunConfig, model: nn.Module) -> Any:
    """Return the training objective of a run: ``config.model.objective``, else the family's own."""
    return objectives.create_objective(config.model.objective, model)


#: the data's marginals are read off at most this many values of the first training examples
MARGINAL_VALUES = 1 << 21


@torch.no_grad()
def initialise(model: nn.Module, scheme: str) -> None:
    """Start a fresh model's weights by ``scheme`` (``train.init``), in place; returns nothing.

    ``"torch"`` leaves the model as its layers built it. ``"glorot-uniform"`` (Glorot and
    Bengio 2010, the initialisation of Burda et al.'s code) draws the weight of every dense and
    convolution layer again from U(-a, a), a = sqrt(6 / (fan_in + fan_out))
    (``torch.nn.init.xavier_uniform_``), and sets their biases to 0; other parameters
    (normalisation, a likelihood's scales, pseudo-inputs) keep their starts. The draws come from
    torch's generator in the order of ``model.modules()``, so a seeded run starts the same way."""
    if scheme not in INITS:
        raise ConfigError(f"init must be one of {', '.join(INITS)}, got {scheme!r}")
    if scheme == "torch":
        return
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                module.bias.zero_()


def starts_from_marginals(mode: str, likelihood: nn.Module) -> bool:
    """Return whether a new run with ``train.output_bias`` ``mode`` starts its decoder's output
    bias from the data's marginals for this ``likelihood``: always under ``"marginals"``, never
    under ``"init"``, and under ``"auto"`` where the likelihood does so by default (a table's)."""
    if mode not in OUTPUT_BIASES:
        raise ConfigError(f"output_bias must be one of {', '.join(OUTPUT_BIASES)}, got {mode!r}")
    return mode == "marginals" or (mode == "auto" and getattr(likelihood, "marginals_by_default", False))


@torch.no_grad()
def start_from_marginals(model: nn.Module, x: Any, mode: str = "auto", levels: int | None = None) -> None:
    """Start a fresh model's decoder output bias from the data's marginals, in place; returns
    nothing. ``mode`` is ``train.output_bias``: ``"auto"`` does it for a likelihood that does
    so by default (a table's ``mixed`` one), ``"marginals"`` for any likelihood that offers
    marginals (``start_from_marginals``: also ``bernoulli``, each pixel's mean as a logit), and
    ``"init"`` never. The output bias then gives each value its own distribution before any
    step. Draws no random numbers, so seeded runs stay reproducible.

    ``"marginals"`` on a model that cannot take them (another likelihood, or a decoder not
    ending in a Linear layer with a bias) raises ``ConfigError`` naming the fix; ``"auto"``
    leaves such a model as built.

    ``x`` is the training split as stored, a tensor or a ``RowView`` left on disk (uint8 grey
    levels are read in model units, ``levels`` being their number). The marginals are
    those of its first ``MARGINAL_VALUES / D`` examples (every example of a smaller split): the
    split is in a seeded random order, so they are a random sample, and memory stays bounded
    whatever the data's size; a split in memory and the same split on disk give the same bias."""
    likelihood = model.likelihood
    if not starts_from_marginals(mode, likelihood):
        return
    marginals = getattr(likelihood, "start_from_marginals", None)
    layers = getattr(getattr(model, "decoder", None), "layers", None)
    if marginals is None or layers is None or not isinstance(layers[-1], nn.Linear) or layers[-1].bias is None:
        if mode == "marginals":
            what = "this likelihood offers none" if marginals is None else "its decoder does not end in a dense layer"
            raise ConfigError(
                f"--output-bias marginals starts the decoder's last dense layer from the data's marginals, but {what} "
                f"(likelihood {likelihood.name or type(likelihood).__name__!r}); it works with the bernoulli and mixed "
                "likelihoods on a dense (mlp) decoder. Use --output-bias auto, or --net mlp"
            )
        return
    rows = max(1, MARGINAL_VALUES // max(1, int(x.shape[1])))
    bias = layers[-1].bias
    bias.copy_(marginals(to_model_units(x[:rows], levels)).to(bias.device, bias.dtype))
