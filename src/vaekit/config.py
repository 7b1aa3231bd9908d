"""Run configuration: plain dataclasses with defaults, round-tripped through ``config.json``.

A run is reproducible from its config alone: model, data, optimisation, seed and library version.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vaekit._version import __version__
from vaekit.runtime.errors import ConfigError

#: The founding diagram: 5 inputs, encoder 4 and 3, latent 3, decoder 3 and 4, 5 outputs.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seed": {
        "model": {"encoder": [4, 3], "decoder": [3, 4], "latent_dim": 3, "likelihood": "gaussian"},
        "data": {"name": "synthetic5"},
    },
}


#: values of ``train.fast``: "auto" takes every exact fast path that applies (the fused training
#: step, the direct Adam step, the fused NLL chunk, flushing float32 subnormals on a CPU);
#: "off" runs the plain reference path
FAST_MODES = ("auto", "off")

#: top-level keys of config.json that record facts about the data (and the library version)
BOUND_KEYS = ("input_shape", "value_range", "levels", "num_classes", "version")


@dataclass
class ModelConfig:
    """What network to build. ``decoder=None`` mirrors the encoder; ``likelihood=None`` picks
    Bernoulli for data in [0, 1] and Gaussian (learned sigma) for real-valued data."""

    name: str = "vae"
    latent_dim: int = 8
    encoder: list[int] = field(default_factory=lambda: [256, 128])
    decoder: list[int] | None = None
    activation: str = "relu"
    #: "mlp" or "conv" (a name in ``vaekit.nets.NETS``)
    net: str = "mlp"
    #: conv stages' channels (conv net only; default [32, 64])
    channels: list[int] | None = None
    #: "none", "batch" or "layer" normalisation after each hidden layer
    normalization: str = "none"
    likelihood: str | None = None
    sigma: float | None = None
    #: gaussian: "per-dim" (learned free parameter, the default) or "per-example" (decoder output)
    sigma_type: str | None = None
    #: discretized-logistic: number of mixture components (default 1)
    mixtures: int | None = None
    #: categorical: sizes of the consecutive one-hot column groups (default: one group of all D)
    categorical_groups: list[int] | None = None
    #: training objective; None uses the family's own (vae: elbo, beta-vae: beta-elbo, ...)
    objective: str | None = None
    #: beta-elbo options: KL weight, warm-up schedule and its length in steps, free bits (nats/dim)
    beta: float | None = None
    warmup: str | None = None
    warmup_steps: int | None = None
    free_bits: float | None = None
    #: iwae: importance samples per example (default 5)
    iwae_k: int | None = None
    #: vamp: number of learned pseudo-inputs (default 100)
    pseudo_inputs: int | None = None
    preset: str | None = None

    def decoder_hidden(self) -> list[int]:
        """Hidden widths of the decoder, input side first."""
        return list(self.decoder) if self.decoder is not None else list(reversed(self.encoder))


@dataclass
class DataConfig:
    """Which data, and how it is split, binarised or dequantised.

    ``dequantize="uniform"`` adds U[0, 1) noise to the integer grey levels of images (a fresh
    draw every batch in training, a fixed seeded draw for evaluation) so that a continuous
    likelihood gives a true bound on the discrete data (see docs/likelihoods.md)."""

    name: str = "digits"
    data_dir: str | None = None
    image_size: str | None = None
    download: bool = False
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    binarize: str = "none"
    dequantize: str = "none"
    #: keep only the first N training examples (None: all)
    limit: int | None = None


@dataclass
class TrainConfig:
    """Optimisation: Adam with a constant learning rate, checkpoints every N epochs."""

    # Defaults suit the bundled digits (1,293 training images): about 15 s on 2 CPU cores.
    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 1
    grad_clip: float | None = None
    #: "memory": the training set lives on the device as one tensor (fast); "streaming": a
    #: DataLoader feeds one batch at a time (for data too large for the device)
    data_loading: str = "memory"
    num_workers: int = 0
    #: which training and evaluation paths run: "auto" (the default) takes every fast path in
    #: ``vaekit.fast`` that computes the same float32 math as the plain path (see FAST_MODES);
    #: "off" runs the plain reference path (autograd, ``Adam.step``, subnormals kept)
    fast: str = "auto"
    #: "fp32" (default), "bf16" (autocast, CPU or GPU) or "fp16" (autocast + gradient scaler, CUDA)
    precision: str = "fp32"
    #: torch.compile the model for training (opt-in: compiling takes tens of seconds)
    compile: bool = False


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
    version: str = __version__

    @property
    def input_dim(self) -> int:
        """Number of data dimensions D (product of ``input_shape``)."""
        if self.input_shape is None:
            raise ConfigError("input_shape is not set: the config was not bound to data")
        d = 1
        for s in self.input_shape:
            d *= s
        return d

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain JSON-able values."""
        return asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the config as JSON, atomically."""
        from vaekit.runtime.atomic import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Build a config from nested dicts, rejecting unknown keys with a message naming them."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping with keys model/data/train, got {type(raw).__name__}")
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key in sections:
                if key == "train" and isinstance(value, dict):
                    value = _migrate_speed_switches(value, f"{source}: train")
                kwargs[key] = _build_section(sections[key], value, f"{source}: {key}")
            elif key in BOUND_KEYS:
                kwargs[key] = value
            else:
                raise ConfigError(f"{source}: unknown key {key!r}; expected one of {sorted([*sections, *BOUND_KEYS])}")
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read ``config.json`` (or a YAML file with the same structure)."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        if path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                raw = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc}); the file may be truncated") from None
        return cls.from_dict(raw, source=str(path))


#: the boolean speed switches that ``train.fast`` replaced (configs written before it still load)
LEGACY_SPEED_SWITCHES = ("fused_optimizer", "fused_step", "flush_denormal")


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
    """Set the non-``None`` ``values`` on ``config.<section>`` (command-line options win over files)."""
    target = getattr(config, section)
    for key, value in values.items():
        if value is not None:
            setattr(target, key, value)


def apply_preset(config: RunConfig, name: str) -> None:
    """Apply the named preset (e.g. ``seed``), which fixes the architecture exactly."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
    for section, values in preset.items():
        apply_overrides(config, section, **values)
    config.model.preset = name


