"""The Python API of DESIGN.md: ``train``, ``load``, ``evaluate`` and the loaded model object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import RunConfig, apply_overrides, apply_preset, validate
from vaekit.runtime.errors import CheckpointError, ConfigError, DataError
from vaekit.models import create
from vaekit.training import checkpoint as ckpt


class TrainedVAE:
    """A trained model with its config, ready for inference: encode, decode, sample.

    Inputs are examples as float arrays or tensors, ``[N, D]`` or ``[N, *input_shape]``, in model
    units (grey levels in [0, 1] for images: ``bundle.as_float("test")`` of a loaded dataset,
    whose images are stored as uint8; uint8 inputs are refused rather than read as 0..255).
    Outputs are tensors on CPU unless the model was moved; decoded examples come back as
    ``[N, *input_shape]``.
    """

    def __init__(self, model: torch.nn.Module, config: RunConfig, run_dir: Path | None = None) -> None:
        self.model = model.eval()
        self.config = config
        self.run_dir = run_dir

    @property
    def device(self) -> torch.device:
        """The device the weights live on."""
        return next(self.model.parameters()).device

    @property
    def latent_dim(self) -> int:
        """Number of latent dimensions L."""
        return self.config.model.latent_dim

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 8, 8)`` or ``(5,)``."""
        return tuple(self.config.input_shape or ())

    @property
    def is_image(self) -> bool:
        """True when examples are images (C, H, W)."""
        return len(self.input_shape) == 3

    def to(self, device: str | torch.device) -> TrainedVAE:
        """Move the model to ``device``; returns self."""
        self.model.to(device)
        return self

    def _as_batch(self, x: Any, dim: int, what: str) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
        if t.dtype == torch.uint8:
            raise DataError(
                f"{what} are uint8 (grey levels 0..levels-1, as datasets store images); convert them "
                "to model units first: bundle.as_float('test') or vaekit.data.to_model_units(x, levels)"
            )
        t = t.to(torch.float32)
        t = t.reshape(len(t), -1) if t.ndim > 1 else t.reshape(1, -1)
        if t.shape[1] != dim:
            raise DataError(f"{what} have {t.shape[1]} values per row; this model expects {dim}")
        if not torch.isfinite(t).all():
            raise DataError(f"{what} contain NaN or inf")
        return t.to(self.device)

    @property
    def conditional(self) -> bool:
        """True for conditional models (cvae), whose calls take ``labels``."""
        return bool(getattr(self.model, "conditional", False))

    def _condition_args(self, labels: Any, n: int) -> tuple[torch.Tensor, ...]:
        """Return the model's extra arguments for ``n`` rows: ``(y,)`` for conditional models.

        ``labels`` is one class number (used for every row), ``[N]`` class numbers or ``[N, C]``
        condition vectors. Raises ``ConfigError`` if labels are missing or not applicable."""
        if not self.conditional:
            if labels is not None:
                raise ConfigError(f"model {self.config.model.name!r} is not conditional: it takes no labels")
            return ()
        if labels is None:
            raise ConfigError(f"model {self.config.model.name!r} is conditional: pass labels (e.g. --label 3)")
        y = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
        if y.ndim == 0:
            y = y.repeat(n)
        if len(y) != n:
            raise DataError(f"got {len(y)} labels for {n} examples")
        y = y.to(self.device)
        return (y if y.is_floating_point() and y.ndim == 2 else y.long(),)

    @torch.inference_mode()
    def encode(self, x: Any, sample: bool = False, labels: Any = None) -> torch.Tensor:
        """Return latent codes ``[N, L]``: posterior means, or one posterior draw with ``sample``.
        Conditional models need the ``labels`` of the examples."""
        from vaekit.distributions import reparameterize

        mu, logvar = self.encode_distribution(x, labels=labels)
        return reparameterize(mu, logvar) if sample else mu

    @torch.inference_mode()
    def encode_distribution(self, x: Any, labels: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior's ``(mu, logvar)``, each ``[N, L]``."""
        batch = self._as_batch(x, self.config.input_dim, "inputs")
        return self.model.encode(batch, *self._condition_args(labels, len(batch)))

    @torch.inference_mode()
    def decode(self, z: Any, mean: bool = True, labels: Any = None) -> torch.Tensor:
        """Decode latent codes ``[N, L]`` to examples ``[N, *input_shape]``: the likelihood's
        mean (e.g. pixel probabilities), or a draw from it with ``mean=False``. Conditional
        models decode under ``labels`` (one class number, ``[N]`` numbers or ``[N, C]`` vectors)."""
        codes = self._as_batch(z, self.latent_dim, "latent codes")
        params = self.model.decode(codes, *self._condition_args(labels, len(codes)))
        lik = self.model.likelihood
        x = lik.mean(params) if mean else lik.sample(params)
        return x.reshape(len(x), *self.input_shape)

    @torch.inference_mode()
    def sample(self, n: int = 64, temperature: float = 1.0, mean: bool = True, labels: Any = None) -> torch.Tensor:
        """Draw ``n`` codes from the prior (std scaled by ``temperature``) and decode them.

        Conditional models decode under ``labels``; by default the classes in turn (0, 1, ...)."""
        if n < 1:
            raise ConfigError(f"number of samples must be >= 1, got {n}")
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.model.cond_dim
        z = self.model.prior.sample(n, device=self.device, temperature=temperature)
        return self.decode(z, mean=mean, labels=labels)

    @torch.inference_mode()
    def reconstruct(self, x: Any, labels: Any = None) -> torch.Tensor:
        """Return decode(encode(x)) with posterior means, ``[N, *input_shape]``."""
        return self.decode(self.encode(x, labels=labels), labels=labels)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def build_config(
    config: str | Path | RunConfig | dict | None = None,
    *,
    preset: str | None = None,
    **options: Any,
) -> RunConfig:
    """Combine a config file/dict, a preset and keyword options (which win) into a RunConfig.

    Keyword options are the fields of ModelConfig, DataConfig and TrainConfig (``latent_dim``,
    ``encoder``, ``data``/``name``, ``epochs``...). Unknown names raise ``ConfigError``.
    """
    from dataclasses import fields

    from vaekit.config import DataConfig, ModelConfig, TrainConfig

    if isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = RunConfig.from_dict(config)
    elif config is not None:
        cfg = RunConfig.load(config)
    else:
        cfg = RunConfig()
    if preset is not None:
        fixed = {"encoder", "decoder", "latent_dim"} & {k for k, v in options.items() if v is not None}
        if fixed:
            raise ConfigError(f"preset {preset!r} fixes the architecture; drop {sorted(fixed)} or the preset")
        apply_preset(cfg, preset)
    aliases = {"data": "name", "model": "name_model"}
    sections = {
        "model": {f.name for f in fields(ModelConfig)},
        "data": {f.name for f in fields(DataConfig)},
        "train": {f.name for f in fields(TrainConfig)},
    }
    per_section: dict[str, dict[str, Any]] = {s: {} for s in sections}
    for key, value in options.items():
        key = aliases.get(key, key)
        if key == "name_model":
            per_section["model"]["name"] = value
            continue
        for section, names in sections.items():
            if key in names and not (section == "model" and key == "name"):
                per_section[section][key] = value
                break
        else:
            raise ConfigError(f"unknown training option {key!r}")
    for section, values in per_section.items():
        apply_overrides(cfg, section, **values)
    validate(cfg)
    return cfg


def train(
    config: str | Path | RunConfig | dict | None = None,
    *,
    out: str | Path = "runs/vae",
    force: bool = False,
    preset: str | None = None,
    progress: str = "auto",
    **options: Any,
) -> TrainedVAE:
    """Train a VAE and write its run folder (config, checkpoints, metrics, pictures).

    ``options`` override the config: e.g. ``data="digits", latent_dim=8, epochs=20``.
    Returns the trained model, loaded from the final weights.
    """
    from vaekit.training.loop import fit
    from vaekit.training.run_dir import prepare_new_run_dir

    cfg = build_config(config, preset=preset, **options)
    run_dir = prepare_new_run_dir(Path(out), force=force)
    result = fit(cfg, run_dir, progress=progress)
    vae = TrainedVAE(result.model, result.config, run_dir)
    write_run_pictures(vae, test=result.test_preview)
    return vae


def resume(run_dir: str | Path, *, epochs: int | None = None, progress: str = "auto") -> TrainedVAE:
    """Continue a stopped run from its last checkpoint (optionally to a new total ``epochs``)."""
    from vaekit.training.loop import fit

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    if not (run_dir / ckpt.TRAINER_FILE).exists():
        raise CheckpointError(
            f"{run_dir} has no checkpoint yet (trainer.safetensors is missing): the run stopped "
            "before its first checkpoint; start it again with `vaekit train --force`"
        )
    if epochs is not None:
        cfg.train.epochs = epochs
        cfg.save(run_dir / ckpt.CONFIG_FILE)
    result = fit(cfg, run_dir, resume=True, progress=progress)
    vae = TrainedVAE(result.model, result.config, run_dir)
    write_run_pictures(vae, test=result.test_preview)
    return vae


def read_config(run_dir: Path) -> RunConfig:
    """Read a run folder's config.json, with errors that say what is wrong with the folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder {run_dir} does not exist")
    if not (run_dir / ckpt.CONFIG_FILE).exists():
        raise CheckpointError(f"{run_dir} is not a vaekit run folder: config.json is missing")
    try:
        return RunConfig.load(run_dir / ckpt.CONFIG_FILE)
    except ConfigError as exc:
        raise CheckpointError(f"{run_dir}/config.json is unreadable: {exc}") from None


def load(run_dir: str | Path, *, which: str = "last", device: str | torch.device = "cpu") -> TrainedVAE:
    """Load a trained model from a run folder, safely (JSON + safetensors, no pickle).

    ``which`` is ``"last"`` (the latest checkpoint) or ``"best"`` (lowest validation loss).
    """
    run_dir = Path(run_dir)
    files = {"last": ckpt.MODEL_FILE, "best": ckpt.BEST_MODEL_FILE}
    if which not in files:
        raise ConfigError(f"which must be 'last' or 'best', got {which!r}")
    cfg = read_config(run_dir)
    model = create(cfg)
    ckpt.load_model_weights(run_dir / files[which], model)
    return TrainedVAE(model.to(device), cfg, run_dir)


def _eval_splits(vae: TrainedVAE, data: str | None) -> Any:
    """Load the run's data (or other data ``data`` of the same dimension) split as in training."""
    from vaekit.training.splits import load_bundle, make_splits

    cfg = vae.config
    source = cfg
    if data is not None:
        source = build_config(cfg.to_dict(), data=data)
    bundle = load_bundle(source)
    if bundle.dim != cfg.input_dim:
        raise DataError(f"data {data!r} has {bundle.dim} values per example; this model expects {cfg.input_dim}")
    return make_splits(cfg, bundle)


def resolve_eval_data(vae: TrainedVAE, data: str | None, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the examples ``[N, D]`` (and labels) to evaluate on, as the model sees them
    (binarised or dequantised with fixed seeds): the run's own data split by default, or
    another dataset ``data`` of the same dimension."""
    from vaekit.training.splits import evaluation_view

    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    splits = _eval_splits(vae, data)
    if split == "val" and splits.val is None:
        raise ConfigError("this run has no validation split (val_fraction = 0)")
    return evaluation_view(vae.config, splits, split)


def evaluate(
    vae: TrainedVAE | str | Path,
    data: str | None = None,
    split: str = "test",
    k: int | None = None,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    max_chunk_elements: int | None = None,
    probe: bool = True,
    progress: str = "quiet",
    fused_nll: bool = True,
) -> dict[str, Any]:
    """Evaluate a model on a data split; return a dict of named metrics in nats per example
    (``bpd`` in bits per dimension for images). ``vae`` may be a loaded model or a run folder.

    ``nll`` is the importance-weighted bound with ``k`` samples (default 5000; ``0`` skips it),
    given with its standard error over examples, only when the likelihood is a true likelihood
    of the evaluated data; otherwise the ELBO terms come as a ``loss`` with a ``note``, and an
    explicit ``k`` raises ``ConfigError`` naming the fix. Also: ``elbo``, ``recon``, ``kl``,
    ``kl_per_dim``, ``active_units``, ``recon_mse`` and, for labelled data, ``probe`` (accuracy
    of a logistic regression on the latent means, fitted on the train split; ``probe=False``
    skips it). ``batch_size`` is the number of examples per NLL batch (default: 100, more for
    small K). ``max_chunk_elements`` bounds the memory of the NLL (elements of one chunk's
    decoder output); ``progress`` is ``"auto"`` (a bar on a terminal) or ``"quiet"``.
    ``fused_nll=False`` takes the generic NLL path where the fused chunk would apply
    (``nll_path`` in the report says which ran; docs/evaluation.md).
    """
    from vaekit.evaluation import evaluate_model
    from vaekit.evaluation.iwae import DEFAULT_MAX_CHUNK_ELEMENTS
    from vaekit.training.splits import evaluation_view

    if not isinstance(vae, TrainedVAE):
        vae = load(vae)
    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    splits = _eval_splits(vae, data)
    if split == "val" and splits.val is None:
        raise ConfigError("this run has no validation split (val_fraction = 0)")
    x, labels = evaluation_view(vae.config, splits, split)
    probe_data = None
    if probe and labels is not None and splits.train_labels is not None:
        probe_data = evaluation_view(vae.config, splits, "train")
    cfg = vae.config
    report = evaluate_model(
        vae.model,
        x,
        labels=labels,
        probe_data=probe_data,
        value_range=cfg.value_range,
        dequantize=cfg.data.dequantize,
        levels=splits.levels,
        is_image=vae.is_image,
        k=k,
        seed=seed,
        batch_size=batch_size,
        max_chunk_elements=max_chunk_elements or DEFAULT_MAX_CHUNK_ELEMENTS,
        progress=progress,
        fused_nll=fused_nll,
    )
    return {"split": split, "data": data or cfg.data.name, **report}


def write_run_pictures(
    vae: TrainedVAE, n: int = 64, test: tuple[torch.Tensor, torch.Tensor | None] | None = None
) -> list[Path]:
    """Write ``samples.png`` and ``reconstructions.png`` into the run folder (image data only).

    ``test`` is ``(examples, labels)`` of the test split as the model sees them; without it the
    run's data are loaded again. Returns the paths written (none for tables)."""
    from vaekit.viz.grid import interleave_rows, save_grid

    if not vae.is_image or vae.run_dir is None:
        return []
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        samples = vae.sample(n).cpu().numpy()
    x, labels = test if test is not None else resolve_eval_data(vae, None, "test")
    x = x[:32]
    labels = labels[:32] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    # Rows of 8 originals, each followed by the row of their reconstructions.
    pairs = interleave_rows(x.numpy(), recon, ncol=8)
    written = [vae.run_dir / "samples.png", vae.run_dir / "reconstructions.png"]
    save_grid(written[0], samples, vae.input_shape, ncol=8)
    save_grid(written[1], pairs, vae.input_shape, ncol=8)
    return written


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """Return a summary of a run folder: config, progress, best epoch, parameter count, files."""
    run_dir = Path(run_dir)
    vae = load(run_dir)
    trainer_json = run_dir / ckpt.TRAINER_JSON
    state = json.loads(trainer_json.read_text()) if trainer_json.exists() else {}
    state.pop("optimizer", None)
    return {
        "run_dir": str(run_dir),
        "model": vae.config.model.name,
        "data": vae.config.data.name,
        "input_shape": vae.config.input_shape,
        "latent_dim": vae.latent_dim,
        "encoder": vae.config.model.encoder,
        "decoder": vae.config.model.decoder_hidden(),
        "likelihood": vae.model.likelihood.name,
        "parameters": vae.num_parameters(),
        "epochs_trained": state.get("epoch"),
        "epochs_planned": vae.config.train.epochs,
        "steps": state.get("step"),
        "best_epoch": state.get("best_epoch"),
        "best_val_loss": state.get("best_val_loss"),
        "version": vae.config.version,
        "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
    }
