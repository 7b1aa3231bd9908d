"""Burda, Grosse and Salakhutdinov (2015), Table 1, MNIST: their rows trained and evaluated by
vaekit under their protocol, printed beside their numbers; and Sønderby et al.'s (2016) ladder VAE
under its authors' published command.

    python -m bench.paper_table                         # every row, the full protocol (days on a CPU)
    python -m bench.paper_table --rows vae1-k1,iwae2-k50 --status     # where the runs stand, no training
    python -m bench.paper_table --rows iwae2-k50 --history            # every NLL measured on its way
    python -m bench.paper_table --budget 3600 --points 4 # each row for one CPU-hour: NLL against time

The protocol (their section 5 and appendix): dynamically binarised MNIST, all 60,000 training
images (no validation split), batch 20, Adam (beta1 0.9, beta2 0.999, epsilon 1e-4), 3^i epochs
at learning rate 0.001 * 10^(-i/7) for i = 0..7 (3,280 epochs), tanh MLPs; one stochastic
layer 784-200-200-50, two stochastic layers 784-200-200-100-100-100-50; test NLL by the
K = 5000 importance-weighted bound on the 10,000 test images. "VAE, k" trains on the mean of k
single-sample ELBOs, "IWAE, k" on the k-sample importance-weighted bound.

Each of their rows has a ``-code`` twin (``--rows iwae2-k50-code``, never trained unless named;
``--status`` and ``--history`` without ``--rows`` show each twin started in ``--runs``):
the same protocol started and optimised as their published code does, whose numbers the paper
reports (github.com/yburda/iwae): Glorot-uniform weights, p(x|z)'s output bias at the logit of
each pixel's training mean, and Adam with beta1 0.99 and epsilon 1e-4 on the minibatch's sum of
bounds (``CODE_SETTINGS``). What the code does beside these (unshuffled batches from 59,600 of
the images, exp-of-linear standard deviations, rounded learning rates, its Adam's second moments
started at 1) is left as vaekit does it.

The ladder VAE row (``lvae5``, 5 stochastic layers, their 81.74) follows the command in the
README of the authors' code (github.com/casperkaae/LVAE, ``run_models.py``), which shows 3
layers; the 5-layer sizes continue its halving (latent 64-32-16-8-4, MLPs of two 512-, 256-,
128-, 64- and 32-unit layers) and its model options (``-only_mu_up True -ladder_share_params
False``: ``lvae``'s ``upward=means``, ``share_top_down=false``; its p(z_l|z_l+1) MLPs are as
wide as layer l's upward ones, ``prior_hidden``). Its protocol: dynamically
binarised MNIST, all 60,000 training images, batch 256, Adam (epsilon 1e-4) at a constant 2e-4,
2,000 epochs, leaky ReLU, batch normalisation, the ELBO with its KL weight warmed up linearly
from 0 over 200 epochs (per step here, per epoch there), test NLL with K = 5000.

Runs live in ``--runs`` (one folder per row) and are resumable: each call trains every row
until ``--time-limit`` seconds per row (a stop at the end of an epoch, checkpointed) or its
3,280 epochs, then evaluates it, so the long rows can go on across many calls
(``vaekit resume`` is what each call runs); keep the folders (``--runs bench/paper-runs`` is
the one kept in the repository) and a row goes on from another machine. The table says how many epochs each row has done
and how much training time it took; a row that has not finished is marked as partial, with the
core-hours its remaining epochs need at the median CPU time of its last 50, one with no epoch yet
as not started.
Every NLL measured in a row's folder is kept in its ``bench-paper-nll-history.jsonl`` (epoch, K,
NLL, standard error, date, device; a line recovered from a report that an older vaekit kept
alone says which commit kept it), which ``--history`` prints (``--plot FILE`` draws it against
epochs beside their figures) and ``--snapshot`` carries over.
``--snapshot DEST`` copies each row's run into ``DEST/ROW`` as of its last checkpoint, consistent
even while the row trains (the way a row kept in ``--runs`` elsewhere reaches the repository).
``--evaluate`` measures each row's NLL at the weights it has now, training nothing (a row's NLL
so far; a row that another process is training is refused); ``--nproc N`` spreads every NLL over N processes (``vaekit evaluate --nproc``, the
same number as one process gives).

``--precision bf16-grad`` and ``--min-backward-weight W`` (IWAE draws' Russian roulette) make
each row train faster from this call on: a new row starts with them, a started one goes on with
them (``vaekit resume`` keeps them in its config, and ``vaekit info`` lists which epochs ran
how); without them a started row keeps its own. ``--command`` prints the ``vaekit`` command each
row would run now, with every option spelt out, and trains nothing:

    python -m bench.paper_table --rows iwae2-k50-code --runs RUNS --precision bf16-grad --min-backward-weight 1e-4 --command

With ``--budget S`` each row trains for S seconds of wall time on this machine instead (in
``--points`` equal steps, each followed by an NLL with ``--curve-k`` samples), into its own
folders, and the table gives the NLL reached against training time, wall and CPU (user and
system time of every thread, from metrics.jsonl's ``epoch_cpu_s``): what an hour buys. A
``summary:`` line after each row gives its seconds per epoch (the median after the first, which
pays the start-up) and its whole protocol's hours at that rate. ``--device cuda`` trains new runs
and measures every NLL on a GPU (``bench/gpu_check.sh`` runs the two longest rows so).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import median, mnist_dir, script_parser

#: their protocol's passes over the data
PAPER_EPOCHS = 3280
#: MNIST's training images: all of them train under both protocols
TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class Row:
    """One row of their Table 1: the objective, the stochastic layers, k, and their NLL (nats)."""

    objective: str  # "vae" or "iwae"
    layers: int
    k: int
    theirs: float
    code: bool = False  # the start and optimizer of their published code (CODE_SETTINGS) on top
    epochs = PAPER_EPOCHS

    @property
    def name(self) -> str:
        return f"{self.objective}{self.layers}-k{self.k}" + ("-code" if self.code else "")

    def protocol(self, data_dir: str, seed: int) -> list[str]:
        """Return the ``vaekit train`` options of their protocol (everything but the model); a
        ``-code`` row's start and optimizer as in their published code."""
        optimizer = CODE_SETTINGS if self.code else ["--adam-eps", "1e-4"]
        return ["--data", "mnist", "--data-dir", data_dir, "--binarize", "dynamic", "--val-fraction", "0",
                "--batch-size", "20", "--lr", "1e-3", "--lr-schedule", "burda", *optimizer,
                "--epochs", str(self.epochs), "--seed", str(seed), "-q"]  # fmt: skip

    def train_options(self) -> list[str]:
        """Return the ``vaekit train`` options of this row's model and objective."""
        if self.layers == 1:
            model = ["--model", "vae", "--encoder", "200,200", "--latent", "50", "--set", "net.activation=tanh"]
        else:
            # z1 (100) is the net's latent code; z2 (50) sits above it through 100-100, as in their appendix.
            model = ["--model", "hvae", "--encoder", "200,200", "--latent", "100", "--set", "net.activation=tanh",
                     "--set", "model.upper_latents=[50]", "--set", "model.upper_hidden=[[100,100]]"]  # fmt: skip
        if self.objective == "iwae":
            objective = ["--objective", "iwae", "--set", f"objective.k={self.k}"]
        elif self.k == 1:
            objective = ["--objective", "elbo"]
        else:
            objective = ["--objective", "elbo-k", "--set", f"objective.k={self.k}"]
        return model + objective


