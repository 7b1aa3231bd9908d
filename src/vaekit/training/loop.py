"""The training loop: one function that trains (or resumes) a run, epoch by epoch.

Batches are drawn by a permutation of indices into one tensor held on the device, seeded per
epoch, so an epoch's batch order depends only on (seed, epoch) and a resumed run replays exactly.
That tensor keeps the dataset's dtype (uint8 grey levels for images: a quarter of float32's
memory); each batch is converted to float32 model units by ``to_model_units`` as it is drawn.
Each batch then goes through one training step (see :mod:`vaekit.training.step`): the fused
step of :mod:`vaekit.fast` where it applies, else the autograd step.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vaekit import fast, objectives
from vaekit.config import RunConfig
from vaekit.config import validate as validate_config
from vaekit.data.units import to_model_units
from vaekit.data.views import Splits, dequantize_uniform, evaluation_batches, evaluation_view
from vaekit.distributions.likelihoods.base import likelihood_is_exact
from vaekit.runtime import distributed
from vaekit.runtime.atomic import atomic_write_bytes, atomic_write_text, write_errors
from vaekit.runtime.batch_shard import rows_of_batch
from vaekit.runtime.device import resolve_device
from vaekit.runtime.errors import CheckpointError, ConfigError, DiskFullError, TrainingDivergedError, WriteError
from vaekit.runtime.progress import Progress
from vaekit.training import checkpoint as ckpt
from vaekit.training.batches import (
    DiskRows,
    ExamplesDataset,
    TrainData,
    disk_batches,
    memory_batches,
    streaming_batches,
)
from vaekit.training.build import (
    build_model,
    build_objective,
    check_training_memory,
    initialise,
    start_from_marginals,
)
from vaekit.training.distributed import GradientSum, check_distributed_training
from vaekit.training.optim import learning_rate, make_adam
from vaekit.training.run_data import bind_to_data, load_bundle, make_splits
from vaekit.training.run_dir import open_run_folder
from vaekit.training.step import AutogradStep, TrainingStep

#: Test examples kept in ``TrainResult.test_preview`` for the run's pictures.
PREVIEW_EXAMPLES = 64
#: Validation examples per forward pass of the per-epoch validation.
VAL_BATCH_SIZE = 1024
#: Steps between reads of the divergence check on an accelerator (each read is a synchronisation).
DIVERGENCE_CHECK_EVERY = 50


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
    #: the run's splits with only the test examples kept (as stored: uint8 images stay uint8),
    #: so that a summary of the test split need not read the dataset again
    test_splits: Splits | None = None


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


class DivergenceCheck:
    """Stops training at the first step whose loss is NaN or infinite.

    With ``every == 1`` (the default on a CPU, where the loss is already computed and reading it
    costs nothing) each step's loss is read at once. Otherwise (an accelerator, where a read is a
    synchronisation) the first bad step is kept on the device and read every ``every`` steps and
    at the end of each epoch.
    """

    def __init__(self, device: torch.device, every: int | None = None) -> None:
        self.every = every or (1 if device.type == "cpu" else DIVERGENCE_CHECK_EVERY)
        self._first_bad = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet

    def __call__(
        self, loss: torch.Tensor, step: int, epoch: int, checkpoint_epoch: int | None, end_of_epoch: bool
    ) -> None:
        """See the loss of step ``step`` (counted from 1) of ``epoch``; raise
        ``TrainingDivergedError`` naming the first bad step and the last complete checkpoint's
        epoch (``None``: the run has none yet)."""
        if self.every == 1:
            first_bad = 0 if math.isfinite(loss.item()) else step
        else:
            bad = ~torch.isfinite(loss)
            self._first_bad = torch.where(bad & (self._first_bad == 0), step, self._first_bad)
            if step % self.every and not end_of_epoch:
                return
            first_bad = int(self._first_bad)
        if first_bad:
            kept = (
                "the run had no checkpoint yet, so nothing of it was kept"
                if checkpoint_epoch is None
                else f"the last good checkpoint (epoch {checkpoint_epoch}) is intact"
            )
            raise TrainingDivergedError(
                f"loss became NaN or infinite at step {first_bad} (epoch {epoch}); stopped, {kept}. "
                "Try a lower --lr or a --grad-clip"
                + ("" if checkpoint_epoch is None else f" ({distributed.resume_command('RUN', ' --lr ... --grad-clip ...')} goes on "
                       "from the checkpoint)")
                + "; data of very large values (8-bit pixels stored as 0..255 floats, 16-bit images) may need "
                "rescaling first, e.g. to [0, 1] or to zero mean and unit variance."
            )


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Return the CPU generator that shuffles epoch ``epoch`` of a run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def noise_generator(seed: int, epoch: int, device: torch.device, shuffle: torch.Generator) -> torch.Generator:
    """Return the generator of epoch ``epoch``'s binarisation or dequantisation noise, on the
    batches' ``device`` so that no batch leaves it: on a CPU the epoch's ``shuffle`` generator
    itself (continuing its stream, as runs always have), else one on ``device`` seeded from
    (seed, epoch)."""
    if device.type == "cpu":
        return shuffle
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)


@torch.inference_mode()
def mean_negative_elbo(
    model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]], *, sharded: bool = False
) -> dict[str, float]:
    """Return ``loss`` (-ELBO), ``elbo``, ``recon`` (E_q log p(x|z)) and ``kl``, each the mean
    over the examples of ``batches`` in nats per example (single-sample estimates). ``batches``
    yields ``(x, y)`` on the model's device: examples ``[B, D]`` and, for conditional models
    only, their labels (else ``None``). With ``sharded`` in a distributed run, each rank
    evaluates its rows of every batch (with the noise one process would draw for them) and the
    sums are added over the ranks: every rank returns the one-process means."""
    was_training = model.training
    model.eval()
    # Sums of elbo, recon and kl, and the example count, on the model's device: read once at the
    # end, since on an accelerator each read is a synchronisation.
    totals: torch.Tensor | None = None
    world = distributed.world()
    for x, y in batches:
        total = len(x)
        start, stop = distributed.shard_bounds(total, world.rank, world.size) if sharded else (0, total)
        x, y = x[start:stop], (y[start:stop] if y is not None else None)
        with rows_of_batch(total, start, stop):
            out = model(x, *objectives.model_args(model, y))
        terms = [objectives.elbo(out).sum(), out.recon_log_prob.sum(), out.kl.sum(), out.kl.new_tensor(len(x))]
        layers = getattr(out, "kl_layers", None)  # [B, layers] for a model with stochastic layers
        if layers is not None:
            terms += list(layers.sum(0))
        batch_sums = torch.stack([t.double() for t in terms])
        totals = batch_sums if totals is None else totals + batch_sums
    model.train(was_training)
    if totals is None:
        totals = torch.zeros(4, dtype=torch.float64)
    if sharded:
        distributed.all_reduce_sum(totals)
    elbo, recon, kl, n, *layers = totals.tolist()
    means = {"elbo": elbo / n, "recon": recon / n, "kl": kl / n}
    return {"loss": -means["elbo"], **means, **({"kl_layers": [v / n for v in layers]} if layers else {})}


def validation_batches(
    splits: Splits, device: torch.device, labelled: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield the validation set as the model sees it (see ``evaluation_batches``), converted on
    the CPU ``VAL_BATCH_SIZE`` examples at a time and moved to ``device``; the labels only when
    ``labelled`` (conditional models)."""
    for x, y in evaluation_batches(splits, "val", VAL_BATCH_SIZE):
        yield x.to(device), (y.to(device) if labelled and y is not None else None)


