"""Run configuration: plain dataclasses with defaults, round-tripped through ``config.json``.

A run is reproducible from its config alone: model, data, optimisation, seed and library version.
"""

from __future__ import annotations

import copy
import json
import math
import typing
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vaekit._version import __version__
from vaekit.runtime.errors import ConfigError, VaekitWarning
from vaekit.runtime.typecheck import shown, type_error
from vaekit.runtime.versions import is_newer

#: The founding diagram: 5 inputs, encoder 4 and 3, latent 3, decoder 3 and 4, 5 outputs.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seed": {
        "model": {"net": {"encoder": [4, 3], "decoder": [3, 4]}, "latent_dim": 3, "likelihood": {"name": "gaussian"}},
        "data": {"name": "synthetic5"},
    },
}

#: the pieces of a model, each stored as ``{"name": ..., **its options}``
PIECES = ("net", "likelihood", "prior", "objective")

#: flat model options of configs written before each piece kept its own options, and where
#: each lives now: (piece, option)
LEGACY_MODEL_OPTIONS: dict[str, tuple[str, str]] = {
    "encoder": ("net", "encoder"),
    "decoder": ("net", "decoder"),
    "activation": ("net", "activation"),
    "normalization": ("net", "normalization"),
    "channels": ("net", "channels"),
    "sigma": ("likelihood", "sigma"),
    "sigma_type": ("likelihood", "sigma_type"),
    "mixtures": ("likelihood", "mixtures"),
    "categorical_groups": ("likelihood", "groups"),
    "beta": ("objective", "beta"),
    "warmup": ("objective", "warmup"),
    "warmup_steps": ("objective", "warmup_steps"),
    "free_bits": ("objective", "free_bits"),
    "iwae_k": ("objective", "k"),
    "pseudo_inputs": ("prior", "pseudo_inputs"),
}


#: values of ``train.fast``: "auto" takes every exact fast path that applies (the fused training
#: step, the direct Adam step, the fused NLL chunk, flushing float32 subnormals on a CPU);
#: "off" runs the plain reference path
FAST_MODES = ("auto", "off")
#: values of ``train.precision``: float32; bfloat16 or float16 autocast; "bf16-grad", float32 with
#: the fused step's backward matmuls in bfloat16 (``vaekit.fast.bf16_grad_unsupported``)
PRECISIONS = ("fp32", "bf16", "fp16", "bf16-grad")
#: values of ``train.lr_schedule`` (see ``vaekit.training.optim.learning_rate``)
LR_SCHEDULES = ("constant", "burda", "cosine")
#: values of ``train.init`` (see ``vaekit.training.build.initialise``)
INITS = ("torch", "glorot-uniform")
#: values of ``train.output_bias`` (see ``vaekit.training.build.start_from_marginals``)
OUTPUT_BIASES = ("auto", "marginals", "init")

#: top-level keys of config.json that record facts about the data (and the library version)
BOUND_KEYS = ("input_shape", "value_range", "levels", "num_classes", "class_names", "table", "data_file", "version")

#: values of ``train.data_loading``: where the training examples are read from
DATA_LOADING = ("memory", "streaming", "disk")
#: values of ``data.shuffle``: how an epoch's order is drawn ("auto": "blocks" for a table read
#: from disk by row groups, else "full")
SHUFFLES = ("auto", "full", "blocks")

#: what a table column can be (see vaekit.data.tables.schema)
COLUMN_KINDS = ("continuous", "integer", "count", "binary", "categorical", "ignore")


def _opt(default: Any, help: str, choices: tuple[str, ...] | None = None, parse: str | None = None) -> Any:
    """A config field with its command-line help (and choices), so the CLI is built from here.
    ``parse`` says how the flag's text becomes the value: "list" (``a,b``) or "mapping"
    (``a=x,b=y``); plain values need none."""
    return field(default=default, metadata={"help": help, "choices": choices, "parse": parse})


def _piece(**defaults: Any) -> Any:
    return field(default_factory=lambda: {"name": None, **defaults})