@dataclass(frozen=True)
class LadderRow:
    """Sønderby et al.'s (2016) 5-layer ladder VAE on MNIST under its authors' command (see the
    module's docstring), and their NLL (nats)."""

    theirs: float = 81.74
    name = "lvae5"
    epochs = 2000
    batch_size = 256
    warmup_epochs = 200

    def protocol(self, data_dir: str, seed: int) -> list[str]:
        """Return the ``vaekit train`` options of the authors' command (everything but the model)."""
        return ["--data", "mnist", "--data-dir", data_dir, "--binarize", "dynamic", "--val-fraction", "0",
                "--batch-size", str(self.batch_size), "--lr", "2e-4", "--lr-schedule", "constant",
                "--adam-eps", "1e-4", "--epochs", str(self.epochs), "--seed", str(seed), "-q"]  # fmt: skip

    def train_options(self) -> list[str]:
        """Return the ``vaekit train`` options of this row's model and objective: the KL weight
        warms up over ``warmup_epochs`` epochs of steps (the last, partial batch is a step)."""
        warmup_steps = -(-TRAIN_IMAGES // self.batch_size) * self.warmup_epochs
        return ["--model", "lvae", "--encoder", "512,512", "--latent", "64", "--set", "net.activation=leaky_relu",
                "--set", "net.normalization=batch", "--set", "model.upper_latents=[32,16,8,4]",
                "--set", "model.upper_hidden=[[256,256],[128,128],[64,64],[32,32]]",
                "--set", "model.upward=means", "--set", "model.share_top_down=false",
                "--set", "model.prior_hidden=[[512,512],[256,256],[128,128],[64,64]]",
                "--objective", "beta-elbo", "--set", "objective.warmup=linear",
                "--set", f"objective.warmup_steps={warmup_steps}"]  # fmt: skip


#: what Burda et al.'s published code (github.com/yburda/iwae) does where the paper's protocol
#: says nothing or otherwise, in vaekit's options: Glorot-uniform weights, p(x|z)'s output bias
#: at the logit of the training images' mean, and Adam with beta1 0.99 and epsilon 1e-4 on the
#: minibatch's sum of bounds (5e-6 on vaekit's mean)
CODE_SETTINGS = ["--init", "glorot-uniform", "--output-bias", "marginals", "--adam-beta1", "0.99", "--adam-eps", "5e-6"]

#: Burda et al. (2015), Table 1, MNIST column, then the ladder VAE: test NLL in nats
PAPER_NLL = {
    ("vae", 1, 1): 86.76, ("vae", 1, 5): 86.47, ("vae", 1, 50): 86.35,
    ("iwae", 1, 1): 86.76, ("iwae", 1, 5): 85.54, ("iwae", 1, 50): 84.78,
    ("vae", 2, 1): 85.33, ("vae", 2, 5): 85.01, ("vae", 2, 50): 84.78,
    ("iwae", 2, 1): 85.33, ("iwae", 2, 5): 83.89, ("iwae", 2, 50): 82.90,
}  # fmt: skip
#: the rows every call trains unless ``--rows`` says otherwise: the paper's, then the ladder VAE
ROWS: list[Row | LadderRow] = [Row(kind, layers, k, theirs) for (kind, layers, k), theirs in PAPER_NLL.items()] + [LadderRow()]
#: the paper's rows again under their code's settings, by name only (``--rows iwae2-k50-code``)
CODE_ROWS: list[Row] = [Row(kind, layers, k, theirs, code=True) for (kind, layers, k), theirs in PAPER_NLL.items()]


def vaekit(*args: str) -> subprocess.CompletedProcess:
    """Run ``vaekit`` with this interpreter, its progress shown; fail loudly."""
    # `-m vaekit`, not the console script beside the interpreter: a checkout run from src/ (the
    # GPU machines' image python) has no such script.
    command = [sys.executable, "-m", "vaekit", *args]
    print("$", " ".join(command), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"vaekit exited with {result.returncode}: {' '.join(command)}")
    return result


def progress(run: Path) -> tuple[int, float]:
    """Return ``(epochs done, seconds of training)`` of ``run`` (0, 0 before it starts)."""
    records = epoch_records(run)
    return (records[-1]["epoch"] if records else 0), sum(r["epoch_time_s"] for r in records)


def cpu_seconds(run: Path) -> float | None:
    """Return the CPU seconds (user + system, all threads) ``run``'s epochs took, or None when
    an epoch was trained by a vaekit that did not record them."""
    records = epoch_records(run)
    if not records or any("epoch_cpu_s" not in r for r in records):
        return None
    return sum(r["epoch_cpu_s"] for r in records)


def seconds_per_epoch(run: Path) -> float | None:
    """Return the median wall seconds of ``run``'s epochs after its first (which pays the start-up:
    CUDA's context, oneDNN's kernel builds), or its one epoch's; None before it starts."""
    times = [r["epoch_time_s"] for r in epoch_records(run)]
    return median(times[1:] or times) if times else None


#: the last epochs whose CPU time prices a row's remaining ones (they ran with its current options)
RECENT_EPOCHS = 50


def remaining_cost(run: Path, epochs: int) -> tuple[float, float] | None:
    """Return ``(core-hours, CPU-s per epoch)``: what the rest of ``run``'s ``epochs`` cost at the
    median CPU time of its last ``RECENT_EPOCHS`` epochs; None before it starts or when those
    epochs have no CPU time recorded."""
    records = epoch_records(run)
    recent = [r["epoch_cpu_s"] for r in records[-RECENT_EPOCHS:] if "epoch_cpu_s" in r]
    if not recent:
        return None
    rate = median(recent)
    return max(epochs - records[-1]["epoch"], 0) * rate / 3600, rate


def epoch_records(run: Path) -> list[dict]:
    """Return the lines of ``run``'s metrics.jsonl (none before it starts)."""
    log = run / "metrics.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def training_command(row: Row | LadderRow, run: Path, seconds: float | None, data_dir: str, seed: int,
                     device: str = "cpu", speed: tuple[str, ...] = ()) -> list[str]:
    """Return the ``vaekit`` arguments that train ``row`` into ``run`` for ``seconds`` more (None:
    to the end) on ``device``: ``train`` for a new run, ``resume`` for a started one (which stays
    on the device it started on), with ``speed``'s options (``--precision``,
    ``--min-backward-weight``) either way."""
    limit = ["--time-limit", f"{seconds:g}"] if seconds else []
    if (run / "trainer.safetensors").exists():
        return ["resume", str(run), *(limit or ["--time-limit", "0"]), *speed]
    return ["train", *row.protocol(data_dir, seed), *row.train_options(), *limit, *speed, "--device", device,
            "--out", str(run), "--force"]  # fmt: skip


