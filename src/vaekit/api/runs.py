"""Training, resuming and loading runs from Python: ``build_config``, ``train``, ``resume``, ``load``."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.api.trained import TrainedVAE
from vaekit.config import RunConfig, apply_overrides, apply_preset, unused_options, validate
from vaekit.runtime.errors import CheckpointError, ConfigError, DataError, VaekitWarning, user_stacklevel
from vaekit.runtime.registry import loading_run
from vaekit.training import checkpoint as ckpt
from vaekit.training.build import build_model, changed_piece_hint, meta_model

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
    from vaekit.runtime.names import closest_names

    hint = _OPTION_HINTS.get(key)
    if hint is None:
        hint = " or ".join(f"{name}=" for name in closest_names(key, known)) or None
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
            raise CheckpointError(no_checkpoint_yet(run_dir))
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
        with loading_run(run_dir):
            check_checkpoint_fits(run_dir, cfg)
        with training_data_hint(cfg, data is None, resuming=True), loading_run(run_dir):
            result = fit(cfg, run_dir, resume=True, save_config=changed, progress=progress, frame=data)
    vae = TrainedVAE(result.model, result.config, run_dir)
    vae.test_preview = result.test_preview
    vae.test_splits = result.test_splits
    return vae


def check_checkpoint_fits(run_dir: Path, cfg: RunConfig) -> None:
    """Refuse (``CheckpointError``) to resume a run whose checkpoint holds weights of another
    architecture than the model its config.json builds today (a piece's default or code changed
    since it was trained), naming the tensors and what changed, before the data is read. A model
    that cannot be built on ``meta``, or a checkpoint whose header cannot be read, is left to the
    resume's own load."""
    saved = ckpt.file_tensor_shapes(run_dir / ckpt.TRAINER_FILE, prefix="model.")
    if saved is None or cfg.input_shape is None:
        return
    model = meta_model(cfg)
    if model is not None:
        built = ckpt.tensor_shapes(model.state_dict())
        ckpt.check_weights_fit(run_dir / ckpt.TRAINER_FILE, built, saved, changed_piece_hint(cfg))


def no_checkpoint_yet(run_dir: Path) -> str:
    """Return the message for a run folder whose training stopped (was killed) before it wrote
    its first checkpoint: there is nothing to load or resume, only to train again."""
    return (
        f"{run_dir} has no checkpoint yet (trainer.safetensors is missing): its training stopped before "
        f"the first checkpoint; start it again with `vaekit train --out {run_dir} --force` and its options"
    )


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
    from vaekit.training.run_dir import PREVIOUS, set_aside_run

    set_aside = set_aside_run(run_dir)
    if set_aside is not None and not (run_dir / ckpt.TRAINER_FILE).exists():
        # Resuming puts the previous run back and trains it on; --epochs at its own count only puts it back.
        epoch = ckpt.checkpoint_epoch(set_aside)
        only_back = f" (`--epochs {epoch}` only puts it back)" if epoch is not None else ""
        raise CheckpointError(
            f"{run_dir} is being replaced by a new run that has no checkpoint yet (`vaekit train --force`); "
            f"the previous run is kept in {run_dir / PREVIOUS} until then. If that training was "
            f"stopped, `vaekit resume {run_dir}` puts the previous run back and goes on training it{only_back}"
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
    if not (run_dir / files[which]).exists() and not (run_dir / ckpt.TRAINER_FILE).exists():
        raise CheckpointError(no_checkpoint_yet(run_dir))
    with loading_run(run_dir):
        model = build_model(cfg, record_options=False)
        info = ckpt.load_model_weights(run_dir / files[which], model, hint=changed_piece_hint(cfg))
    vae = TrainedVAE(model.to(device), cfg, run_dir)
    vae.weights = which
    vae.weights_step = info.get("step")
    vae.weights_epoch = info.get("epoch")
    return vae


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