@dataclass
class ModelConfig:
    """What network to build: a family by ``name`` and its pieces, each a mapping
    ``{"name": ..., **options}`` whose options are the keyword arguments of that piece
    (``vaekit train --help`` lists them). A piece named ``None`` takes its default: the likelihood
    from the data (Bernoulli for data in [0, 1], Gaussian for real values), the prior and the
    objective from the family. ``options`` holds the family's own options. The config a run
    saves records each piece as built: its name and every option, defaults filled in
    (``vaekit.training.build.record_piece_options``), so that a default changed later cannot
    change the run."""

    name: str = "vae"
    latent_dim: int = 8
    net: dict[str, Any] = field(default_factory=lambda: {"name": "mlp", "encoder": [256, 128]})
    likelihood: dict[str, Any] = _piece()
    prior: dict[str, Any] = _piece()
    objective: dict[str, Any] = _piece()
    options: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None


@dataclass
class DataConfig:
    """Which data, and how it is split, binarised or dequantised.

    ``dequantize="uniform"`` adds U[0, 1) noise to the integer grey levels of images (a fresh
    draw every batch in training, a fixed seeded draw for evaluation) so that a continuous
    likelihood gives a true bound on the discrete data (see docs/likelihoods.md)."""

    name: str = _opt(
        "digits", "digits, mnist, fashion-mnist, synthetic5, or a path (.npy/.npz/.csv/.tsv/.parquet, image folder, IDX folder)"
    )
    data_dir: str | None = _opt(None, "Folder holding the MNIST/Fashion-MNIST IDX files.")
    #: "28x28", "32x32x3", or one number of pixels (28: 28x28), as YAML reads ``image_size: 28``
    image_size: str | int | None = _opt(None, "Resize images, e.g. 28, 28x28 or 32x32x3.")
    download: bool = _opt(False, "Download MNIST/Fashion-MNIST if missing (checksums verified).")
    test_fraction: float = _opt(0.2, "Share of the examples held out for testing (datasets without a test split).")
    val_fraction: float = _opt(0.1, "Share of the training examples held out for validation.")
    binarize: str = _opt("none", "Binarise grey levels (dynamic: a fresh draw every epoch).", ("none", "dynamic", "static"))
    dequantize: str = _opt(
        "none",
        "Add U[0,1) noise to integer grey levels so a continuous likelihood bounds the discrete data.",
        ("none", "uniform"),
    )
    limit: int | None = _opt(None, "Keep only the first N training examples.")
    table_mode: str = _opt(
        "schema",
        "schema: read .csv/.tsv/.parquet as a typed table (column kinds, categories, missing cells masked); "
        "matrix: as a plain matrix of numbers.",
        ("schema", "matrix"),
    )
    schema: str | None = _opt(None, "Table column kinds from a JSON/YAML file: {column: kind}, or a run's schema.json.")
    column_types: dict[str, str] | None = _opt(
        None,
        "Table column kinds, e.g. plan=categorical,visits=count (continuous, integer, count, binary, categorical, "
        "ignore); they win over --schema and inference.",
        parse="mapping",
    )
    ignore: list[str] | None = _opt(None, "Table columns to leave out (identifiers), e.g. id,name.", parse="list")
    condition_on: list[str] | None = _opt(
        None,
        "Table columns (categorical or binary) the model is conditioned on, e.g. species,sex: sampling with "
        "--where on them is exact (a conditional VAE).",
        parse="list",
    )
    continuous: str = _opt(
        "auto",
        "Transform of table numbers: auto (standardise; log for skewed positive columns; a value held by many "
        "rows, such as the zeros of an amount, as a point mass), standard, or modes (TVAE's mode-specific "
        "normalisation).",
        ("auto", "standard", "modes"),
    )
    shuffle: str = _opt(
        "auto",
        "Epoch order: full (a seeded permutation of every training row); blocks (row groups in a seeded order, "
        "rows shuffled within a window of --shuffle-window groups: what --data-loading disk reads a Parquet/CSV "
        "table with); auto: blocks for a table read from disk, else full.",
        SHUFFLES,
    )
    shuffle_window: int = _opt(4, "Row groups (blocks) whose rows are shuffled together under --shuffle blocks.")