def train_for(row: Row | LadderRow, run: Path, seconds: float | None, data_dir: str, seed: int,
              device: str = "cpu", speed: tuple[str, ...] = ()) -> None:
    """Train ``row`` into ``run`` for ``seconds`` more (None: to the end) on ``device``, starting
    or resuming (see ``training_command``)."""
    vaekit(*training_command(row, run, seconds, data_dir, seed, device, speed))


def nll(run: Path, k: int, nproc: int = 1, device: str = "cpu") -> tuple[float, float]:
    """Return the test NLL of ``run`` (nats) and its standard error with ``k`` samples (over
    ``nproc`` processes, on ``device``), reusing a report of the same weights."""
    epoch, _ = progress(run)
    saved = saved_nll(run, k)
    if saved is not None and saved[0] == epoch:
        return saved[1], saved[2]
    processes = ["--nproc", str(nproc)] if nproc > 1 else []
    report = json.loads(vaekit("evaluate", str(run), "--k", str(k), "--no-probe", "--json", "-q",
                               "--device", device, *processes).stdout)  # fmt: skip
    record = {"epoch": epoch, "nll": report["nll"], "nll_stderr": report["nll_stderr"], "k": k}
    write_history(run, [*read_history(run), {**record, "measured": time.strftime("%Y-%m-%d"), "device": device}])
    return report["nll"], report["nll_stderr"]