def _write_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


@dataclass
class Run:
    """What the epochs of one training run share."""

    config: RunConfig
    run_dir: Path
    device: torch.device
    splits: Splits
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: TrainingStep
    reporter: Progress
    divergence: DivergenceCheck
    #: labels travel with the examples only for conditional models (which refuse unlabelled data)
    labelled: bool
    #: the training examples on the device (memory loading), a Dataset (streaming) or a file (disk);
    #: ``vaekit.training.batches.read_rows`` reads any positions from any of them
    train_data: TrainData
    state: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: the epoch of the last complete checkpoint in the run folder (None before the first)
    checkpoint_epoch: int | None = None
    #: the best weights so far and their info, when newer than the run folder's best file
    unsaved_best: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    #: a resumed run's checkpoint as read: its trainer state (optimizer settings included) and
    #: the best weights it carries (see ``save_checkpoint``), from which :func:`start` heals files
    restored: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None
    #: config.json's bytes while a resume's changed config waits for the resume's first
    #: checkpoint (see :func:`commit`); None otherwise
    old_config: bytes | None = None
    #: whether config.json holds that changed config (written, and not put back)
    config_written: bool = False

    @property
    def n_batches(self) -> int:
        """Number of batches in one epoch of the training split."""
        return math.ceil(len(self.splits.train) / self.config.train.batch_size)