@dataclass
class TrainConfig:
    """Optimisation: Adam with a constant learning rate, checkpoints every N epochs."""

    # Defaults suit the bundled digits (1,293 training images), the data a first run uses.
    epochs: int = _opt(60, "Passes over the training set.")
    batch_size: int = _opt(32, "Examples per optimizer step.")
    lr: float = _opt(1e-3, "Adam's learning rate.")
    lr_schedule: str = _opt(
        "constant",
        "constant; burda: Burda et al.'s (2015) schedule, 3^i epochs at lr * 10^(-i/7) for i = 0..7 (3,280 epochs "
        "in all, the last rate kept after them); cosine: half a cosine from lr at the first epoch towards 0 after "
        "the last of --epochs (a resume that changes --epochs changes the rates from then on).",
        LR_SCHEDULES,
    )
    adam_eps: float = _opt(1e-8, "Adam's epsilon (Burda et al. 2015 use 1e-4).")
    adam_beta1: float = _opt(0.9, "Adam's decay rate of the gradient's running mean (momentum).")
    adam_beta2: float = _opt(0.999, "Adam's decay rate of the squared gradient's running mean.")
    seed: int = _opt(0, "Seed of the weights, the batch order and every draw.")
    init: str = _opt(
        "torch",
        "How a new run's weights start: torch, each layer's own default; glorot-uniform, dense and convolution "
        "weights from U(+-sqrt(6/(fan_in+fan_out))) and biases 0 (Glorot & Bengio 2010; Burda et al.'s code).",
        INITS,
    )
    output_bias: str = _opt(
        "auto",
        "How a new run's decoder output bias starts, after --init: marginals, from the training data's marginals "
        "(bernoulli: each pixel's mean as a logit, as in Burda et al.'s code; a table's mixed likelihood: each "
        "column's distribution); auto, marginals for tables only; init, as --init leaves it.",
        OUTPUT_BIASES,
    )
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps.")
    checkpoint_every: int = _opt(1, "Checkpoint every N epochs (and always at the end).")
    grad_clip: float | None = _opt(None, "Clip the gradients' global norm to this value.")
    time_limit: float | None = _opt(
        None,
        "Seconds of training after which the run stops at the end of an epoch, checkpointed (`vaekit resume RUN` "
        "continues it for as long again); 0, or leaving it out: no limit.",
    )
    data_loading: str = _opt(
        "memory",
        "memory: the training set sits on the device as one tensor (fast); streaming: a DataLoader feeds batches "
        "from that tensor; disk: every split is read from the file batch by batch (.npy memory-mapped, Parquet by "
        "row groups, CSV/TSV converted to Parquet once), for data larger than memory (docs/large-data.md).",
        DATA_LOADING,
    )
    num_workers: int = _opt(0, "DataLoader worker processes for --data-loading streaming.")
    fast: str = _opt(
        "auto",
        "auto: every fast path that computes the same float32 math as the plain path (fused step, direct Adam "
        "step, fused NLL chunk, subnormals flushed on CPU); off: the plain reference path.",
        FAST_MODES,
    )
    precision: str = _opt(
        "fp32",
        "fp32; bf16 autocast (CPU/GPU); fp16 autocast with a gradient scaler (CUDA); bf16-grad: float32 forward, loss "
        "and weights, the fused step's backward matmuls in bfloat16 (CPUs with AVX512-BF16 or AMX, CUDA).",
        PRECISIONS,
    )
    min_backward_weight: float = _opt(
        0.0,
        "IWAE on the fused step: a draw whose normalised importance weight w (an example's k weights sum to 1) is "
        "below this (W) gets a backward pass only with probability w/W, and then weighs W (Russian roulette): the "
        "gradient stays unbiased and the backward skips most light draws; the loss is unchanged. 0: every draw's "
        "backward (docs/models.md).",
    )
    compile: bool = _opt(False, "torch.compile the model for training (opt-in: compiling takes tens of seconds).")