#: every NLL a row's folder has had measured, one JSON line each (epoch, k, nll, nll_stderr, ...)
HISTORY_FILE = "bench-paper-nll-history.jsonl"
#: the last NLL of each K as folders measured before the history was kept recorded it
#: (``bench-paper-nll-k5000.json``); the next write of the history takes it in and removes it
LEGACY_REPORTS = "bench-paper-nll-k*.json"


def read_history(run: Path) -> list[dict]:
    """Return the NLL measurements recorded in ``run`` (each a dict: epoch, k, nll and
    nll_stderr in nats, and where known the date measured and the device), by K then epoch:
    its history file's lines, with the last report of each K that a folder measured before the
    history was kept still holds (none without either)."""
    path = run / HISTORY_FILE
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    legacy = sorted(run.glob(LEGACY_REPORTS)) if run.is_dir() else []
    reports = [{**json.loads(p.read_text()), "k": int(p.stem.rsplit("-k", 1)[1])} for p in legacy]
    return _ordered(lines + reports)


def when_measured(record: dict) -> str:
    """Return when a history line was measured: its date, or for a line recovered from an older
    per-K report the date and commit that kept it in the repository ("-" when neither is known)."""
    if "measured" in record:
        return record["measured"]
    return f"kept {record['kept']}" if "kept" in record else "-"