def fit(
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    force: bool = False,
    save_config: bool = False,
    progress: str = "auto",
    frame: Any = None,
) -> TrainResult:
    """Train the model ``config`` describes, writing checkpoints and metrics into ``run_dir``.

    With ``resume=True`` the run continues from its last checkpoint and, with the same device,
    reaches the same weights as an uninterrupted run (``save_config``: write ``config`` over the
    run's config.json with the resumed run's first checkpoint, e.g. with a new number of
    epochs). Returns the history and the final model.
    ``config.train.fast`` chooses the fast paths (see :mod:`vaekit.fast`), including whether
    float32 subnormals are flushed to zero while training (and freed memory kept for reuse, see
    :mod:`vaekit.fast.malloc`). ``frame`` is a pandas DataFrame to
    train on instead of the file ``config.data.name`` names (a table given in Python).

    The run folder is locked for the whole run, and nothing is written into it before the data,
    device, model and checkpoint are known good. A new run goes into an empty folder, or with
    ``force`` replaces the run in ``run_dir`` once it has written its first complete checkpoint
    (see :mod:`vaekit.training.run_dir`); a new run that fails before that leaves nothing behind.
    """
    device = resolve_device(distributed.device_for_rank(config.train.device))
    fast.memory_kept(config.train.fast, device)
    # Training needs gradients even when called inside a caller's torch.no_grad() (a notebook's
    # inference cell); the fused steps compute theirs by hand and would train there anyway.
    with fast.denormals_flushed(config.train.fast), distributed.joined(device), torch.enable_grad():
        return _fit(
            config, Path(run_dir), resume=resume, force=force, save_config=save_config, progress=progress, frame=frame
        )


def _fit(
    config: RunConfig, run_dir: Path, *, resume: bool, force: bool, save_config: bool, progress: str, frame: Any
) -> TrainResult:
    world = distributed.world()
    if world.distributed:
        distributed.check_same_everywhere(
            "the run's config", config.to_dict(),
            "start every process with the same command and config file",
        )  # fmt: skip
    # Only rank 0 writes the run folder; the others read its checkpoint once rank 0 holds the lock.
    writing = open_run_folder(run_dir, new=not resume, force=force) if world.writer else contextlib.nullcontext()
    with writing as folder:
        distributed.barrier()
        run = setup(config, run_dir, resume=resume, progress=progress, frame=frame)
        if folder is not None:
            folder.begin()
            start(run, resume=resume, save_config=save_config)
        started = time.perf_counter()
        for epoch in range(run.state["epoch"] + 1, config.train.epochs + 1):
            try:
                record = run_epoch(run, epoch)
            except TrainingDivergedError:
                keep_unsaved_best(run)
                raise
            record.update(validate(run))
            out_of_time = past_time_limit(config.train.time_limit, started) and epoch < config.train.epochs
            if out_of_time:
                checkpoint(run, epoch, record, save=True)
            else:
                checkpoint(run, epoch, record)
            if out_of_time:
                run.reporter.message(
                    f"{run_dir}: stopped at the time limit ({config.train.time_limit:g} s) after epoch {epoch} of "
                    f"{config.train.epochs}, checkpointed; {distributed.resume_command(run_dir)} continues it for "
                    f"another {config.train.time_limit:g} s (the run keeps its limit), `--time-limit 0` to the end"
                )
                break
    return finish(run)


def past_time_limit(limit: float | None, started: float) -> bool:
    """Return whether ``limit`` seconds (None: no limit) have passed since ``started``
    (``time.perf_counter``); in a distributed run, whether they have on any rank, so that every
    rank stops after the same epoch."""
    late = limit is not None and time.perf_counter() - started >= limit
    if not distributed.world().distributed:
        return late
    return bool(distributed.all_reduce_sum(torch.tensor([float(late)])).item() > 0)


def _layer_norm_fix(config: RunConfig, model: torch.nn.Module) -> str:
    """Return the options that replace ``model``'s batch normalisation by layer normalisation:
    ``--set net.normalization=layer`` and ``--set model.normalization=layer`` (the Ladder VAE's
    own option, batch by default) for those set to batch, or words naming both options when
    neither is (a plugin's own layers)."""
    options = ["net.normalization"] if config.model.net.get("normalization") == "batch" else []
    if getattr(model, "normalization", None) == "batch":
        options.append("model.normalization")
    if not options:
        return "net.normalization or the model's normalization option"
    return " and ".join(f"--set {option}=layer" for option in options)