def validate(config: RunConfig) -> None:
    """Raise ``ConfigError`` naming the first invalid value and its valid range."""
    m, d, t = config.model, config.data, config.train
    checks = [
        (m.latent_dim >= 1, f"latent_dim must be >= 1, got {m.latent_dim}"),
        (
            all(isinstance(h, int) and h >= 1 for h in m.encoder),
            f"encoder widths must be positive integers, got {m.encoder}",
        ),
        (
            m.decoder is None or all(isinstance(h, int) and h >= 1 for h in m.decoder),
            f"decoder widths must be positive integers, got {m.decoder}",
        ),
        (m.sigma is None or m.sigma > 0, f"sigma must be > 0, got {m.sigma}"),
        (
            m.channels is None or (len(m.channels) >= 1 and all(isinstance(c, int) and c >= 1 for c in m.channels)),
            f"channels must be positive integers, got {m.channels}",
        ),
        (
            m.normalization in ("none", "batch", "layer"),
            f"normalization must be none, batch or layer, got {m.normalization!r}",
        ),
        (
            m.sigma_type in (None, "per-dim", "per-example"),
            f"sigma_type must be per-dim or per-example, got {m.sigma_type!r}",
        ),
        (m.mixtures is None or m.mixtures >= 1, f"mixtures must be >= 1, got {m.mixtures}"),
        (m.beta is None or m.beta >= 0, f"beta must be >= 0, got {m.beta}"),
        (
            m.warmup in (None, "none", "linear", "cyclical"),
            f"warmup must be none, linear or cyclical, got {m.warmup!r}",
        ),
        (m.warmup_steps is None or m.warmup_steps >= 1, f"warmup_steps must be >= 1, got {m.warmup_steps}"),
        (m.free_bits is None or m.free_bits >= 0, f"free_bits must be >= 0 nats, got {m.free_bits}"),
        (m.iwae_k is None or m.iwae_k >= 1, f"iwae_k must be >= 1, got {m.iwae_k}"),
        (m.pseudo_inputs is None or m.pseudo_inputs >= 1, f"pseudo_inputs must be >= 1, got {m.pseudo_inputs}"),
        (0 < d.test_fraction < 1, f"test_fraction must be in (0, 1), got {d.test_fraction}"),
        (d.limit is None or d.limit >= 2, f"limit must be >= 2 examples, got {d.limit}"),
        (0 <= d.val_fraction < 1, f"val_fraction must be in [0, 1), got {d.val_fraction}"),
        (d.binarize in ("none", "dynamic", "static"), f"binarize must be none, dynamic or static, got {d.binarize!r}"),
        (d.dequantize in ("none", "uniform"), f"dequantize must be none or uniform, got {d.dequantize!r}"),
        (
            d.dequantize == "none" or d.binarize == "none",
            "--binarize and --dequantize exclude each other: binarised data are already discrete 0/1 values",
        ),
        (
            d.dequantize == "none" or m.likelihood not in (None, "bernoulli"),
            "--dequantize uniform needs a continuous likelihood (a density), e.g. --likelihood gaussian; "
            "bernoulli is a distribution over 0/1 values",
        ),
        (t.epochs >= 1, f"epochs must be >= 1, got {t.epochs}"),
        (t.batch_size >= 1, f"batch_size must be >= 1, got {t.batch_size}"),
        (t.lr > 0, f"lr must be > 0, got {t.lr}"),
        (t.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {t.checkpoint_every}"),
        (t.data_loading in ("memory", "streaming"), f"data_loading must be memory or streaming, got {t.data_loading!r}"),
        (t.num_workers >= 0, f"num_workers must be >= 0, got {t.num_workers}"),
        (t.fast in FAST_MODES, f"fast must be one of {', '.join(FAST_MODES)}, got {t.fast!r}"),
        (t.precision in ("fp32", "bf16", "fp16"), f"precision must be fp32, bf16 or fp16, got {t.precision!r}"),
        (
            t.device in ("auto", "cpu", "cuda", "mps") or t.device.startswith("cuda:"),
            f"device must be auto, cpu, cuda or mps, got {t.device!r}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def replace(config: RunConfig, **changes: Any) -> RunConfig:
    """Return a copy of ``config`` with top-level fields replaced."""
    return dataclasses.replace(config, **changes)