def plot_history(rows: list[Row | LadderRow], runs: Path, k: int, path: Path) -> int:
    """Draw each row's NLLs at ``k`` samples (nats, with their standard errors) against epochs,
    its authors' figure as a dashed line of its colour (a ``-code`` twin: its paper row's colour,
    dash-dotted), into ``path`` (.png or .svg, written
    whole or not at all); return the number of NLLs drawn. ``SystemExit`` when there is none."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vaekit.runtime.atomic import atomic_write_bytes

    figure, axes = plt.subplots(figsize=(10, 5), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    curves = [(row, [r for r in read_history(runs / row.name) if r["k"] == k]) for row in rows]
    curves = [(row, points) for row, points in curves if points]
    if not curves:
        plt.close(figure)
        raise SystemExit(f"no NLL at K = {k} in the chosen rows' histories under {runs}: nothing to plot")
    # A paper row and its -code twin share a colour (and their figure); the twin's curve is dash-dotted.
    papers = list(dict.fromkeys(row.name.removesuffix("-code") for row, _ in curves))
    colour = {paper: colours[i % len(colours)] for i, paper in enumerate(papers)}
    figures: dict[str, list[str]] = {}  # a paper row and the curves its figure is theirs for
    for row, points in curves:
        paper, twin = row.name.removesuffix("-code"), row.name.endswith("-code")
        axes.errorbar([r["epoch"] for r in points], [r["nll"] for r in points], yerr=[r["nll_stderr"] for r in points],
                      marker="D" if twin else "o", linestyle="-." if twin else "-", markersize=4, capsize=2,
                      color=colour[paper], label=row.name)  # fmt: skip
        figures.setdefault(paper, []).append(row.name)
    for paper, names in figures.items():
        theirs = next(row.theirs for row, _ in curves if row.name in names)
        axes.axhline(theirs, color=colour[paper], linestyle="--", linewidth=1,
                     label=f"theirs: {theirs:.2f} ({', '.join(names)})")  # fmt: skip
    epochs = [r["epoch"] for _, points in curves for r in points]
    axes.set_xscale("log")
    left = min(epochs) / 1.5
    axes.set_xlim(left, PAPER_EPOCHS * 1.15)
    # Their learning rate drops after 1, 4, 13, ... 1,093 epochs (3^i each): where a curve may bend.
    for end in [sum(3**j for j in range(i + 1)) for i in range(8)]:
        if end >= left:
            axes.axvline(end, color="0.85", linewidth=0.8, zorder=0)
    ticks = [t for t in (1, 4, 13, 40, 121, 364, 1093, PAPER_EPOCHS) if t >= left]
    axes.set_xticks(ticks, [f"{t:,}" for t in ticks])
    axes.minorticks_off()
    axes.set_xlabel("epoch (log scale; ticks and grey lines: the ends of their learning-rate stages)")
    axes.set_ylabel(f"test NLL, K = {k} (nats; lower is better)")
    axes.set_title("vaekit's test NLL on the way, each row's published figure dashed", fontsize=10)
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: curves go where it would sit
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lower().lstrip("."))
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return len(epochs)


def _ordered(history: list[dict]) -> list[dict]:
    """Return ``history`` by K then epoch, each measurement once (the record saying most of it)."""
    unique: dict[tuple, dict] = {}
    for record in history:
        key = (record["k"], record["epoch"], record["nll"], record["nll_stderr"])
        if key not in unique or len(record) > len(unique[key]):
            unique[key] = record
    return sorted(unique.values(), key=lambda r: (r["k"], r["epoch"], r.get("measured", "")))


def write_history(run: Path, history: list[dict]) -> None:
    """Write ``history`` as ``run``'s NLL history, one line per measurement, by K then epoch,
    each once, and remove the folder's older per-K reports, which :func:`read_history` folded
    into it: the history is the folder's one record of its NLLs."""
    text = "".join(json.dumps(record) + "\n" for record in _ordered(history))
    partial = run / f".{HISTORY_FILE}.partial"
    partial.write_text(text)
    partial.replace(run / HISTORY_FILE)
    for report in run.glob(LEGACY_REPORTS):
        report.unlink()


def saved_nll(run: Path, k: int) -> tuple[int, float, float] | None:
    """Return ``(epoch, NLL in nats, standard error)`` of ``run``'s last measured NLL with ``k``
    samples (the latest epoch's), or None if it has none."""
    records = [record for record in read_history(run) if record["k"] == k]
    if not records:
        return None
    last = records[-1]
    return last["epoch"], last["nll"], last["nll_stderr"]


def refuse_if_training(run: Path) -> None:
    """Exit naming the holder when another process (a training of the row) holds ``run``'s
    lock: its weights and epoch count would move under the evaluation."""
    from vaekit.runtime.errors import RunFolderLockedError
    from vaekit.runtime.lock import run_folder_lock

    try:
        with run_folder_lock(run, "bench.paper_table --evaluate"):
            pass
    except RunFolderLockedError as exc:
        raise SystemExit(f"--evaluate {run.name}: {exc}") from None


def measured(run: Path, k: int, done: int) -> str:
    """Return the table cell of ``run``'s last measured NLL, naming its epoch when older than ``done``."""
    saved = saved_nll(run, k)
    if saved is None:
        return "-"
    epoch, value, stderr = saved
    return f"{value:.2f} ± {stderr:.2f}" + (f" at epoch {epoch}" if epoch != done else "")


#: files of a run folder a snapshot copies as they are, where present (the config, pictures)
SNAPSHOT_EXTRAS = ("config.json", "model-best.safetensors", "samples.png", "reconstructions.png")


def snapshot(run: Path, dest: Path) -> int:
    """Copy the resumable state of ``run`` (a row that may be training right now) into ``dest``
    as of its last complete checkpoint, and return that checkpoint's epoch.

    ``trainer.safetensors`` (written atomically, and enough to resume) is read and verified first;
    ``model.safetensors`` and ``trainer.json`` come along only when they are of the same epoch
    (``vaekit resume`` rewrites them otherwise), and ``metrics.jsonl`` is cut to that epoch. The
    copy is written beside ``dest`` and takes its place only once complete, so an earlier
    snapshot there is never lost to a half-written one. The NLL histories of the run and the
    earlier snapshot are merged, and of each ``vaekit evaluate`` report the newer (by the epoch
    of the weights it measured) is kept: an NLL measured on a snapshot survives the next one."""
    import shutil

    from vaekit.runtime.errors import CheckpointError

    if not (run / "trainer.safetensors").exists():
        raise SystemExit(f"{run} has no checkpoint (trainer.safetensors) to snapshot")
    staging = dest.parent / f".{dest.name}.snapshot"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        epoch = _stage_snapshot(run, staging, dest)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, CheckpointError):
            raise SystemExit(f"{run}: {exc}; nothing copied") from None
        raise
    old = dest.parent / f".{dest.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return epoch