@dataclass
class RunConfig:
    """Everything needed to rebuild a model and resume its training."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    #: filled in when data is loaded: the shape of one example and its value range
    input_shape: list[int] | None = None
    value_range: str | None = None
    #: grey levels of the raw data (256 for 8-bit images, 2 once binarised); None for tables
    levels: int | None = None
    #: number of label classes of the data (None when unlabelled); conditional models need it
    num_classes: int | None = None
    #: the name of each class by number (an image folder's class sub-folders); None otherwise
    class_names: list[str] | None = None
    #: a table's fitted codec (schema and column transforms, ``TableCodec.to_dict()``); None otherwise
    table: dict[str, Any] | None = None
    #: the data file a disk-read or block-shuffled run reads: its format, rows, row-group layout
    #: and fingerprint, which define the epochs' order and let a resume refuse a changed file
    #: (``vaekit.data.disk``); None otherwise
    data_file: dict[str, Any] | None = None
    version: str = __version__

    @property
    def input_dim(self) -> int:
        """Number of data dimensions D (product of ``input_shape``)."""
        if self.input_shape is None:
            raise ConfigError("input_shape is not set: the config was not bound to data")
        return math.prod(self.input_shape)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain JSON-able values."""
        return asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the config as JSON, atomically."""
        from vaekit.runtime.atomic import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Build a config from nested dicts, rejecting unknown keys with a message naming them
        and values of the wrong type with a message naming the key, the type expected and the
        value received (see :func:`check_types`).

        A config whose ``version`` is newer than this vaekit's loads with a ``VaekitWarning``
        naming both versions, or is refused when it has keys this version does not know."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping with keys model/data/train, got {type(raw).__name__}")
        check_version(raw, source)
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in sections:
                if key == "train" and isinstance(value, dict):
                    value = _migrate_speed_switches(value, f"{source}: train")
                if key == "model" and isinstance(value, dict):
                    value = migrate_model_section(value)
                kwargs[key] = _build_section(sections[key], value, f"{source}: {key}")
            elif key in BOUND_KEYS:
                kwargs[key] = value
            else:
                raise ConfigError(f"{source}: unknown key {key!r}; expected one of {sorted([*sections, *BOUND_KEYS])}")
        config = cls(**kwargs)
        check_types(config, source)
        return config

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read ``config.json`` (or a YAML file with the same structure)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}: not a text file (byte {exc.start} is not UTF-8): a config is JSON or YAML text; "
                "this file holds something else (a pickle or other binary data?)"
            ) from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
        if path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                raw = yaml.load(text, Loader=_yaml_loader()) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc}); the file may be truncated") from None
        return cls.from_dict(raw, source=str(path))


def _yaml_loader() -> type:
    """Return a YAML safe loader that reads ``3e-4`` as the number it means (YAML 1.1, and so
    PyYAML, reads an exponent without a decimal point as text)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    number = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", number, list("-+0123456789."))
    return Loader


def check_version(raw: dict[str, Any], source: str) -> None:
    """Warn (``VaekitWarning``) when the config ``raw`` was written by a newer vaekit than this
    one; raise ``ConfigError`` when it also has keys this version does not know (a newer
    version's settings, which this one would otherwise refuse one by one or misread)."""
    written = raw.get("version")
    if not isinstance(written, str) or not is_newer(written, __version__):
        return
    who = f"{source} was written by vaekit {written}, newer than this vaekit {__version__}"
    unknown = unknown_keys(raw)
    if unknown:
        raise ConfigError(
            f"{who}, and has settings this version does not know: {', '.join(unknown)}; "
            f"upgrade vaekit to {written} or later (pip install --upgrade vaekit) to use it"
        )
    warnings.warn(
        f"{who}: settings it added or changed since {__version__} (new model pieces, piece options or "
        f"values) may be refused or read differently here; upgrade vaekit to {written} if it fails",
        VaekitWarning,
        stacklevel=3,
    )


def unknown_keys(raw: dict[str, Any]) -> list[str]:
    """Return the dotted keys of the config mapping ``raw`` that this version does not know
    (legacy keys that it still migrates count as known)."""
    sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
    legacy = {"model": set(LEGACY_MODEL_OPTIONS), "train": set(LEGACY_SPEED_SWITCHES), "data": set()}
    unknown = []
    for key, value in raw.items():
        if key in sections:
            if isinstance(value, dict):
                known = {f.name for f in fields(sections[key])} | legacy[key]
                unknown += [f"{key}.{k}" for k in value if k not in known]
        elif key not in BOUND_KEYS:
            unknown.append(str(key))
    return unknown