def _normalises_batches(model: torch.nn.Module) -> bool:
    """Return whether ``model`` has a batch-normalisation layer (from ``net.normalization`` or
    a model's own ``normalization`` option, as the Ladder VAE's)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def setup(config: RunConfig, run_dir: Path, *, resume: bool, progress: str, frame: Any = None) -> Run:
    """Load and split the data (``frame``: a DataFrame given in Python), build the model,
    optimizer and training step, and restore the last checkpoint when resuming; write nothing
    (:func:`start` does)."""
    validate_config(config)
    bundle = load_bundle(config, frame)
    bind_to_data(config, bundle)
    splits = make_splits(config, bundle)
    del bundle  # the splits hold what training needs; the reader's full copy can go
    device = resolve_device(distributed.device_for_rank(config.train.device))
    world = distributed.world()
    if world.distributed:
        check_distributed_training(config, len(splits.train), world)  # before the model: its options
    check_training_memory(config, device, splits.train.numel() * splits.train.element_size())
    t = config.train

    torch.manual_seed(t.seed)
    model = build_model(config, check_memory=False).to(device)  # checked with training's needs above
    if world.distributed and _normalises_batches(model):
        raise ConfigError(
            f"this model normalises its batches (batch normalisation), and each of {world.size} processes would "
            "normalise its own rows, which is not the one-process training; choose layer normalisation "
            f"({_layer_norm_fix(config, model)}) or train in one process"
        )
    if not resume:
        initialise(model, t.init)
        start_from_marginals(model, splits.train, t.output_bias, splits.levels)
    objective = build_objective(config, model)
    optimizer = make_adam(
        model.parameters(), t.lr, fused=fast.fused_adam(t.fast, device), eps=t.adam_eps, betas=(t.adam_beta1, t.adam_beta2)
    )
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best_val_loss": None, "best_epoch": None}
    history: list[dict[str, Any]] = []
    restored = None
    if resume:
        history, restored = _restore(run_dir, model, optimizer, state)
        ckpt.check_same_run(run_dir, state.get("run_id"))
        if state["epoch"] > t.epochs:
            raise ConfigError(
                f"{run_dir} has trained {state['epoch']} epochs already; ask for at least that many "
                f"({distributed.resume_command(run_dir, ' --epochs N')}, N >= {state['epoch']})"
            )

    labelled = getattr(model, "conditional", False)
    train_data = training_data(config, splits, labelled, device)
    step = training_step(config, model, objective, optimizer, device)
    if world.distributed:
        step.reduce_gradients = GradientSum(list(model.parameters()))
    exact = likelihood_is_exact(model.likelihood, config.value_range, config.data.dequantize)
    dim = math.prod(splits.train.shape[1:])
    names, scale_note = epoch_line_names(exact, config.data.dequantize, dim, splits.levels)
    reporter = Progress(t.epochs, mode=progress if world.writer else "quiet", names=names)
    if scale_note is not None:
        reporter.message(scale_note)
    trained_by = state.get("world_size", 1)
    state["world_size"] = world.size
    if state.get("run_id") is None:
        # A new run, or one written before runs had an identity: from now on its files carry one.
        state["run_id"] = ckpt.new_run_id()
    if resume and trained_by != world.size:
        reporter.message(
            f"{run_dir}: last trained by {trained_by} process(es), resumed by {world.size}: the same training to "
            "float tolerance, not bit for bit (the gradient sums add in another order)"
        )
    if state["epoch"] >= t.epochs:
        reporter.message(f"{run_dir}: already trained for {state['epoch']} of {t.epochs} epochs")
    n = len(splits.train)
    if _normalises_batches(model) and n % t.batch_size == 1:
        # Checked here, not at the last batch of the first epoch, where the model itself would refuse it.
        option, other = ("net.normalization", "layer") if config.model.net.get("normalization") == "batch" else ("model.normalization", "none")
        raise ConfigError(
            f"batch normalisation ({option}: batch) cannot normalise the last batch of one example "
            f"({n} training examples, batch size {t.batch_size}); choose another --batch-size or "
            f"--set {option}={other}"
        )
    return Run(
        config=config,
        run_dir=run_dir,
        device=device,
        splits=splits,
        model=model,
        optimizer=optimizer,
        step=step,
        reporter=reporter,
        divergence=DivergenceCheck(device),
        labelled=labelled,
        train_data=train_data,
        state=state,
        history=history,
        restored=restored,
    )


def start(run: Run, *, resume: bool, save_config: bool = False) -> None:
    """Start writing the run folder: the config of a new run; when resuming, the metrics log
    cut back to the checkpoint and the other files healed from it (:func:`heal`). A resumed
    run's changed config (``save_config``) is written by :func:`commit`, with its first
    checkpoint, so that a resume that fails before leaves config.json as it was."""
    if not resume:
        run.config.save(run.run_dir / ckpt.CONFIG_FILE)
        if run.config.table is not None:
            # config.json holds the codec; schema.json is the table's schema for people and tools.
            atomic_write_text(run.run_dir / ckpt.SCHEMA_FILE, json.dumps(run.config.table["schema"], indent=2) + "\n")
        return
    run.checkpoint_epoch = run.state["epoch"]
    if save_config:
        run.old_config = (run.run_dir / ckpt.CONFIG_FILE).read_bytes()
    try:
        heal(run)
    except WriteError as exc:
        raise _stopped_writing(run, exc) from None


def heal(run: Run) -> None:
    """Rewrite what a kill (or a full disk) between a checkpoint's writes left behind its commit
    point, from the restored checkpoint: the metrics log, ``model.safetensors``, ``trainer.json``
    when it differs from the checkpoint's state, and ``model-best.safetensors`` when it is not
    of the checkpoint's best epoch (and the checkpoint has those weights)."""
    assert run.restored is not None, "heal needs the checkpoint that setup(resume=True) restored"
    saved, best = run.restored
    _write_metrics(run.run_dir / ckpt.METRICS_FILE, run.history)
    ckpt.save_model(run.run_dir / ckpt.MODEL_FILE, run.model, ckpt.model_info(saved))
    if ckpt.read_trainer_json(run.run_dir) != saved:
        atomic_write_text(run.run_dir / ckpt.TRAINER_JSON, ckpt.trainer_json_text(saved))
    best_epoch = saved.get("best_epoch")
    on_disk = ckpt.model_file_info(run.run_dir / ckpt.BEST_MODEL_FILE) or {}
    if best_epoch is None or on_disk.get("epoch") == best_epoch:
        return
    if best_epoch == saved["epoch"]:
        weights, step = run.model.state_dict(), saved["step"]
    elif best:
        weights, step = best, saved.get("best_step")
    else:
        return  # a checkpoint of an older vaekit, which kept no best weights of earlier epochs
    ckpt.save_model_tensors(run.run_dir / ckpt.BEST_MODEL_FILE, weights, best_info(saved, best_epoch, step))
    if on_disk:
        run.reporter.message(
            f"{run.run_dir}: {ckpt.BEST_MODEL_FILE} held epoch {on_disk.get('epoch')}, not the checkpoint's best "
            f"epoch {best_epoch}; rewritten from the checkpoint"
        )


