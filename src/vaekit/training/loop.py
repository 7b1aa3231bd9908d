"""The training loop: one function that trains (or resumes) a run, epoch by epoch.

Batches are drawn by a permutation of indices into one tensor held on the device, seeded per
epoch, so an epoch's batch order depends only on (seed, epoch) and a resumed run replays exactly.
That tensor keeps the dataset's dtype (uint8 grey levels for images: a quarter of float32's
memory); each batch is converted to float32 model units by ``to_model_units`` as it is drawn.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaekit import objectives
from vaekit.config import RunConfig, validate
from vaekit.data.units import to_model_units
from vaekit.runtime.errors import CheckpointError, ConfigError, TrainingDivergedError
from vaekit.models import create
from vaekit.training import checkpoint as ckpt
from vaekit.runtime.atomic import atomic_write_text
from vaekit.training.batches import ExamplesDataset, memory_batches, streaming_batches
from vaekit.fast.denormals import flushing_denormals
from vaekit.runtime.device import resolve_device
from vaekit.fast.fused_step import FusedVAEStep, fused_step_unsupported
from vaekit.training.optim import DirectAdamStep, autocast_context, make_adam, make_scaler
from vaekit.runtime.progress import Progress
from vaekit.training.splits import (
    Splits,
    bind_to_data,
    dequantize_uniform,
    evaluation_batches,
    evaluation_view,
    load_bundle,
    make_splits,
)

#: Test examples kept in ``TrainResult.test_preview`` for the run's pictures.
PREVIEW_EXAMPLES = 64
#: Validation examples per forward pass of the per-epoch validation.
VAL_BATCH_SIZE = 1024


@dataclass
class TrainResult:
    """What a finished (or resumed) training run produced."""

    run_dir: Path
    config: RunConfig
    history: list[dict[str, Any]]
    model: torch.nn.Module
    #: the first test examples ``[<=64, D]`` as the model sees them (binarised or dequantised
    #: with fixed seeds) and their labels: enough for the run's pictures without reloading data
    test_preview: tuple[torch.Tensor, torch.Tensor | None] | None = None


class EpochSums:
    """Running sums over an epoch's examples of the loss, the reconstruction term and the KL
    (nats), in float64.

    On a CPU they are Python floats: the loop reads each step's loss there anyway, and a few
    reads cost less than the device ops of a stack-and-add. On an accelerator they are a device
    tensor, read only by :meth:`values` (each read is a synchronisation). ``on_host`` overrides
    the choice.
    """

    def __init__(self, device: torch.device, on_host: bool | None = None) -> None:
        on_host = device.type == "cpu" if on_host is None else on_host
        self._host = [0.0, 0.0, 0.0] if on_host else None
        self._device = None if self._host is not None else torch.zeros(3, dtype=torch.float64, device=device)

    def add(self, loss: torch.Tensor, recon: torch.Tensor, kl: torch.Tensor, batch: int) -> None:
        """Add a batch's mean ``loss`` (0-d) and per-example ``recon`` and ``kl`` ``[batch]``."""
        if self._host is not None:
            self._host[0] += loss.item() * batch
            self._host[1] += recon.sum().item()
            self._host[2] += kl.sum().item()
        else:
            self._device += torch.stack([loss.detach() * batch, recon.detach().sum(), kl.detach().sum()]).double()

    def values(self) -> list[float]:
        """Return the sums (loss, recon, kl) so far."""
        return list(self._host) if self._host is not None else self._device.tolist()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Return the CPU generator that shuffles (and binarises) epoch ``epoch`` of a run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


@torch.inference_mode()
def mean_negative_elbo(
    model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]]
) -> dict[str, float]:
    """Return ``loss`` (-ELBO), ``elbo``, ``recon`` (E_q log p(x|z)) and ``kl``, each the mean
    over the examples of ``batches`` in nats per example (single-sample estimates). ``batches``
    yields ``(x, y)`` on the model's device: examples ``[B, D]`` and, for conditional models
    only, their labels (else ``None``)."""
    was_training = model.training
    model.eval()
    totals = {"elbo": 0.0, "recon": 0.0, "kl": 0.0}
    n = 0
    for x, y in batches:
        out = model(x, *objectives.model_args(model, y))
        totals["elbo"] += objectives.elbo(out).sum().item()
        totals["recon"] += out.recon_log_prob.sum().item()
        totals["kl"] += out.kl.sum().item()
        n += len(x)
    model.train(was_training)
    means = {k: v / n for k, v in totals.items()}
    return {"loss": -means["elbo"], **means}