#: what a model piece looks like, in the words of a message
PIECE_FORM = "a mapping like {name: ..., option: value}"


def check_types(config: RunConfig, source: str | None = None) -> None:
    """Raise ``ConfigError`` for the first value of ``config`` whose type does not match the
    type hint of its dataclass field, naming the key, the type expected and the value received:
    ``config.json: model.latent_dim must be an integer, got 'two' (str)``. ``source`` (a file
    name) starts the message. The options inside a model piece are typed by the piece's
    constructor and checked when the model is built (``vaekit.runtime.construct``)."""
    prefix = f"{source}: " if source else ""

    def refuse(message: str) -> None:
        raise ConfigError(prefix + message)

    sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
    for section, cls in sections.items():
        obj = getattr(config, section)
        if not isinstance(obj, cls):
            refuse(f"{section} must be a mapping of its options, got {shown(obj)}")
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            value = getattr(obj, f.name)
            key = f"{section}.{f.name}"
            if section == "model" and f.name in PIECES:
                _check_piece(value, f.name, refuse)
            elif message := type_error(key, value, hints[f.name]):
                refuse(message)
    hints = typing.get_type_hints(RunConfig)
    for key in BOUND_KEYS:
        if message := type_error(key, getattr(config, key), hints[key]):
            refuse(message)


def _check_piece(value: Any, piece: str, refuse: Any) -> None:
    """Refuse a model piece that is not ``{name: str | None, option: value, ...}``."""
    hint = f"; on the command line: --{piece} NAME and --set {piece}.OPTION=VALUE"
    if not isinstance(value, dict):
        refuse(f"model.{piece} must be {PIECE_FORM}, got {shown(value)}{hint}")
    if message := type_error(f"model.{piece}.name", value.get("name"), str | None, f"a {piece} name (a string) or null"):
        refuse(message)
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        refuse(f"model.{piece}: option names must be strings, got {shown(bad[0])}")


#: the boolean speed switches that ``train.fast`` replaced (configs written before it still load)
LEGACY_SPEED_SWITCHES = ("fused_optimizer", "fused_step", "flush_denormal")


def migrate_model_section(model: dict[str, Any]) -> dict[str, Any]:
    """Return a ``model`` section with flat options of earlier configs (``beta``, ``sigma``,
    ``encoder``, a piece given as a bare name, ...) moved into their pieces; a section in the
    current form comes back unchanged. Null flat values (earlier configs wrote every option)
    are dropped."""
    out = {k: v for k, v in model.items() if k not in LEGACY_MODEL_OPTIONS and k not in PIECES}
    pieces: dict[str, Any] = {}
    for name in PIECES:
        if name not in model:
            continue
        value = model[name]
        if value is None or isinstance(value, str):
            value = {"name": value}
        pieces[name] = value
    for old, (piece, option) in LEGACY_MODEL_OPTIONS.items():
        if old in model and model[old] is not None:
            target = pieces.setdefault(piece, {"name": "mlp" if piece == "net" else None})
            if not isinstance(target, dict):
                raise ConfigError(f"model.{piece}: expected a mapping like {{name: ..., ...}}, got {target!r}")
            target.setdefault(option, model[old])
    return {**out, **pieces}


def _migrate_speed_switches(train: dict[str, Any], where: str) -> dict[str, Any]:
    """Return ``train`` with the legacy boolean speed switches folded into ``fast``: any switch
    turned off means the plain path (``fast: off``), as the closest single setting."""
    legacy = {k: train[k] for k in LEGACY_SPEED_SWITCHES if k in train}
    if not legacy:
        return train
    train = {k: v for k, v in train.items() if k not in LEGACY_SPEED_SWITCHES}
    if "fast" not in train:
        train["fast"] = "auto" if all(v is not False for v in legacy.values()) else "off"
        if train["fast"] == "off":
            warnings.warn(
                f"{where}: {sorted(legacy)} are replaced by one setting, fast: auto|off; "
                f"reading {legacy} as fast: off",
                DeprecationWarning,
                stacklevel=3,
            )
    return train