def best_info(state: dict[str, Any], epoch: int, step: int | None) -> dict[str, Any]:
    """Return the metadata of ``model-best.safetensors`` for best epoch ``epoch`` (at ``step``):
    epoch, step, its loss and the run id."""
    return {**ckpt.model_info({**state, "epoch": epoch, "step": step}), "val_loss": state["best_val_loss"]}


def epoch_line_names(
    exact: bool, dequantize: str, dim: int, levels: int | None
) -> tuple[dict[str, str], str | None]:
    """Return the names the epoch lines give metrics.jsonl's keys (``{key: shown name}``) and a
    line to print once before the epochs (None: none), so that no printed number is called what
    it is not.

    Where the likelihood is no likelihood of the data, its ELBO is no ELBO (as the report says).
    With uniform dequantisation the training terms are the continuous density's at the
    dequantised pixels y, while evaluation reports the bound on the discrete pixels, ``dim *
    log(levels)`` nats lower: the lines say ``density`` and the note gives the offset.
    metrics.jsonl keeps its keys and values (old runs, plots and best-model choice read them)."""
    if not exact:
        return {"train_elbo": "train_recon-kl"}, None
    if dequantize != "uniform" or not levels:
        return {}, None
    offset = dim * math.log(levels)
    names = {"train_loss": "train_density_loss", "train_elbo": "train_density_elbo", "val_loss": "val_density_loss"}
    note = (
        "dequantised data: the epoch lines' density numbers (metrics.jsonl's train_loss, train_elbo, val_loss, "
        "val_elbo) are the continuous density's ELBO terms of the dequantised pixels y in [0, 1), nats per example; "
        f"the ELBO of the discrete pixels is D log(levels) = {offset:.2f} nats lower (D = {dim}, {levels} levels), "
        "as the test ELBO and `vaekit evaluate` report it"
    )
    return names, note