def validation_batches(
    config: RunConfig, splits: Splits, device: torch.device, labelled: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield the validation set as the model sees it (see ``evaluation_batches``), converted on
    the CPU ``VAL_BATCH_SIZE`` examples at a time and moved to ``device``; the labels only when
    ``labelled`` (conditional models)."""
    for x, y in evaluation_batches(config, splits, "val", VAL_BATCH_SIZE):
        yield x.to(device), (y.to(device) if labelled and y is not None else None)


def _raise_if_diverged(first_bad_step: int, epoch: int, checkpoint_epoch: int) -> None:
    """Stop the run when a step's loss was NaN or infinite (``first_bad_step`` > 0)."""
    if first_bad_step:
        raise TrainingDivergedError(
            f"loss became NaN or infinite at step {first_bad_step} (epoch {epoch}); stopped, the last "
            f"good checkpoint (epoch {checkpoint_epoch}) is intact. Try a lower --lr or --grad-clip."
        )


def _read_metrics(path: Path, up_to_epoch: int) -> list[dict[str, Any]]:
    """Read metrics.jsonl, keeping complete lines of epochs <= ``up_to_epoch``."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if record.get("epoch", math.inf) <= up_to_epoch:
            records.append(record)
    return records


def _write_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def fit(
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: str = "auto",
) -> TrainResult:
    """Train the model ``config`` describes, writing checkpoints and metrics into ``run_dir``.

    With ``resume=True`` the run continues from its last checkpoint and, with the same device,
    reaches the same weights as an uninterrupted run. Returns the history and the final model.
    With ``config.train.flush_denormal`` (the default) float32 subnormals are flushed to zero
    while training (see :mod:`vaekit.fast.denormals`).
    """
    with flushing_denormals(config.train.flush_denormal):
        return _fit(config, Path(run_dir), resume=resume, progress=progress)


def _fit(config: RunConfig, run_dir: Path, *, resume: bool, progress: str) -> TrainResult:
    """The body of :func:`fit`."""
    validate(config)
    bundle = load_bundle(config)
    bind_to_data(config, bundle)
    splits = make_splits(config, bundle)
    del bundle  # the splits hold what training needs; the reader's full copy can go
    device = resolve_device(config.train.device)
    t = config.train

    torch.manual_seed(t.seed)
    model = create(config).to(device)
    objective = objectives.create_objective(config, model)
    optimizer = make_adam(model.parameters(), t.lr, device, fused=t.fused_optimizer)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best_val_loss": None, "best_epoch": None}
    history: list[dict[str, Any]] = []

    if resume:
        model_state, others, saved = ckpt.load_checkpoint(run_dir)
        try:
            model.load_state_dict(model_state, strict=True)
            optimizer.load_state_dict(ckpt.optimizer_from_flat(others, saved.pop("optimizer")))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{run_dir}: checkpoint does not match config.json ({exc})") from None
        ckpt.rng_from_tensors(others)
        state.update(saved)
        history = _read_metrics(run_dir / ckpt.METRICS_FILE, state["epoch"])
        _write_metrics(run_dir / ckpt.METRICS_FILE, history)
        # Heal the readable copies in case the kill fell between the commit and their writes.
        ckpt.save_model(run_dir / ckpt.MODEL_FILE, model, {"epoch": state["epoch"], "step": state["step"]})
    else:
        config.save(run_dir / ckpt.CONFIG_FILE)

    # Labels travel with the examples only for conditional models (which refuse unlabelled data).
    conditional = getattr(model, "conditional", False)
    streaming = t.data_loading == "streaming"
    if streaming:
        dataset = ExamplesDataset(splits.train, splits.train_labels if conditional else None)
    else:
        train_x = splits.train.to(device)
        train_y = splits.train_labels.to(device) if conditional else None
    # Compiling wraps the forward pass only; checkpoints always hold the plain module's weights.
    train_model = torch.compile(model) if t.compile else model
    scaler = make_scaler(t.precision, device)
    # Adam's kernels without Adam.step's per-step Python (bit-identical; the scaler steps itself).
    adam_step = DirectAdamStep(optimizer)
    # The hand-written step where the run qualifies (same gradients, no autograd graph).
    fused = None
    if t.fused_step and fused_step_unsupported(model, objective, t.precision, t.compile) is None:
        fused = FusedVAEStep(model, objective)
    # A finiteness check reads the loss back from the device: free on CPU, a sync on a GPU.
    check_every = 1 if device.type == "cpu" else 50
    reporter = Progress(t.epochs, mode=progress)
    if state["epoch"] >= t.epochs:
        reporter.message(f"{run_dir}: already trained for {state['epoch']} of {t.epochs} epochs")
    n = len(splits.train)
    n_batches = math.ceil(n / t.batch_size)
    if config.model.normalization == "batch" and n % t.batch_size == 1:
        raise ConfigError(
            f"--norm batch cannot normalise the last batch of one example ({n} training examples, "
            f"batch size {t.batch_size}); choose another --batch-size or --norm layer"
        )

    for epoch in range(state["epoch"] + 1, t.epochs + 1):
        model.train()
        g = epoch_generator(t.seed, epoch)
        order = torch.randperm(n, generator=g)
        if streaming:
            batches = streaming_batches(dataset, order, t.batch_size, device, t.num_workers, labelled=conditional)
        else:
            batches = memory_batches(train_x, train_y, order.to(device), t.batch_size)
        sums = EpochSums(device)
        first_bad_step = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet
        started = time.perf_counter()
        seen = 0
        for batch_index, (x, y) in enumerate(reporter.batches(epoch, batches, n_batches)):
            x = to_model_units(x, splits.levels)
            if config.data.binarize == "dynamic":
                x = torch.bernoulli(x.cpu(), generator=g).to(device)
            elif config.data.dequantize == "uniform":
                x = dequantize_uniform(x, splits.levels, generator=g)
            if fused is not None:
                terms = fused(x, state["step"])
            else:
                with autocast_context(t.precision, device):
                    terms = objectives.training_loss(objective, train_model, x, y, state["step"])
            loss = terms.loss.float()
            if check_every == 1:
                # On a CPU the loss is already computed: reading it costs nothing.
                if not math.isfinite(loss.item()):
                    _raise_if_diverged(state["step"] + 1, epoch, state["epoch"])
            else:
                bad = ~torch.isfinite(loss.detach())
                first_bad_step = torch.where(bad & (first_bad_step == 0), state["step"] + 1, first_bad_step)
                if (state["step"] + 1) % check_every == 0 or batch_index == n_batches - 1:
                    _raise_if_diverged(int(first_bad_step), epoch, state["epoch"])
            if fused is not None:
                # The fused step has already written every gradient.
                if t.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                adam_step()
            elif scaler is not None:
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if t.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if t.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                adam_step()
            state["step"] += 1
            b = len(x)
            with torch.no_grad():
                sums.add(loss, terms.recon, terms.kl, b)
            seen += b
            if reporter.shows_bar and state["step"] % 10 == 0:
                # Read the device-side sums only now and then: each read is a sync.
                loss_sum, recon_sum, kl_sum = (v / seen for v in sums.values())
                reporter.batch_metrics(
                    loss=loss_sum,
                    elbo=recon_sum - kl_sum,
                    kl=kl_sum,
                    ex_per_s=seen / (time.perf_counter() - started),
                )
        elapsed = time.perf_counter() - started
        loss_sum, recon_sum, kl_sum = (v / n for v in sums.values())
        # train_loss is the objective (which for beta-VAE, IWAE or the AE is not -ELBO);
        # train_elbo is the single-sample ELBO recon - kl of the same batches.
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": state["step"],
            "train_loss": loss_sum,
            "train_elbo": recon_sum - kl_sum,
            "train_recon": recon_sum,
            "train_kl": kl_sum,
            "examples_per_s": n / elapsed,
            "epoch_time_s": elapsed,
            "training_step": "fused" if fused is not None else "autograd",
        }
        if splits.val is not None:
            # Converted batch by batch each epoch (the same fixed draws): no float32 copy is kept.
            val = mean_negative_elbo(model, validation_batches(config, splits, device, conditional))
            record.update({f"val_{k}": v for k, v in val.items()})
        state["epoch"] = epoch
        history.append(record)
        with (run_dir / ckpt.METRICS_FILE).open("a") as f:
            f.write(json.dumps(record) + "\n")
        reporter.epoch_end(record)

        monitored = record.get("val_loss", record["train_loss"])
        if state["best_val_loss"] is None or monitored < state["best_val_loss"]:
            state["best_val_loss"], state["best_epoch"] = monitored, epoch
            ckpt.save_model(
                run_dir / ckpt.BEST_MODEL_FILE, model, {"epoch": epoch, "step": state["step"], "val_loss": monitored}
            )
        if epoch % t.checkpoint_every == 0 or epoch == t.epochs:
            ckpt.save_checkpoint(run_dir, model, optimizer, state)

    model.eval()
    # Only the previewed examples are converted (and binarised or dequantised, as evaluation would).
    test_x, test_y = evaluation_view(config, splits, "test", limit=PREVIEW_EXAMPLES)
    preview = (test_x.clone(), test_y.clone() if test_y is not None else None)
    return TrainResult(run_dir=run_dir, config=config, history=history, model=model, test_preview=preview)