def _build_section(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown}; valid options are {sorted(names)}")
    return cls(**value)


def apply_overrides(config: RunConfig, section: str, **values: Any) -> None:
    """Set the non-``None`` ``values`` on ``config.<section>`` (command-line options win over
    files). A model piece (``net``, ``likelihood``, ``prior``, ``objective``) given as a name
    or as a mapping of options is merged into the piece; naming another piece than the one set
    starts it afresh, since the old piece's options need not apply to the new one."""
    target = getattr(config, section)
    for key, value in values.items():
        if value is None:
            continue
        if section == "model" and key in PIECES:
            if isinstance(value, str):
                value = {"name": value}
            if not isinstance(value, dict):
                raise ConfigError(f"model.{key}: expected a name or a mapping of options, got {value!r}")
            piece = dict(getattr(target, key) or {})
            if piece.get("name") is not None and value.get("name", piece["name"]) != piece["name"]:
                piece = {}
            piece.update(value)
            setattr(target, key, piece)
        else:
            setattr(target, key, value)


def set_option(config: RunConfig, path: str, value: Any) -> None:
    """Set one option by its dotted ``path``: ``objective.beta``, ``likelihood.sigma``,
    ``net.encoder`` (a piece's option), ``model.latent_dim`` (a model field, else the family's
    own option), ``data.binarize`` or ``train.lr``. An unknown section or field raises
    ``ConfigError``; an option the piece does not take is refused when the model is built."""
    section, _, key = path.partition(".")
    if not key or not section:
        raise ConfigError(f"--set {path}=...: expected SECTION.OPTION, e.g. objective.beta=4 or train.lr=3e-4")
    if section in PIECES:
        apply_overrides(config, "model", **{section: {key: value}})
        return
    sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
    if section not in sections:
        raise ConfigError(f"--set {path}=...: unknown section {section!r}; use one of {[*PIECES, *sections]}")
    names = {f.name for f in fields(sections[section])}
    if key in names and key not in PIECES:
        setattr(getattr(config, section), key, value)  # null too: --set train.grad_clip=null clears it
    elif key in names:
        apply_overrides(config, section, **{key: value})
    elif section == "model":
        # A family's own option, such as lvae's normalization; one that the family does not
        # take but a piece does (an earlier version's model.activation) is named when the model is built.
        config.model.options[key] = value
    else:
        raise ConfigError(f"--set {path}=...: {section} has no option {key!r}; its options are {sorted(names)}")