def training_step(
    config: RunConfig, model: torch.nn.Module, objective: Any, optimizer: torch.optim.Optimizer, device: torch.device
) -> TrainingStep:
    """Return the run's training step: the fused one where ``vaekit.fast`` offers it for this
    run, else the autograd step (with the optimizer step ``vaekit.fast`` chooses)."""
    t = config.train
    if t.precision == "bf16-grad":
        reason = fast.bf16_grad_unsupported(model, objective, device, t.fast, t.compile)
        if reason is not None:
            raise ConfigError(f"--precision bf16-grad cannot train this run: {reason}; use --precision fp32 (or bf16 for autocast)")
    if t.min_backward_weight > 0:
        reason = fast.min_backward_weight_unsupported(model, objective, t.fast, t.precision, t.compile)
        if reason is not None:
            raise ConfigError(f"--min-backward-weight cannot train this run: {reason}; use --min-backward-weight 0 (the exact gradient)")
    fused = fast.training_step_for(
        model,
        objective,
        optimizer,
        mode=t.fast,
        grad_clip=t.grad_clip,
        precision=t.precision,
        compile=t.compile,
        min_backward_weight=t.min_backward_weight,
        seed=t.seed,
    )
    return fused or AutogradStep(
        # Compiling wraps the forward pass only; checkpoints always hold the plain module's weights.
        torch.compile(model) if t.compile else model,
        objective,
        optimizer,
        device=device,
        precision=t.precision,
        grad_clip=t.grad_clip,
        optimizer_step=fast.optimizer_step_for(optimizer, t.fast),
    )


