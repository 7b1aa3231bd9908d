"""``evaluate`` a trained model from Python, and save its report into the run folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.api.eval_data import eval_splits, whole_file_examples
from vaekit.api.runs import load
from vaekit.api.trained import TrainedVAE
from vaekit.config import FAST_MODES
from vaekit.data.views import evaluation_batches, evaluation_examples
from vaekit.runtime.errors import ConfigError, VaekitWarning


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
    whole = whole_file_examples(vae, data) if split is None else None
    if whole is not None:
        # Every example of a file: no split of it trains the probe, so there is none.
        x, labels, levels = whole
        split, splits, probe = "all", None, False
    else:
        split = split or "test"
        if data is None and split == "test" and not probe and vae.test_splits is not None:
            splits = vae.test_splits  # just trained: the test split is still in memory
        else:
            splits = eval_splits(vae, data, split)
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
    from vaekit.runtime.errors import VaekitError

    if vae.run_dir is None:
        raise ConfigError("save=True needs a model loaded from (or trained into) a run folder")
    try:
        save_evaluation(vae, report, own_data=own_data)
    except (OSError, VaekitError) as exc:
        warnings.warn(f"the evaluation was not saved: {exc}", VaekitWarning, stacklevel=3)
