"""The Python API of DESIGN.md: ``train``, ``load``, ``evaluate`` and the loaded model object."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import FAST_MODES, RunConfig, apply_overrides, apply_preset, unused_options, validate
from vaekit.data.units import check_unit_range
from vaekit.data.views import Splits, evaluation_batches, evaluation_examples, evaluation_view
from vaekit.runtime.errors import CheckpointError, ConfigError, DataError, VaekitWarning, user_stacklevel
from vaekit.runtime.registry import loading_run
from vaekit.training import checkpoint as ckpt
from vaekit.training.build import build_model


def check_temperature(temperature: Any) -> None:
    """Raise ``ConfigError`` unless ``temperature`` (the factor on the prior's standard
    deviation when sampling) is a finite number >= 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 <= temperature < math.inf:
        raise ConfigError(
            "temperature must be a finite number >= 0 (the prior's standard deviation is scaled by it; 1 draws "
            f"from the prior itself), got {temperature!r}"
        )


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
        #: which weights of the run folder these are: "last" or "best" (``load(which=...)``)
        self.weights = "last"
        #: the optimizer step and the epoch those weights were saved at (None when not loaded
        #: from a run folder)
        self.weights_step: int | None = None
        self.weights_epoch: int | None = None
        #: the first test examples and labels as the model sees them, kept by ``train`` and
        #: ``resume`` so that ``vaekit.viz.write_run_pictures`` need not load the data again
        self.test_preview: tuple[torch.Tensor, torch.Tensor | None] | None = None
        #: the run's test split as stored, kept by ``train`` and ``resume`` so that evaluating
        #: it right after training need not read the dataset again
        self.test_splits: Splits | None = None

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
        if isinstance(x, str | os.PathLike):
            raise DataError(
                f"{what} are arrays, not a path ({x!r}): read the file first (numpy.load; for a run's data, "
                "vaekit.api.resolve_eval_data(vae, path, None))"
            )
        if not torch.is_tensor(x):
            x = np.asarray(x)
            if x.dtype.kind not in "biuf":
                raise DataError(f"{what} must be numbers, got an array of {x.dtype}; give a numeric array")
            if not x.flags.writeable:  # a DataFrame's or memory map's values: torch warns on read-only arrays
                x = x.copy()
        t = torch.as_tensor(x)
        if t.dtype == torch.uint8:
            raise DataError(
                f"{what} are uint8 (grey levels 0..levels-1, as datasets store images); convert them "
                "to model units first: bundle.as_float('test') or vaekit.data.to_model_units(x, levels)"
            )
        t = t.to(torch.float32)
        shape = self.input_shape if what == "inputs" else ()
        if len(shape) > 1 and tuple(t.shape) in (shape, shape[1:] if shape[0] == 1 else None):
            t = t.reshape(1, *shape)  # one image (a grey one may leave its channel out)
        elif len(shape) == 3 and shape[0] == 1 and t.ndim == 3 and tuple(t.shape[1:]) == shape[1:]:
            t = t.unsqueeze(1)  # grey images [N, H, W]: their one channel left out
        if t.ndim > 2 and len(shape) > 1 and tuple(t.shape[1:]) != shape:
            raise DataError(f"{what} are shaped {tuple(t.shape[1:])} each; this model expects {shape} (or rows of {dim} values)")
        if t.ndim > 1 and len(t) == 0:
            raise DataError(f"no {what}: give at least one row")
        t = t.reshape(len(t), -1) if t.ndim > 1 else t.reshape(1, -1)
        if t.shape[1] != dim:
            raise DataError(f"{what} have {t.shape[1]} values per row; this model expects {dim}")
        if not torch.isfinite(t).all():
            raise DataError(f"{what} contain NaN or inf")
        if what == "inputs":
            check_unit_range(t, self.config.value_range, what)
        return t.to(self.device)

    @property
    def conditional(self) -> bool:
        """True for conditional models (cvae), whose calls take ``labels``."""
        return bool(getattr(self.model, "conditional", False))

    def _condition_args(self, labels: Any, n: int) -> tuple[torch.Tensor, ...]:
        """Return the model's extra arguments for ``n`` rows: ``(y,)`` for conditional models.

        ``labels`` is one class number or name (used for every row), ``[N]`` class numbers or
        names (an image folder's class sub-folders) or ``[N, C]`` condition vectors. Raises ``ConfigError`` if labels are missing or not applicable."""
        if not self.conditional:
            if labels is not None:
                raise ConfigError(f"model {self.config.model.name!r} is not conditional: it takes no labels")
            return ()
        if labels is None:
            raise ConfigError(
                f"model {self.config.model.name!r} is conditional: pass labels= (one class number, or one per "
                "example; on the command line --label 3)"
            )
        if isinstance(labels, np.ndarray) and labels.dtype.kind in "UO":
            labels = labels.tolist()  # names, as a list of them is taken
        if isinstance(labels, str) or (isinstance(labels, list | tuple) and any(isinstance(v, str) for v in labels)):
            from vaekit.data.classes import class_number

            names = self.config.class_names
            labels = class_number(labels, names) if isinstance(labels, str) else [class_number(v, names) for v in labels]
        array = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        if array.dtype.kind not in "biuf":
            raise DataError(f"labels must be class numbers (or [N, C] condition vectors), got {array.dtype} values")
        y = torch.as_tensor(array)
        if y.ndim == 0:
            y = y.repeat(n)
        if len(y) != n:
            raise DataError(f"got {len(y)} labels for {n} examples")
        if y.ndim == 2 and y.is_floating_point():
            return (y.float().to(self.device),)
        if y.is_floating_point() and not bool((y == y.round()).all()):
            raise DataError("labels must be whole class numbers; got fractions (give [N, C] vectors for soft conditions)")
        return (y.long().to(self.device),)

    @torch.inference_mode()
    def encode(self, x: Any, sample: bool = False, labels: Any = None) -> torch.Tensor:
        """Return latent codes ``[N, L]``: posterior means (through a flow: its image of the
        base mean), or one draw from q(z|x) with ``sample``. Conditional models need the
        ``labels`` of the examples."""
        if not sample:
            return self.encode_distribution(x, labels=labels)[0]
        batch, condition = self._encoder_inputs(x, labels)
        return self.model.sample_posterior(batch, *condition)

    @torch.inference_mode()
    def encode_distribution(self, x: Any, labels: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior's ``(mu, logvar)``, each ``[N, L]``. A table run also takes a
        DataFrame of rows (encoded with its schema)."""
        batch, condition = self._encoder_inputs(x, labels)
        return self.model.encode(batch, *condition)

    def _encoder_inputs(self, x: Any, labels: Any) -> tuple[torch.Tensor, tuple[Any, ...]]:
        """Return the examples ``x`` as a model batch ``[N, D]`` and the condition arguments
        of their ``labels`` (a table run's DataFrame encoded with its schema, its labels taken
        from its condition columns when not given)."""
        if self.config.table is not None and type(x).__name__ == "DataFrame":
            from vaekit.data.tables import TableCodec

            codec = TableCodec.from_dict(self.config.table)
            if labels is None and codec.labels(x) is not None:
                labels = codec.labels(x)
            x = codec.encode(x)
        batch = self._as_batch(x, self.config.input_dim, "inputs")
        return batch, self._condition_args(labels, len(batch))

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
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError(f"number of samples must be an integer >= 1, got {n!r}")
        check_temperature(temperature)
        from vaekit.runtime.memory import require_memory

        # The samples, their codes and the decoder's widest layer, in float32 (a rough floor).
        widest = max([self.config.input_dim, *(self.config.model.net.get("encoder") or [])])
        require_memory(int(n) * 4 * (2 * self.config.input_dim + self.latent_dim + widest), f"{n:,} samples",
                       device=self.device, advice="draw fewer at a time (several calls with different seeds)")  # fmt: skip
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.model.cond_dim
        z = self.model.prior.sample(n, device=self.device, temperature=temperature)
        return self.decode(z, mean=mean, labels=labels)

    @torch.inference_mode()
    def reconstruct(self, x: Any, labels: Any = None) -> torch.Tensor:
        """Return decode(encode(x)) with posterior means, ``[N, *input_shape]``."""
        return self.decode(self.encode(x, labels=labels), labels=labels)

    def score(
        self, x: Any, kind: str = "nll", k: int | None = None, *, seed: int = 0, labels: Any = None
    ) -> np.ndarray:
        """Return the anomaly score of each example of ``x``: float64 ``[N]`` in nats, higher is
        more unusual. ``kind`` is ``"nll"`` (minus the ``k``-sample importance-weighted bound on
        log p(x); K = 100 by default), ``"elbo"`` (minus the ELBO, mean of ``k`` draws; 10) or
        ``"recon"`` (minus log p(x|z) at the posterior mean). ``x`` is an array of examples
        (model units, or uint8 grey levels), a data file, or for a table run a DataFrame
        (scores in the columns' own units, missing cells' values left out). uint8 arrays are
        refused (as ``encode`` refuses them; a ``.npy`` file of 8-bit pixels is read as such).
        A binarising or dequantising run sees ``x`` as evaluation does (a fixed seeded draw). A
        conditional model needs the examples' class numbers, ``labels`` ``[N]``. See
        :mod:`vaekit.scoring` for explanations, thresholds and the detector."""
        from vaekit.scoring import score_data

        return score_data(self, x, kind=kind, k=k, seed=seed, labels=labels).scores

    def explain(
        self, x: Any, kind: str = "nll", k: int | None = None, *, seed: int = 0, labels: Any = None
    ) -> Any:
        """Return :meth:`score`'s scores with each example's per-feature contributions (a
        :class:`vaekit.scoring.Scores`: ``.contributions`` ``[N, F]`` nats, ``.maps()`` for
        images, ``.frame()`` a DataFrame with one column per table column)."""
        from vaekit.scoring import score_data

        return score_data(self, x, kind=kind, k=k, seed=seed, explain=True, labels=labels)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


#: keyword options of :func:`build_config` that name a section's ``name`` field
_NAME_ALIASES = {"data": "data", "model": "model"}
#: net options that keep a keyword of their own: the founding diagram's widths
_NET_SHORTCUTS = ("encoder", "decoder")


#: keywords people bring from other tools, each with the one that does the job here
_OPTION_HINTS = {
    "quiet": "progress='quiet'",
    "verbose": "progress='lines' (or 'bar')",
    "learning_rate": "lr=",
    "output": "out=",
    "out_dir": "out=",
    "output_dir": "out=",
    "run_dir": "out=",
    "overwrite": "force=True",
}


def _unknown_option_message(key: str, known: set[str]) -> str:
    """Return the error for a keyword ``vaekit.train``/``build_config`` does not take, with the
    keyword most likely meant (a known confusion, else the closest names in ``known``)."""
    import difflib

    hint = _OPTION_HINTS.get(key)
    if hint is None:
        close = difflib.get_close_matches(key, sorted(known), n=3)
        hint = " or ".join(f"{name}=" for name in close) or None
    meant = f" (did you mean {hint}?)" if hint else ""
    return f"unknown training option {key!r}{meant}; help(vaekit.build_config) says which keywords it takes"


def _piece_options(model: dict[str, Any], piece: str) -> dict[str, Any]:
    """Return the options mapping of ``piece`` among collected model options (a piece given
    by name becomes ``{"name": ...}``)."""
    entry = model.get(piece)
    if entry is None or isinstance(entry, str):
        entry = model[piece] = {} if entry is None else {"name": entry}
    return entry


def build_config(
    config: str | Path | RunConfig | dict | None = None,
    *,
    preset: str | None = None,
    **options: Any,
) -> RunConfig:
    """Combine a config file/dict, a preset and keyword options (which win) into a RunConfig.

    Keyword options are ``data`` and ``model`` (names), the fields of DataConfig and
    TrainConfig (``epochs``, ``binarize``...), ``latent_dim``, the model's pieces ``net``,
    ``likelihood``, ``prior`` and ``objective`` (each a name or a mapping of its options, e.g.
    ``objective={"name": "beta-elbo", "beta": 4}``), and ``encoder``/``decoder`` widths (the
    net's options). Unknown names raise ``ConfigError``.
    """
    from dataclasses import fields

    from vaekit.config import (
        LEGACY_MODEL_OPTIONS,
        LEGACY_SPEED_SWITCHES,
        PIECES,
        DataConfig,
        ModelConfig,
        TrainConfig,
    )

    if isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = RunConfig.from_dict(config)
    elif config is not None:
        cfg = RunConfig.load(config)
    else:
        cfg = RunConfig()
    # Paths are text in config.json: a pathlib.Path for data= or data_dir= is what users pass.
    options = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in options.items() if v is not None}
    if preset is not None:
        fixed = {"encoder", "decoder", "latent_dim"} & set(options)
        if fixed:
            raise ConfigError(f"preset {preset!r} fixes the architecture; drop {sorted(fixed)} or the preset")
        apply_preset(cfg, preset)
    model_fields = {f.name for f in fields(ModelConfig)} - set(PIECES) - {"name"}
    data_fields = {f.name for f in fields(DataConfig)} - {"name"}
    train_fields = {f.name for f in fields(TrainConfig)}
    per_section: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "train": {}}
    for key, value in options.items():
        if key in _NAME_ALIASES:
            per_section[_NAME_ALIASES[key]]["name"] = value
        elif key in PIECES or key in model_fields:
            per_section["model"][key] = value
        elif key in _NET_SHORTCUTS:
            _piece_options(per_section["model"], "net")[key] = value
        elif key in data_fields:
            per_section["data"][key] = value
        elif key in train_fields:
            per_section["train"][key] = value
        elif key in LEGACY_MODEL_OPTIONS:
            piece, option = LEGACY_MODEL_OPTIONS[key]
            warnings.warn(
                f"{key}= is deprecated: it is an option of the {piece} now; pass {piece}={{{option!r}: {value!r}}}",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
            _piece_options(per_section["model"], piece)[option] = value
        elif key in LEGACY_SPEED_SWITCHES:
            warnings.warn(
                f"{key}= is deprecated: one setting, fast='auto'|'off', chooses every fast path",
                DeprecationWarning,
                stacklevel=user_stacklevel(),
            )
            if value is False:
                per_section["train"]["fast"] = "off"
        else:
            known = set(_NAME_ALIASES) | set(PIECES) | model_fields | set(_NET_SHORTCUTS) | data_fields | train_fields
            raise ConfigError(_unknown_option_message(key, known))
    for section, values in per_section.items():
        apply_overrides(cfg, section, **values)
    if cfg.train.time_limit == 0:
        cfg.train.time_limit = None  # 0 is no limit, as `vaekit resume --time-limit 0` takes it
    if cfg.data.condition_on and cfg.model.name == "vae":
        # Exact conditional sampling needs the condition columns as the model's condition.
        cfg.model.name = "cvae"
    validate(cfg)
    if "data" in options:
        from vaekit.data.load import warn_of_a_path_named_like_a_dataset

        warn_of_a_path_named_like_a_dataset(cfg.data.name, cfg.data.data_dir)
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
    """Train a VAE and write its run folder (config, checkpoints, metrics).

    ``options`` override the config: e.g. ``data="digits", latent_dim=8, epochs=20``.
    ``data`` may be a pandas DataFrame (a table; ``vaekit.tables.TableVAE`` is the
    estimator for that). Returns the trained model, loaded from the final weights. Pictures are drawn by
    ``vaekit.viz``: ``vaekit.viz.write_run_pictures(vae)`` writes the ``samples.png`` and
    ``reconstructions.png`` that ``vaekit train`` puts in the run folder.

    A non-empty ``out`` is refused unless ``force``; with ``force`` the old run there is replaced
    only once the new one has written its first complete checkpoint, and is kept if anything
    fails before that (bad data, device or options; Ctrl+C). The folder is locked while training:
    a second process writing it gets a ``RunFolderLockedError`` naming this one's PID.
    """
    from vaekit.data.load import is_data_frame
    from vaekit.training.loop import fit
    from vaekit.training.run_data import DATA_FRAME

    if not isinstance(out, str | os.PathLike):
        raise ConfigError(f"out must be the path of the run folder to write, got {out!r}")
    data = options.get("data")
    if isinstance(data, np.ndarray | torch.Tensor):
        raise ConfigError(
            f"data= takes a dataset name, a file or folder path, or a pandas DataFrame, got an array of shape "
            f"{tuple(data.shape)}: save it first (numpy.save('x.npy', x)) and pass data='x.npy', or "
            "train an anomaly detector on it with vaekit.AnomalyDetector().fit(x)"
        )
    frame = options.pop("data") if is_data_frame(data) else None
    if frame is not None:
        options["data"] = DATA_FRAME
    cfg = build_config(config, preset=preset, **options)
    for sentence in unused_options(cfg):
        warnings.warn(f"{sentence}; leave it out", VaekitWarning, stacklevel=user_stacklevel())
    run_dir = Path(out)
    result = fit(cfg, run_dir, force=force, progress=progress, frame=frame)
    vae = TrainedVAE(result.model, result.config, run_dir)
    vae.test_preview = result.test_preview
    vae.test_splits = result.test_splits
    return vae


def resume(
    run_dir: str | Path,
    *,
    epochs: int | None = None,
    progress: str = "auto",
    data: Any = None,
    time_limit: float | None = None,
    lr: float | None = None,
    grad_clip: float | None = None,
    precision: str | None = None,
    min_backward_weight: float | None = None,
) -> TrainedVAE:
    """Continue a stopped run from its last checkpoint (optionally to a new total ``epochs``;
    ``time_limit``: new seconds of training before it stops again, 0 for none; None keeps the
    run's; ``lr``: a new base learning rate, which the run's schedule scales from the next epoch
    on; ``grad_clip``: a new gradient-norm clip, 0 for none; ``precision``: a new
    ``train.precision``, e.g. ``bf16-grad`` for a long CPU run; ``min_backward_weight``: a new
    ``train.min_backward_weight``, 0 for the exact gradient): a run that diverged goes on from
    its last good checkpoint with a lower rate or a clip.
    Pictures as for ``train``: ``vaekit.viz.write_run_pictures(vae)``.

    Nothing is written until the data, model and checkpoint are known good (a failed resume
    leaves config.json as it was). The folder is locked while training; a resume first finishes
    a ``train --force`` that was killed there (the previous run comes back if the new one had
    no checkpoint yet). ``data`` is the DataFrame of a run trained on one in Python."""
    from vaekit.runtime.distributed import writer_process
    from vaekit.training.loop import fit
    from vaekit.training.run_dir import open_run_folder

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(_not_a_folder(run_dir))
    # In a distributed run only rank 0 locks (and writes) the folder; the others read it.
    with open_run_folder(run_dir, new=False) if writer_process() else contextlib.nullcontext():
        cfg = read_config(run_dir)
        if not (run_dir / ckpt.TRAINER_FILE).exists():
            raise CheckpointError(
                f"{run_dir} has no checkpoint yet (trainer.safetensors is missing): the run stopped "
                "before its first checkpoint; start it again with `vaekit train --force`"
            )
        if epochs is not None:
            cfg.train.epochs = epochs  # written to config.json only once the run can go on
        if time_limit is not None:
            if time_limit < 0:
                raise ConfigError(f"time_limit must be >= 0 seconds (0: no limit), got {time_limit}")
            cfg.train.time_limit = time_limit or None
        if lr is not None:
            cfg.train.lr = lr  # checked with the rest of the config before anything is written
        if grad_clip is not None:
            cfg.train.grad_clip = grad_clip or None
        if precision is not None:
            cfg.train.precision = precision
        if min_backward_weight is not None:
            cfg.train.min_backward_weight = min_backward_weight
        changed = any(value is not None for value in (epochs, time_limit, lr, grad_clip, precision, min_backward_weight))
        with training_data_hint(cfg, data is None, resuming=True), loading_run(run_dir):
            result = fit(cfg, run_dir, resume=True, save_config=changed, progress=progress, frame=data)
    vae = TrainedVAE(result.model, result.config, run_dir)
    vae.test_preview = result.test_preview
    vae.test_splits = result.test_splits
    return vae


def _not_a_folder(run_dir: Path) -> str:
    """Return the message for a run folder ``run_dir`` that is no folder: missing, or a file
    (one of a run's own files, given for its folder)."""
    if run_dir.exists():
        return f"{run_dir} is a file, not a run folder: give the folder that holds the run ({run_dir.parent})"
    return f"run folder {run_dir} does not exist"


def read_config(run_dir: Path) -> RunConfig:
    """Read a run folder's config.json, with errors that say what is wrong with the folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(_not_a_folder(run_dir))
    from vaekit.training.run_dir import MOVING, PREVIOUS

    set_aside = (run_dir / PREVIOUS).is_dir() or (run_dir / MOVING).is_dir()
    if set_aside and not (run_dir / ckpt.TRAINER_FILE).exists():
        raise CheckpointError(
            f"{run_dir} is being replaced by a new run that has no checkpoint yet (`vaekit train --force`); "
            f"the previous run is kept in {run_dir / PREVIOUS} until then. If that training was "
            f"stopped, `vaekit resume {run_dir}` puts the previous run back"
        )
    if not (run_dir / ckpt.CONFIG_FILE).exists():
        raise CheckpointError(f"{run_dir} is not a vaekit run folder: config.json is missing")
    try:
        return RunConfig.load(run_dir / ckpt.CONFIG_FILE)
    except ConfigError as exc:
        detail = str(exc)
        path = str(run_dir / ckpt.CONFIG_FILE)
        # The config's own messages start with its path; said once is enough.
        detail = detail[len(path) :].lstrip(": ") if detail.startswith(path) else detail
        raise CheckpointError(f"{path} is unreadable: {detail}") from None


def load(run_dir: str | Path, *, which: str = "last", device: str | torch.device = "cpu") -> TrainedVAE:
    """Load a trained model from a run folder, safely (JSON + safetensors, no pickle).

    ``which`` is ``"last"`` (the latest checkpoint) or ``"best"`` (lowest validation loss).
    """
    if not isinstance(run_dir, str | os.PathLike):
        raise ConfigError(f"load takes a run folder's path, got {type(run_dir).__name__} {run_dir!r}")
    run_dir = Path(run_dir)
    files = {"last": ckpt.MODEL_FILE, "best": ckpt.BEST_MODEL_FILE}
    if which not in files:
        raise ConfigError(f"which must be 'last' or 'best', got {which!r}")
    if isinstance(device, str):
        from vaekit.runtime.device import resolve_device

        device = resolve_device(device)
    cfg = read_config(run_dir)
    with loading_run(run_dir):
        model = build_model(cfg)
    info = ckpt.load_model_weights(run_dir / files[which], model)
    vae = TrainedVAE(model.to(device), cfg, run_dir)
    vae.weights = which
    vae.weights_step = info.get("step")
    vae.weights_epoch = info.get("epoch")
    return vae


def _eval_splits(vae: TrainedVAE, data: str | None, split: str) -> Splits:
    """Load the run's data (or other data ``data`` of the same dimension) split as in training,
    after checking that ``split`` names one that the run has."""
    from vaekit.data.disk import streams
    from vaekit.training.run_data import load_bundle, make_splits

    if split not in ("train", "val", "test"):
        raise ConfigError(f"split must be train, val or test, got {split!r}")
    cfg = vae.config
    source = cfg
    if data is not None:
        source = build_config(cfg.to_dict(), data=data)
    # A run that read its data from disk evaluates from disk too (other data as well, if they stream).
    with training_data_hint(cfg, data is None):
        bundle = load_bundle(source, lazy=cfg.train.data_loading == "disk" and streams(source.data.name))
    _check_data_fits(vae, data, bundle)
    splits = make_splits(cfg, _with_run_classes(vae, data, bundle))
    if split == "val" and splits.val is None:
        raise ConfigError("this run has no validation split (val_fraction = 0)")
    return splits


def _with_run_classes(vae: TrainedVAE, data: str | None, bundle: Any) -> Any:
    """Return ``bundle`` with its class labels numbered as the run numbers its classes, by
    name (an image folder's class sub-folders: another folder may hold some of them, whose
    own numbering would differ); ``DataError`` for a class the run has not."""
    names = vae.config.class_names
    if not names or bundle.class_names is None or list(bundle.class_names) == names:
        return bundle
    unknown = [name for name in bundle.class_names if name not in names]
    if unknown:
        raise DataError(
            f"data {data!r} has class folder(s) {', '.join(map(repr, unknown))} that this run was not trained on; "
            f"its classes are {', '.join(map(repr, names))}: keep only those folders"
        )
    numbers = torch.tensor([names.index(name) for name in bundle.class_names], dtype=torch.int64)
    renumber = {key: numbers[getattr(bundle, key)] for key in ("train_labels", "test_labels") if getattr(bundle, key) is not None}
    return dataclasses.replace(bundle, **renumber, class_names=tuple(names))


def _check_data_fits(vae: TrainedVAE, data: str | None, bundle: Any) -> None:
    """Raise ``DataError`` when the examples of ``bundle`` (read from ``data``) are not the
    model's: another number of values, images of another shape (flat rows of the right number
    of values are taken as they are), other grey levels (a uint8 array of levels other than the
    run's; image files where the model's numbers depend on the levels), or float values outside
    [0, 1] for a run on images (grey levels not yet divided)."""
    from vaekit.data.images import is_image_path
    from vaekit.data.levels import check_grey_levels, run_grey_levels, trained_grey_levels

    cfg = vae.config
    shape, expected = tuple(bundle.shape), tuple(vae.input_shape)
    if len(shape) == 3 and len(expected) == 3 and shape != expected and data is None:
        raise DataError(
            f"this run's own data {cfg.data.name!r} now reads as {_image_shape(shape)}, but the run was trained on "
            f"{_image_shape(expected)}: images are read differently since it was trained (grey + alpha, grey "
            "palettes and 16-bit grey as one channel, EXIF orientation, transparency onto black); train the run "
            "again on its folder (`vaekit train ... --force`)"
        )
    if len(shape) == 3 and len(expected) == 3 and shape != expected:
        channels, height, width = expected
        kind = "grey" if channels == 1 else "RGB"
        raise DataError(
            f"data {data!r} holds images of {_image_shape(shape)}; this model takes {_image_shape(expected)}: "
            f"resize or convert them to {height}x{width} {kind} first (a run trained with --image-size "
            f"{height}x{width}x{channels} resizes and converts new images itself)"
        )
    if bundle.dim != cfg.input_dim:
        raise DataError(f"data {data!r} has {bundle.dim} values per example; this model expects {cfg.input_dim}")
    if bundle.levels is not None:
        # Image files are 8-bit pixels, refused only where the model's numbers depend on the grey
        # levels; a uint8 array of other levels is ambiguous (the run's levels left undivided, or
        # 8-bit pixels), so it is refused, as scoring refuses it.
        levels_matter = getattr(vae.model.likelihood, "levels", None) is not None or cfg.data.dequantize != "none"
        image_files = data is not None and is_image_path(Path(data))
        if levels_matter or not image_files:
            check_grey_levels(bundle.levels, run_grey_levels(cfg), what=f"the examples of {data!r}")
        return
    for part in (bundle.train, bundle.test):
        if isinstance(part, torch.Tensor):  # data left on disk are checked as their batches are read
            check_unit_range(part, cfg.value_range, what=f"the examples of {data!r}", levels=trained_grey_levels(cfg))


def _image_shape(shape: tuple[int, ...]) -> str:
    """Return an image shape ``(C, H, W)`` in words, e.g. ``3 channels of 20x20 pixels``."""
    channels, height, width = shape
    return f"{channels} channel{'s' if channels != 1 else ''} of {height}x{width} pixels (height x width)"


@contextlib.contextmanager
def training_data_hint(cfg: RunConfig, own_data: bool, resuming: bool = False) -> Any:
    """Add the likely cause to a ``DataError`` raised while reading a run's own training data
    from a relative path that is not found from here: the path is relative to where the run
    was trained."""
    try:
        yield
    except DataError as exc:
        name = cfg.data.name
        relative = own_data and ("/" in name or "." in name) and not Path(name).is_absolute()
        if not relative or Path(name).exists():
            raise
        fix = "run `vaekit resume` from that folder; if the file was moved or deleted since, put it back there"
        if not resuming:
            fix = (
                "run the command from that folder; if the file was moved or deleted since, give it with --data, "
                "where the command takes it"
            )
        raise DataError(
            f"this run's training data {name!r} is a path relative to the folder it was trained from, and there is "
            f"no such file from here ({Path.cwd()}): {fix}"
        ) from exc


def resolve_eval_data(
    vae: TrainedVAE, data: str | None, split: str | None = "test"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return the examples ``[N, D]`` (and labels) to evaluate on, as the model sees them
    (binarised or dequantised with fixed seeds): the run's own data split by default, or
    another dataset ``data`` of the same dimension. ``split=None`` reads every example of a
    file or image folder ``data`` in the file's order (a per-example output then lines up with
    the input's rows), and the test split of anything else."""
    if split is None:
        whole = _whole_file_examples(vae, data)
        if whole is not None:
            return whole[:2]
        split = "test"
    return evaluation_view(_eval_splits(vae, data, split), split)


def _whole_file_examples(
    vae: TrainedVAE, data: str | None
) -> tuple[torch.Tensor, torch.Tensor | None, int | None] | None:
    """Return every example of the file or folder ``data`` in its own order as the model sees
    them at evaluation (float32 ``[N, D]``, model units; binarised or dequantised with the test
    split's fixed draws, as held-out data), with their labels and grey levels, or None where
    :func:`read_whole_file` gives none."""
    whole = read_whole_file(vae, data)
    if whole is None:
        return None
    x, labels, levels = whole
    cfg = vae.config.data
    splits = Splits(train=x[:0], val=None, test=x, train_labels=None, test_labels=labels, levels=levels,
                    binarize=cfg.binarize, dequantize=cfg.dequantize)  # fmt: skip
    view, _ = evaluation_view(splits, "test")
    return view, labels, levels


def read_whole_file(
    vae: TrainedVAE, data: str | os.PathLike[str] | None
) -> tuple[torch.Tensor, torch.Tensor | None, int | None] | None:
    """Return every example of the file or image folder ``data`` in its own order, as stored
    (``[N, D]``: uint8 grey levels, or float32 model units), with its labels (int64 ``[N]``,
    or None) and grey levels (or None), after checking that they fit the model. None when
    ``data`` is no path or its reader keeps its own splits (IDX files)."""
    from vaekit.training.run_data import load_bundle

    if data is None or not Path(data).exists():
        return None
    source = build_config(vae.config.to_dict(), data=os.fspath(data))
    source.data.limit = None
    bundle = load_bundle(source, lazy=False, hold_out=False)
    if bundle.file_rows is None:
        return None
    _check_data_fits(vae, os.fspath(data), bundle)
    bundle = _with_run_classes(vae, os.fspath(data), bundle)
    return bundle.train, bundle.train_labels, bundle.levels


def evaluate(
    vae: TrainedVAE | str | Path,
    data: str | None = None,
    split: str | None = None,
    k: int | None = None,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    max_chunk_elements: int | None = None,
    probe: bool = True,
    progress: str = "quiet",
    fast: str = "auto",
    save: bool = False,
) -> dict[str, Any]:
    """Evaluate a model on a data split; return a dict of named metrics in nats per example
    (``bpd`` in bits per dimension for images). ``vae`` may be a loaded model or a run folder.
    ``split`` None (the default) takes the test split, or every example of a file or image
    folder given as ``data`` (``split`` "all" in the report, with no probe).
    ``save=True`` also writes the report into the model's run folder as ``vaekit evaluate``
    does (``RUN_DIR/eval-<split>-k<K>.json``; a folder that cannot be written gives a
    ``VaekitWarning`` and the report is still returned); by default nothing is written.

    ``nll`` is the importance-weighted bound with ``k`` samples (default 5000; ``0`` skips it),
    given with its standard error over examples, only when the likelihood is a true likelihood
    of the evaluated data; otherwise the ELBO terms come as a ``loss`` with a ``note``, and an
    explicit ``k`` raises ``ConfigError`` naming the fix. Also: ``elbo``, ``recon``, ``kl``,
    ``kl_per_dim``, ``active_units``, ``recon_mse`` and, for labelled data, ``probe`` (accuracy
    of a logistic regression on the latent means, fitted on the train split; ``probe=False``
    skips it). ``batch_size`` is the number of examples per NLL batch (default: 100, more for
    small K). ``max_chunk_elements`` bounds the memory of the NLL (elements of one chunk's
    decoder output; default 2**21 on a CPU, up to 2**26 on a CUDA device as its free memory
    allows: :func:`vaekit.evaluation.iwae.default_max_chunk_elements`); ``progress`` is
    ``"auto"`` (a bar on a terminal), ``"lines"`` (plain progress lines on stderr) or ``"quiet"``.
    ``fast="off"`` takes the generic NLL path where the fused chunk would apply
    (``nll_path`` in the report says which ran; docs/evaluation.md).
    """
    from vaekit.evaluation import evaluate_model
    from vaekit.evaluation.iwae import default_max_chunk_elements

    if data is not None and not isinstance(data, str | os.PathLike):
        raise ConfigError(
            f"evaluate reads other data from a dataset name or a file or folder path, got {type(data).__name__}: "
            "save it first (numpy.save('x.npy', x)) and pass its path, or take per-example NLLs with vae.score(x)"
        )
    for name, value, low in (("k", k, 0), ("batch_size", batch_size, 1), ("max_chunk_elements", max_chunk_elements, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low):
            raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed must be a whole number, got {seed!r}")
    if fast not in FAST_MODES:
        raise ConfigError(f"fast must be one of {', '.join(FAST_MODES)}, got {fast!r}")
    if not isinstance(vae, TrainedVAE):
        vae = load(vae)
    whole = _whole_file_examples(vae, data) if split is None else None
    if whole is not None:
        # Every example of a file: no split of it trains the probe, so there is none.
        x, labels, levels = whole
        split, splits, probe = "all", None, False
    else:
        split = split or "test"
        if data is None and split == "test" and not probe and vae.test_splits is not None:
            splits = vae.test_splits  # just trained: the test split is still in memory
        else:
            splits = _eval_splits(vae, data, split)
        # A split left on disk is read block by block, never whole in float32.
        x, labels = evaluation_examples(splits, split)
        levels = splits.levels
    probe_data = None
    if probe and splits is not None and labels is not None and splits.train_labels is not None:
        # The train split's codes, batch by batch: as float32 MNIST's would take 188 MB.
        train_batches = (xb for xb, _ in evaluation_batches(splits, "train", 1000))
        probe_data = (train_batches, splits.train_labels)
    cfg = vae.config
    report = evaluate_model(
        vae.model,
        x,
        labels=labels,
        probe_data=probe_data,
        value_range=cfg.value_range,
        dequantize=cfg.data.dequantize,
        levels=levels,
        is_image=vae.is_image,
        k=k,
        seed=seed,
        batch_size=batch_size,
        max_chunk_elements=max_chunk_elements or default_max_chunk_elements(vae.device),
        progress=progress,
        fast=fast,
    )
    objective = {k: v for k, v in cfg.model.objective.items() if v is not None}
    objective["name"] = objective.get("name") or getattr(vae.model, "objective_name", "elbo")
    # The training objective, so that a collapse note can tell which remedy the run already has.
    report = {"split": split, "data": data or cfg.data.name, **report, "objective": objective}
    if save:
        _save_evaluation(vae, report, own_data=data is None)
    return report


def evaluation_record(vae: TrainedVAE, report: dict[str, Any]) -> dict[str, Any]:
    """Return ``report`` (from :func:`evaluate`) with the run folder and the weights it is of
    (``weights``: last or best; ``weights_epoch`` and ``weights_step``: when they were saved,
    where the weights came from a run folder), as ``vaekit evaluate`` prints and saves it."""
    saved_at = {"weights_epoch": vae.weights_epoch, "weights_step": vae.weights_step}
    return {"run_dir": str(vae.run_dir), "weights": vae.weights, **{k: v for k, v in saved_at.items() if v is not None}, **report}


def save_evaluation(vae: TrainedVAE, report: dict[str, Any], *, own_data: bool = True) -> Path:
    """Write ``report`` (from :func:`evaluate`) into the model's run folder as
    ``eval-<split>-k<K>[-best].json`` (``own_data=False``: evaluated on other data, named so);
    return the path. A folder that cannot take it (read-only, full, locked by a training) raises
    a ``VaekitError`` saying why."""
    from vaekit.evaluation import write_report

    if vae.run_dir is None:
        raise ConfigError("saving an evaluation needs a model loaded from (or trained into) a run folder")
    return write_report(vae.run_dir, evaluation_record(vae, report), own_data=own_data)


def _save_evaluation(vae: TrainedVAE, report: dict[str, Any], own_data: bool) -> None:
    """``save_evaluation`` for ``evaluate(save=True)``: a folder that cannot take the report is
    a warning, and the report is returned all the same."""
    from vaekit.runtime.errors import VaekitError, VaekitWarning

    if vae.run_dir is None:
        raise ConfigError("save=True needs a model loaded from (or trained into) a run folder")
    try:
        save_evaluation(vae, report, own_data=own_data)
    except (OSError, VaekitError) as exc:
        warnings.warn(f"the evaluation was not saved: {exc}", VaekitWarning, stacklevel=3)