def _restore(
    run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> tuple[list, tuple[dict[str, Any], dict[str, torch.Tensor]]]:
    """Load the last checkpoint into ``model``, ``optimizer``, the RNGs and ``state``; return
    the metrics history up to it (:func:`start` cuts the log back to match) and the checkpoint
    as read: its trainer state and the best weights it carries (for :func:`heal`)."""
    model_state, others, saved = ckpt.load_checkpoint(run_dir)
    restored = (copy.deepcopy(saved), {k[len(ckpt.BEST_PREFIX) :]: v for k, v in others.items() if k.startswith(ckpt.BEST_PREFIX)})
    try:
        model.load_state_dict(model_state, strict=True)
        optimizer.load_state_dict(ckpt.optimizer_from_flat(others, saved.pop("optimizer")))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{run_dir}: checkpoint does not match config.json ({exc})") from None
    ckpt.rng_from_tensors(others)
    state.update(saved)
    return ckpt.read_metrics(run_dir / ckpt.METRICS_FILE, state["epoch"]), restored


def training_data(config: RunConfig, splits: Splits, labelled: bool, device: torch.device) -> TrainData:
    """Return what training batches are read from, by ``train.data_loading``: the training
    examples (and, for a conditional model, ``labelled``, their labels) moved to ``device``
    (memory), a Dataset over them (streaming), or their file (disk: nothing read yet)."""
    t = config.train
    train_labels = splits.train_labels if labelled else None
    if t.data_loading == "disk":
        return DiskRows(splits.train, device, labelled, window=config.data.shuffle_window, blocks=splits.blocks is not None)
    if t.data_loading == "streaming":
        return ExamplesDataset(splits.train, train_labels)
    return splits.train.to(device), train_labels.to(device) if train_labels is not None else None


def epoch_batches(run: Run, order: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield the training batches of one epoch, in the permutation ``order`` (on the CPU), on
    the run's device, as stored (see :func:`model_batch`). Under ``shuffle: blocks`` the
    batches follow the block order drawn from ``order`` (``vaekit.data.disk.blocks``)."""
    t = run.config.train
    if run.splits.blocks is not None:
        order = run.splits.blocks.order(order)
    if isinstance(run.train_data, DiskRows):
        return disk_batches(run.train_data, order, t.batch_size)
    if isinstance(run.train_data, ExamplesDataset):
        return streaming_batches(run.train_data, order, t.batch_size, run.device, t.num_workers, labelled=run.labelled)
    x, y = run.train_data
    return memory_batches(x, y, order.to(run.device), t.batch_size)


def model_batch(x: torch.Tensor, run: Run, noise: torch.Generator) -> torch.Tensor:
    """Return the stored batch ``x`` as the model trains on it: float model units, with a fresh
    binarisation or dequantisation drawn by ``noise`` on the batch's own device."""
    data, levels = run.config.data, run.splits.levels
    x = to_model_units(x, levels)
    if data.binarize == "dynamic":
        return torch.bernoulli(x, generator=noise)
    if data.dequantize == "uniform":
        return dequantize_uniform(x, levels, generator=noise)
    return x


def run_epoch(run: Run, epoch: int) -> dict[str, Any]:
    """Train one epoch; return its record for metrics.jsonl (the training terms and speed)."""
    t, state = run.config.train, run.state
    run.model.train()
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(t.lr, t.lr_schedule, epoch, t.epochs)
    shuffle = epoch_generator(t.seed, epoch)
    n = len(run.splits.train)
    # int32 while n allows: the same draws as int64 in half the memory, for a split of a large file.
    order_dtype = torch.int32 if n <= torch.iinfo(torch.int32).max else torch.int64
    batches = epoch_batches(run, torch.randperm(n, generator=shuffle, dtype=order_dtype))
    noise = noise_generator(t.seed, epoch, run.device, shuffle)
    sums = EpochSums(run.device)
    kl_layers: torch.Tensor | None = None
    started, cpu_started = time.perf_counter(), time.process_time()
    seen = 0
    world = distributed.world()
    reduce = getattr(run.step, "reduce_gradients", None)
    synced_before = reduce.seconds if isinstance(reduce, GradientSum) else 0.0
    for index, (x, y) in enumerate(run.reporter.batches(epoch, batches, run.n_batches)):
        # Every rank converts the whole batch (drawing its noise as one process would) and keeps its rows.
        x, total = model_batch(x, run, noise), len(x)
        start, stop = distributed.shard_bounds(total, world.rank, world.size)
        if world.distributed:
            x, y = x[start:stop], (y[start:stop] if y is not None else None)
        with rows_of_batch(total, start, stop):
            terms = run.step(x, y, state["step"])
        state["step"] += 1
        run.divergence(terms.loss, state["step"], epoch, run.checkpoint_epoch, end_of_epoch=index == run.n_batches - 1)
        sums.add(terms.loss, terms.recon, terms.kl, total)
        if terms.kl_layers is not None:  # a model with stochastic layers: each layer's KL, [B, layers]
            layer_sums = terms.kl_layers.detach().double().sum(0)
            kl_layers = layer_sums if kl_layers is None else kl_layers + layer_sums
        seen += total
        if run.reporter.shows_bar and state["step"] % 10 == 0:
            # Read the device-side sums only now and then: each read is a sync.
            loss, recon, kl = (v / seen for v in sums.values())
            elapsed = time.perf_counter() - started
            run.reporter.batch_metrics(loss=loss, elbo=recon - kl, kl=kl, ex_per_s=seen / elapsed)
    elapsed = time.perf_counter() - started
    # The process's CPU time (all its threads, user and system): a budget in CPU-hours is read from it.
    cpu_seconds = time.process_time() - cpu_started
    loss, recon, kl = (v / n for v in sums.values())
    sync = {}
    if isinstance(reduce, GradientSum):
        # The epoch's share spent summing over the processes, waiting for the slowest included.
        sync = {"all_reduce_s": reduce.seconds - synced_before, "processes": world.size}
    # train_loss is the objective (which for beta-VAE, IWAE or the AE is not -ELBO);
    # train_elbo is the single-sample ELBO recon - kl of the same batches.
    return {
        "epoch": epoch,
        "step": state["step"],
        "train_loss": loss,
        "train_elbo": recon - kl,
        "train_recon": recon,
        "train_kl": kl,
        "examples_per_s": n / elapsed,
        "epoch_time_s": elapsed,
        "epoch_cpu_s": cpu_seconds,
        "training_step": run.step.name,
        "precision": run.config.train.precision,  # a resume may change it: the log says which epochs ran how
        "min_backward_weight": run.config.train.min_backward_weight,
        "lr": run.optimizer.param_groups[0]["lr"],
        **({"train_kl_layers": (kl_layers / n).tolist()} if kl_layers is not None else {}),
        **sync,
    }


def validate(run: Run) -> dict[str, float]:
    """Return the validation split's mean -ELBO terms as ``val_*`` entries (none without a
    validation split)."""
    if run.splits.val is None:
        return {}
    # Converted batch by batch each epoch (the same fixed draws): no float32 copy is kept.
    val = mean_negative_elbo(
        run.model, validation_batches(run.splits, run.device, run.labelled), sharded=distributed.world().distributed
    )
    return {f"val_{k}": v for k, v in val.items()}


def checkpoint(run: Run, epoch: int, record: dict[str, Any], save: bool = False) -> None:
    """Log the finished epoch's ``record``, keep the best weights so far (by validation loss,
    else training loss) and save the checkpoint when one is due (``save``: now, whatever
    ``checkpoint_every`` says), with the best weights written just after it (:func:`commit`).

    The best weights wait in memory until then: writing them at every improvement (most epochs,
    early on) took longer than the training steps of a small model.

    A full disk or a folder that became read-only stops training with one line naming the file
    and saying which checkpoint is intact (a ``WriteError``)."""
    t, state = run.config.train, run.state
    state["epoch"] = epoch
    run.history.append(record)
    if not distributed.world().writer:
        return  # the other ranks hold the same weights and state; rank 0 writes them
    try:
        with write_errors(run.run_dir / ckpt.METRICS_FILE), (run.run_dir / ckpt.METRICS_FILE).open("a") as f:
            f.write(json.dumps(record) + "\n")
        run.reporter.epoch_end(record)
        monitored = record.get("val_loss", record["train_loss"])
        if state["best_val_loss"] is None or monitored < state["best_val_loss"]:
            state["best_val_loss"], state["best_epoch"], state["best_step"] = monitored, epoch, state["step"]
            info = best_info(state, epoch, state["step"])
            run.unsaved_best = ({k: v.detach().clone() for k, v in run.model.state_dict().items()}, info)
        if save or epoch % t.checkpoint_every == 0 or epoch == t.epochs:
            commit(run, epoch)
    except WriteError as exc:
        raise _stopped_writing(run, exc) from None


def commit(run: Run, epoch: int) -> None:
    """Save the checkpoint of ``epoch``: a resume's changed config.json first, then
    ``trainer.safetensors`` (the commit point), then the best weights waiting in memory,
    ``model.safetensors`` and ``trainer.json``.

    config.json goes first so that it is never behind the checkpoint: a checkpoint of the new
    settings beside the old config.json would be resumed with the old ones. If the checkpoint
    then fails before its commit point, config.json is put back as it was; only a kill in
    between leaves the new settings, which the next resume trains with from the old checkpoint.
    The best weights follow the commit point so that they are never of an epoch the committed
    checkpoint has no record of; those of an earlier epoch travel in the checkpoint too."""
    best = run.unsaved_best
    carried = best[0] if best is not None and best[1]["epoch"] != epoch else None
    if run.old_config is not None:
        run.config.save(run.run_dir / ckpt.CONFIG_FILE)
        run.config_written = True

    def committed() -> None:
        run.checkpoint_epoch, run.old_config = epoch, None
        if run.unsaved_best is not None:
            ckpt.save_model_tensors(run.run_dir / ckpt.BEST_MODEL_FILE, *run.unsaved_best)
            run.unsaved_best = None

    try:
        ckpt.save_checkpoint(run.run_dir, run.model, run.optimizer, run.state, on_commit=committed, best=carried)
    except BaseException:
        _put_config_back(run)
        raise


def _put_config_back(run: Run) -> None:
    """Write config.json back as it was before this resume, when the resume's first checkpoint
    failed before its commit point; if that write fails too, config.json keeps the new settings
    (which the next resume trains with) and ``run.config_written`` says so."""
    if run.old_config is None or not run.config_written:
        return
    with contextlib.suppress(WriteError):
        atomic_write_bytes(run.run_dir / ckpt.CONFIG_FILE, run.old_config)
        run.config_written = False


def keep_unsaved_best(run: Run) -> None:
    """Write the best weights still waiting for a checkpoint: when training diverged, a resume
    would diverge again, so they could not be had otherwise."""
    if run.unsaved_best is not None:
        ckpt.save_model_tensors(run.run_dir / ckpt.BEST_MODEL_FILE, *run.unsaved_best)
        run.unsaved_best = None


def _stopped_writing(run: Run, exc: WriteError) -> WriteError:
    """Return ``exc`` with what is left of the run: the last complete checkpoint, or none."""
    if run.checkpoint_epoch is None:
        left = "this run had no complete checkpoint yet, so it was not kept"
        fix = "train again" + (" once there is space" if isinstance(exc, DiskFullError) else "")
    else:
        left = f"training stopped; the last complete checkpoint (epoch {run.checkpoint_epoch}) is intact"
        fix = f"{'free some space' if isinstance(exc, DiskFullError) else 'fix that'}, then {distributed.resume_command(run.run_dir)}"
        if run.old_config is not None and run.config_written:
            left += "; config.json already holds the new settings, which that resume trains with"
        elif run.old_config is not None:
            left += "; config.json is as it was"
            fix += " with the new settings again"
    return type(exc)(f"{exc}; {left}: {fix}")


def finish(run: Run) -> TrainResult:
    """Return the run's result, with the first test examples for its pictures."""
    run.model.eval()
    # Only the previewed examples are converted (and binarised or dequantised, as evaluation would).
    test_x, test_y = evaluation_view(run.splits, "test", limit=PREVIEW_EXAMPLES)
    preview = (test_x.clone(), test_y.clone() if test_y is not None else None)
    splits = run.splits
    # An empty copy, not a view: a view would keep the whole training set's storage alive.
    test_only = dataclasses.replace(
        splits, train=splits.train[:0].clone(), val=None, train_labels=None, val_labels=None, blocks=None
    )
    return TrainResult(
        run_dir=run.run_dir, config=run.config, history=run.history, model=run.model, test_preview=preview,
        test_splits=test_only,
    )  # fmt: skip
