"""A run folder in words: the summary ``vaekit info`` prints and the report shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaekit.api import load
from vaekit.data.classes import describe_classes
from vaekit.runtime.registry import UnregisteredPieceError
from vaekit.training import checkpoint as ckpt
from vaekit.training.build import starts_from_marginals


def describe_piece(piece: dict[str, Any]) -> str:
    """Return a model piece as one line: its name and the options set, e.g. ``mlp encoder=[64, 32]``."""
    options = " ".join(f"{k}={v}" for k, v in piece.items() if k != "name" and v is not None)
    return f"{piece.get('name')} {options}".strip()


def training_history(records: list[dict[str, Any]]) -> str:
    """Return how a run's epochs were trained, from its ``metrics.jsonl`` records: runs of
    consecutive epochs with the same step, precision and ``min_backward_weight`` (when above 0),
    e.g. ``fused fp32 (epochs 1-100), fused bf16-grad (epochs 101-114), fused bf16-grad
    min-backward-weight 0.0001 (epochs 115-120)`` (a record from before vaekit logged one leaves
    it out)."""
    spans: list[list[Any]] = []  # [label, first epoch, last epoch]
    for record in records:
        words = [str(record[key]) for key in ("training_step", "precision") if key in record]
        if record.get("min_backward_weight"):
            words.append(f"min-backward-weight {record['min_backward_weight']:g}")
        label = " ".join(words) or "unrecorded"
        if spans and spans[-1][0] == label:
            spans[-1][2] = record.get("epoch")
        else:
            spans.append([label, record.get("epoch"), record.get("epoch")])
    return ", ".join(f"{label} (epoch {a})" if a == b else f"{label} (epochs {a}-{b})" for label, a, b in spans)


def describe_optimizer(train: Any) -> str:
    """Return a run's optimizer in words from its ``TrainConfig``: Adam's learning rate and its
    schedule, decay rates, epsilon, and the batch size (examples per step)."""
    return (
        f"Adam lr {train.lr:g} ({train.lr_schedule}), betas {train.adam_beta1:g}/{train.adam_beta2:g}, "
        f"eps {train.adam_eps:g}, batch {train.batch_size}"
    )


def describe_start(train: Any, likelihood: Any) -> str:
    """Return how a run's weights started, in words, from its ``TrainConfig`` (``init``,
    ``output_bias``) and its model's likelihood (``vaekit.training.build.starts_from_marginals``)."""
    weights = "torch's layer defaults" if train.init == "torch" else f"{train.init} weights"
    from_marginals = starts_from_marginals(train.output_bias, likelihood)
    return weights + (", decoder output bias from the data's marginals" if from_marginals else "")


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """Return a summary of a run folder: config, progress, best epoch with ``best_loss`` (nats
    per example) and ``best_by`` (which loss that is), parameter count, files."""
    run_dir = Path(run_dir)
    try:
        vae = load(run_dir)
    except UnregisteredPieceError as exc:
        return run_info_from_files(run_dir, exc)
    state = trainer_state(run_dir)
    table = vae.config.table
    info = {
        "run_dir": str(run_dir),
        "model": vae.config.model.name,
        "data": vae.config.data.name,
        "input_shape": vae.config.input_shape,
        "latent_dim": vae.latent_dim,
        "net": describe_piece(vae.config.model.net),
        "likelihood": describe_piece({**vae.config.model.likelihood, "name": vae.model.likelihood.name}),
        "prior": describe_piece({**vae.config.model.prior, "name": vae.model.prior.name}),
        "objective": describe_piece(
            {**vae.config.model.objective, "name": vae.config.model.objective.get("name") or vae.model.objective_name}
        ),
        "parameters": vae.num_parameters(),
        "epochs_trained": state.get("epoch"),
        "epochs_planned": vae.config.train.epochs,
        "steps": state.get("step"),
        "best_epoch": state.get("best_epoch"),
        # The loss that chose the best epoch (nats per example): the validation loss, or without
        # a validation split the training loss, so its name cannot promise a validation figure.
        "best_loss": state.get("best_val_loss"),
        "best_by": "validation loss" if vae.config.data.val_fraction > 0 else "training loss (no validation split)",
        "optimizer": describe_optimizer(vae.config.train),
        "start": describe_start(vae.config.train, vae.model.likelihood),
        "training": training_history(ckpt.checkpointed_metrics(run_dir)),
        "version": vae.config.version,
        "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
    }
    widths = getattr(vae.model, "widths", None)
    if widths is not None and len(widths) > 1:
        # A hierarchy's stochastic layers, z1 (nearest the data, latent_dim wide) first.
        info = _insert_after(info, "latent_dim", "latent_layers", list(widths))
    classes = describe_classes(vae.config.num_classes, vae.config.class_names)
    if classes is not None and table is None:  # a table's classes are its condition columns' values
        info = _insert_after(info, "data", "classes", classes)
    own = {k: v for k, v in vae.config.model.options.items() if v is not None}
    if own:
        info = _insert_after(info, "model", "model_options", describe_piece({"name": "", **own}))
    if table is not None:
        info["condition_on"] = list(table.get("condition_on") or [])
        info["schema"] = table["schema"]
    return info