def _checkpoint_epoch(path: Path) -> int | None:
    """Return the epoch in the header of the vaekit safetensors file ``path`` after verifying its
    checksum (``CheckpointError`` when damaged); None when it records none."""
    from vaekit.training.checkpoint import load_tensors

    _, metadata = load_tensors(path)
    if "trainer_json" in metadata:
        return int(json.loads(metadata["trainer_json"])["epoch"])
    return int(metadata["epoch"]) if "epoch" in metadata else None


def _report_epoch(path: Path) -> int:
    """Return the epoch of the weights that ``vaekit evaluate``'s report ``path``
    (``eval-*.json``) measured; -1 when it does not say."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return -1
    epoch = record.get("weights_epoch") if isinstance(record, dict) else None
    return epoch if isinstance(epoch, int) else -1


def _stage_snapshot(run: Path, staging: Path, dest: Path) -> int:
    """Write :func:`snapshot`'s files of ``run`` into ``staging`` (the NLL histories of ``run``
    and the earlier snapshot ``dest`` merged, each evaluate report the newer of theirs); return
    the checkpoint's epoch."""
    import shutil

    from vaekit.training.checkpoint import read_metrics

    (staging / "trainer.safetensors").write_bytes((run / "trainer.safetensors").read_bytes())
    epoch = _checkpoint_epoch(staging / "trainer.safetensors")  # verifies the checksum of what was read
    if epoch is None:
        raise SystemExit(f"{run / 'trainer.safetensors'} has no epoch in its header: not a vaekit checkpoint")
    if (run / "model.safetensors").exists():
        (staging / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes())
        if _checkpoint_epoch(staging / "model.safetensors") != epoch:
            (staging / "model.safetensors").unlink()
    if (run / "trainer.json").exists():
        text = (run / "trainer.json").read_text()
        if json.loads(text).get("epoch") == epoch:
            (staging / "trainer.json").write_text(text)
    # vaekit's own reader: up to the checkpoint's epoch, a line cut short by the writer skipped.
    kept = read_metrics(run / "metrics.jsonl", up_to_epoch=epoch)
    (staging / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in kept))
    for name in SNAPSHOT_EXTRAS:
        if (run / name).exists():
            shutil.copyfile(run / name, staging / name)
    # An evaluate report of an earlier snapshot (``--evaluate --runs DEST``) stays unless the run has a newer one.
    reports = {p.name for folder in (run, dest) for p in folder.glob("eval-*.json")}
    for name in sorted(reports):
        newest = max((folder / name for folder in (run, dest) if (folder / name).exists()), key=_report_epoch)  # the run's on a tie
        shutil.copyfile(newest, staging / name)
    history = read_history(run) + read_history(dest)
    if history:
        write_history(staging, history)
    if (staging / "model-best.safetensors").exists():
        _checkpoint_epoch(staging / "model-best.safetensors")  # a damaged copy fails here, before dest is touched
    return epoch


def with_started_twins(names: list[str], runs: Path) -> list[str]:
    """Return ``names`` with each paper row's ``-code`` twin that has started in ``runs`` (a
    checkpoint or a measured NLL in its folder) right after the row, so that reading where the
    runs stand leaves none of them out."""
    started = {r.name for r in CODE_ROWS if (runs / r.name / "trainer.safetensors").exists() or read_history(runs / r.name)}
    return [twin for name in names for twin in (name, f"{name}-code") if twin == name or twin in started]