def apply_preset(config: RunConfig, name: str) -> None:
    """Apply the named preset (e.g. ``seed``), which fixes the architecture exactly."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
    for section, values in preset.items():
        apply_overrides(config, section, **copy.deepcopy(values))
    config.model.preset = name


def unused_options(config: RunConfig) -> list[str]:
    """Return a sentence for each option set away from its default that the run's other
    settings leave unused (the training would silently ignore it)."""
    d, t = config.data, config.train
    unused = []
    if t.num_workers and t.data_loading != "streaming":
        unused.append(
            f"num_workers {t.num_workers} is unused: worker processes read batches only under --data-loading streaming "
            f"(this run: {t.data_loading})"
        )
    if d.shuffle == "full" and d.shuffle_window != DataConfig.shuffle_window:
        unused.append(f"shuffle_window {d.shuffle_window} is unused: it sizes the windows of --shuffle blocks, not of full")
    return unused


def validate(config: RunConfig) -> None:
    """Raise ``ConfigError`` naming the first invalid value: of the wrong type (see
    :func:`check_types`), or outside its valid range."""
    check_types(config)
    m, d, t = config.model, config.data, config.train
    checks = [
        (m.latent_dim >= 1, f"latent_dim must be a positive integer, got {m.latent_dim!r}"),
        (
            0 <= d.test_fraction < 1,
            f"test_fraction must be in (0, 1) (tables: [0, 1), 0 keeping no test rows), got {d.test_fraction}",
        ),
        (d.limit is None or d.limit >= 2, f"limit must be >= 2 examples, got {d.limit}"),
        (0 <= d.val_fraction < 1, f"val_fraction must be in [0, 1), got {d.val_fraction}"),
        (d.binarize in ("none", "dynamic", "static"), f"binarize must be none, dynamic or static, got {d.binarize!r}"),
        (d.dequantize in ("none", "uniform"), f"dequantize must be none or uniform, got {d.dequantize!r}"),
        (
            d.dequantize == "none" or d.binarize == "none",
            "--binarize and --dequantize exclude each other: binarised data are already discrete 0/1 values",
        ),
        (
            d.dequantize == "none" or m.likelihood.get("name") not in (None, "bernoulli"),
            "--dequantize uniform needs a continuous likelihood (a density), e.g. --likelihood gaussian; "
            "bernoulli is a distribution over 0/1 values",
        ),
        (d.table_mode in ("schema", "matrix"), f"table_mode must be schema or matrix, got {d.table_mode!r}"),
        (
            d.continuous in ("auto", "standard", "modes"),
            f"continuous must be auto, standard or modes, got {d.continuous!r}",
        ),
        (
            not (bad := [f"{c}={k}" for c, k in (d.column_types or {}).items() if k not in COLUMN_KINDS]),
            f"column_types: unknown kind in {', '.join(bad)}; the kinds are {', '.join(COLUMN_KINDS)}",
        ),
        (t.epochs >= 1, f"epochs must be >= 1, got {t.epochs}"),
        (t.batch_size >= 1, f"batch_size must be >= 1, got {t.batch_size}"),
        (t.lr > 0, f"lr must be > 0, got {t.lr}"),
        (t.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {t.lr_schedule!r}"),
        (t.adam_eps > 0, f"adam_eps must be > 0, got {t.adam_eps}"),
        (t.init in INITS, f"init must be one of {', '.join(INITS)}, got {t.init!r}"),
        (t.output_bias in OUTPUT_BIASES, f"output_bias must be one of {', '.join(OUTPUT_BIASES)}, got {t.output_bias!r}"),
        (0.0 <= t.adam_beta1 < 1.0, f"adam_beta1 must be in [0, 1), got {t.adam_beta1}"),
        (0.0 <= t.adam_beta2 < 1.0, f"adam_beta2 must be in [0, 1), got {t.adam_beta2}"),
        (
            t.grad_clip is None or t.grad_clip > 0,
            f"grad_clip must be > 0 (a gradient norm), got {t.grad_clip}; for no clipping leave --grad-clip out "
            "(`vaekit resume RUN --grad-clip 0` turns a run's clip off)",
        ),
        (t.time_limit is None or t.time_limit > 0, f"time_limit must be > 0 seconds (0, or leaving it out: no limit), got {t.time_limit}"),
        (t.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {t.checkpoint_every}"),
        (d.shuffle in SHUFFLES, f"shuffle must be one of {', '.join(SHUFFLES)}, got {d.shuffle!r}"),
        (d.shuffle_window >= 1, f"shuffle_window must be >= 1 row group, got {d.shuffle_window}"),
        (
            t.data_loading in DATA_LOADING,
            f"data_loading must be one of {', '.join(DATA_LOADING)}, got {t.data_loading!r}",
        ),
        (
            t.data_loading != "disk" or d.binarize != "static",
            "--binarize static draws the whole training set's one binarisation at once, which --data-loading disk "
            "never holds; use --binarize dynamic, or --data-loading memory",
        ),
        (t.num_workers >= 0, f"num_workers must be >= 0, got {t.num_workers}"),
        (t.fast in FAST_MODES, f"fast must be one of {', '.join(FAST_MODES)}, got {t.fast!r}"),
        (t.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}"),
        (
            0.0 <= t.min_backward_weight < 1.0,
            f"min_backward_weight must be in [0, 1) (a normalised importance weight; 0: exact), got {t.min_backward_weight}",
        ),
        (
            t.device in ("auto", "cpu", "cuda", "mps") or t.device.startswith("cuda:"),
            f"device must be auto, cpu, cuda or mps, got {t.device!r}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)