def run_info_from_files(run_dir: Path, missing: UnregisteredPieceError) -> dict[str, Any]:
    """Return :func:`run_info`'s summary from the run's files alone, for a run whose ``missing``
    piece (a plugin's) this process has not imported: what needs the model (the parameter count,
    the default pieces' names, the layers of a hierarchy) is left out, and ``not_imported`` says
    which piece and how to see the rest."""
    from vaekit.api.runs import read_config
    from vaekit.models import MODELS

    cfg = read_config(run_dir)
    state = trainer_state(run_dir)
    model = cfg.model
    family = MODELS.get(model.name)  # None: the family is the piece not imported
    prior = model.prior.get("name") or getattr(family, "prior_name", None) or "the family's"
    objective = model.objective.get("name") or getattr(family, "objective_name", None) or "the family's"
    info = {
        "run_dir": str(run_dir),
        "model": model.name,
        "data": cfg.data.name,
        "input_shape": cfg.input_shape,
        "latent_dim": model.latent_dim,
        "net": describe_piece(model.net),
        "likelihood": describe_piece({**model.likelihood, "name": model.likelihood.get("name") or "default"}),
        "prior": describe_piece({**model.prior, "name": prior}),
        "objective": describe_piece({**model.objective, "name": objective}),
        "not_imported": (
            f"{missing.kind} {missing.name!r}: this process has not imported the module that registers it, so the "
            f"parameter count is left out (run vaekit from a script that imports it to see it, docs/extending.md)"
        ),
        "epochs_trained": state.get("epoch"),
        "epochs_planned": cfg.train.epochs,
        "steps": state.get("step"),
        "best_epoch": state.get("best_epoch"),
        "best_loss": state.get("best_val_loss"),
        "best_by": "validation loss" if cfg.data.val_fraction > 0 else "training loss (no validation split)",
        "optimizer": describe_optimizer(cfg.train),
        "training": training_history(ckpt.checkpointed_metrics(run_dir)),
        "version": cfg.version,
        "files": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
    }
    own = {k: v for k, v in model.options.items() if v is not None}
    if own:
        info = _insert_after(info, "model", "model_options", describe_piece({"name": "", **own}))
    return info


def trainer_state(run_dir: Path) -> dict[str, Any]:
    """Return a run's trainer state (epoch, step, best epoch and loss) without the optimizer's:
    that of its last complete checkpoint, from the header of ``trainer.safetensors``, which
    ``trainer.json`` copies but may lag (a kill between the two writes) or lose; ``trainer.json``
    when there is no readable checkpoint; empty when neither can be read."""
    state = ckpt.checkpoint_state(run_dir) or ckpt.read_trainer_json(run_dir) or {}
    return {k: v for k, v in state.items() if k != "optimizer"}


def _insert_after(info: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """Return ``info`` with ``key: value`` placed right after ``after`` (the order a summary shows)."""
    items = list(info.items())
    at = [k for k, _ in items].index(after) + 1
    return dict([*items[:at], (key, value), *items[at:]])