def main() -> None:
    from vaekit.config import PRECISIONS  # here, not at the top: --help stays free of vaekit's import

    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rows", help="comma-separated row names (default: the paper's rows and the ladder VAE; "
                                       "--status and --history add each -code twin started in --runs)")  # fmt: skip
    parser.add_argument("--runs", default="runs/paper", help="folder of the runs, one per row (default: runs/paper; "
                                                          "the repository's are in bench/paper-runs)")
    parser.add_argument("--time-limit", type=float, help="seconds of training per row in this call")
    parser.add_argument("--budget", type=float, help="train each row for this many seconds only, in runs of its own (a folder RUNS-budget-S beside --runs)")
    parser.add_argument("--points", type=int, default=4, help="NLL measurements along a --budget run")
    parser.add_argument("--curve-k", type=int, default=500, help="importance samples of the --budget points")
    parser.add_argument("--k", type=int, default=5000, help="importance samples of the reported NLL")
    parser.add_argument("--status", action="store_true", help="print where the runs stand; train nothing")
    parser.add_argument("--history", action="store_true",
                        help="print every NLL measured on each row's weights so far (its history file); train nothing")  # fmt: skip
    parser.add_argument("--evaluate", action="store_true",
                        help="measure each row's NLL at its current weights (its NLL so far); train nothing")  # fmt: skip
    parser.add_argument("--nproc", type=int, default=1, help="processes of each NLL evaluation (vaekit evaluate --nproc)")
    parser.add_argument("--data-dir", default=str(mnist_dir()), help="folder of MNIST's IDX files (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a new row's training (default: 0)")
    parser.add_argument("--device", default="cpu", help="where new runs train and every NLL is measured (cpu, cuda)")
    parser.add_argument("--snapshot", metavar="DEST",
                        help="copy each row's run, as of its last checkpoint, into DEST/ROW (training or not); train nothing")  # fmt: skip
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="numeric precision of the rows' training from this call on (default: fp32 for a new row, "
                             "a started row's own)")  # fmt: skip
    parser.add_argument("--min-backward-weight", type=float, metavar="W",
                        help="IWAE draws below this normalised weight play Russian roulette for their backward pass, "
                             "from this call on (default: 0, exact, for a new row; a started row's own)")  # fmt: skip
    parser.add_argument("--plot", metavar="FILE",
                        help="with --history: draw each row's NLLs at --k against epochs, their figure beside, into "
                             "FILE (.png or .svg)")  # fmt: skip
    parser.add_argument("--command", action="store_true",
                        help="print the vaekit command that would train each row now (train or resume); train nothing")  # fmt: skip
    args = parser.parse_args()
    names = args.rows.split(",") if args.rows else [r.name for r in ROWS]
    if args.rows is None and (args.status or args.history):
        names = with_started_twins(names, Path(args.runs))
    chosen = sorted((r for r in ROWS + CODE_ROWS if r.name in names), key=lambda r: names.index(r.name))
    unknown = set(names) - {r.name for r in ROWS + CODE_ROWS}
    if unknown:
        raise SystemExit(f"unknown rows {sorted(unknown)}; choose from {', '.join(r.name for r in ROWS)}, "
                         "or a paper row's name with -code (e.g. iwae2-k50-code)")  # fmt: skip
    if args.evaluate and (args.status or args.budget):
        raise SystemExit("--evaluate measures the rows' NLL so far; it does not go with --status or --budget")
    if args.snapshot and (args.status or args.budget or args.evaluate):
        raise SystemExit("--snapshot copies the rows' runs; it does not go with --status, --budget or --evaluate")
    if args.history and (args.status or args.budget or args.evaluate or args.snapshot):
        raise SystemExit("--history prints the NLLs measured so far; it does not go with --status, --budget, --evaluate or --snapshot")
    if args.plot and not args.history:
        raise SystemExit("--plot draws the NLLs measured so far: give it with --history")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg"):
        raise SystemExit(f"--plot {args.plot}: name a .png or .svg file")
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise SystemExit(f"--plot {args.plot}: no folder {Path(args.plot).parent}; name a file in a folder that exists")
    if Path(args.runs).exists() and not Path(args.runs).is_dir():
        raise SystemExit(f"--runs {args.runs} is a file: name the folder that holds the rows' runs")
    if (args.status or args.history or args.evaluate or args.snapshot) and not Path(args.runs).is_dir():
        raise SystemExit(f"--runs {args.runs}: no such folder (the rows' runs are read from it; the repository's "
                         "are in bench/paper-runs)")  # fmt: skip
    if args.command and (args.status or args.budget or args.evaluate or args.snapshot or args.history):
        raise SystemExit("--command prints the training commands; it does not go with --status, --budget, --evaluate, "
                         "--snapshot or --history")  # fmt: skip
    speed: tuple[str, ...] = ()
    if args.precision:
        speed += ("--precision", args.precision)
    if args.min_backward_weight is not None:
        if not 0.0 <= args.min_backward_weight < 1.0:
            raise SystemExit(f"--min-backward-weight must be in [0, 1) (a normalised importance weight; 0: exact), "
                             f"got {args.min_backward_weight:g}")  # fmt: skip
        speed += ("--min-backward-weight", f"{args.min_backward_weight:g}")
    if speed and (args.status or args.evaluate or args.snapshot or args.history):
        raise SystemExit("--precision and --min-backward-weight set how rows train; --status, --evaluate, --snapshot "
                         "and --history train nothing: leave them out")  # fmt: skip
    if args.command:
        for row in chosen:
            run = Path(args.runs) / row.name
            arguments = training_command(row, run, args.time_limit, args.data_dir, args.seed, args.device, speed)
            print(shlex.join(["vaekit", *arguments]))
        return
    if args.snapshot:
        if Path(args.snapshot).exists() and not Path(args.snapshot).is_dir():
            raise SystemExit(f"--snapshot {args.snapshot} is a file: name a folder (each row goes into FOLDER/ROW)")
        for row in chosen:
            run = Path(args.runs) / row.name
            if not (run / "trainer.safetensors").exists():
                print(f"{row.name}: no checkpoint in {run}; nothing copied")
                continue
            epoch = snapshot(run, Path(args.snapshot) / row.name)
            print(f"{row.name}: epoch {epoch} of {row.epochs} copied to {Path(args.snapshot) / row.name}")
        return
    if args.history:
        print("| row | theirs | epoch | K | ours ± s.e. | measured |\n| --- | --- | --- | --- | --- | --- |")
        for row in chosen:
            for record in read_history(Path(args.runs) / row.name):
                print(f"| {row.name} | {row.theirs:.2f} | {record['epoch']} | {record['k']} | "
                      f"{record['nll']:.2f} ± {record['nll_stderr']:.2f} | {when_measured(record)} |")  # fmt: skip
        if args.plot:
            drawn = plot_history(chosen, Path(args.runs), args.k, Path(args.plot))
            print(f"wrote {args.plot}: {drawn} NLLs at K = {args.k}")
        return
    if args.nproc < 1:
        raise SystemExit(f"--nproc must be at least 1, got {args.nproc}")
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))

    if args.budget:
        runs = Path(f"{args.runs}-budget-{args.budget:g}")
        points = [f"{point}/{args.points} of the budget" for point in range(1, args.points + 1)]
        lines = [
            f"Each point: training seconds (CPU seconds), epochs: test NLL (K = {args.curve_k}).",
            "| row | theirs (their epochs) | " + " | ".join(points) + f" | NLL (K = {args.k}) |",
            "| --- " * (len(points) + 3) + "|",
        ]
        rates = []
        for row in chosen:
            run, cells = runs / row.name, []
            for point in range(1, args.points + 1):
                done, spent = progress(run)
                if spent < args.budget * point / args.points:
                    train_for(row, run, args.budget * point / args.points - spent, args.data_dir, args.seed, args.device,
                              speed)  # fmt: skip
                done, spent = progress(run)
                value, _ = nll(run, args.curve_k, args.nproc, args.device)
                cpu = cpu_seconds(run)
                cells.append(f"{spent:.0f} s" + (f" ({cpu:.0f} CPU s)" if cpu is not None else "") + f", {done} ep: {value:.2f}")
            final, se = nll(run, args.k, args.nproc, args.device)
            lines.append(f"| {row.name} | {row.theirs:.2f} | " + " | ".join(cells) + f" | K={args.k}: {final:.2f} ± {se:.2f} |")
            # The extrapolation to each row's whole protocol, at the rate of the epochs after the
            # first; printed as each row ends, so a caller cut short still has the rows before.
            rate = seconds_per_epoch(run)
            rates.append(f"{row.name} {rate:.2f} s/epoch, its {row.epochs} epochs in {rate * row.epochs / 3600:.1f} h")
            print(f"summary: on {args.device}: " + "; ".join(rates), flush=True)
        print("\n".join(lines))
        return

    runs = Path(args.runs)
    print(f"| row | theirs | ours (K = {args.k}) | epochs | training time | |\n| --- | --- | --- | --- | --- | --- |")
    for row in chosen:
        run = runs / row.name
        if not (args.status or args.evaluate) and progress(run)[0] < row.epochs:
            train_for(row, run, args.time_limit, args.data_dir, args.seed, args.device, speed)
        if args.evaluate and progress(run)[0] > 0:
            refuse_if_training(run)
        done, spent = progress(run)
        if args.status or done == 0:
            ours = measured(run, args.k, done)
        else:
            ours = "{:.2f} ± {:.2f}".format(*nll(run, args.k, args.nproc, args.device))
        state = "done" if done >= row.epochs else f"partial ({done}/{row.epochs} epochs)" if done else "not started in --runs"
        cost = remaining_cost(run, row.epochs) if 0 < done < row.epochs else None
        if cost is not None:
            state = state[:-1] + f"; about {cost[0]:.1f} core-hours left at {cost[1]:.0f} CPU-s per epoch)"
        print(f"| {row.name} | {row.theirs:.2f} | {ours} | {done} | {spent / 3600:.2f} h | {state} |", flush=True)


if __name__ == "__main__":
    main()
