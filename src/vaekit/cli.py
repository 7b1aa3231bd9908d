"""The ``vaekit`` command: parses options, calls the library, prints. Nothing imports this.

torch is imported inside the commands, not at the top, so ``vaekit --help`` and argument
errors answer quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vaekit._version import __version__
from vaekit.runtime.errors import VaekitError


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user-caused errors into a one-line message and exit code 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VaekitError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; the last checkpoint is intact (resume with `vaekit resume`)", err=True)
            sys.exit(130)

    return wrapper


def _int_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        widths = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 512,256, got {value!r}") from None
    if not widths or any(w < 1 for w in widths):
        raise click.BadParameter(f"expected positive widths like 512,256, got {value!r}")
    return widths


def _progress_mode(quiet: bool) -> str:
    return "quiet" if quiet else "auto"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaekit")
def main() -> None:
    """vaekit: train, evaluate and use variational autoencoders."""


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML or JSON config file.")
@click.option(
    "--preset", type=click.Choice(["seed"]), help="A fixed architecture (seed: the founding 5-4-3|3|3-4-5 network)."
)
@click.option(
    "--data", help="digits, mnist, fashion-mnist, synthetic5, or a path (.npy/.npz/.csv, image folder, IDX folder)."
)
@click.option("--data-dir", help="Folder holding MNIST/Fashion-MNIST IDX files.")
@click.option(
    "--download", is_flag=True, default=None, help="Download MNIST/Fashion-MNIST if missing (checksums verified)."
)
@click.option("--image-size", help="Resize images, e.g. 28, 28x28 or 32x32x3.")
@click.option(
    "--binarize",
    type=click.Choice(["none", "dynamic", "static"]),
    help="Binarise grey levels (dynamic: a fresh draw every epoch).",
)
@click.option(
    "--dequantize",
    type=click.Choice(["none", "uniform"]),
    help="Add U[0,1) noise to integer grey levels so a continuous likelihood bounds the discrete data.",
)
@click.option("--model", help="Model family: vae, ae, beta-vae, iwae, cvae or vamp (docs/models.md).")
@click.option("--net", help="Encoder/decoder type: mlp (default) or conv (images of any size).")
@click.option("--encoder", callback=_int_list, help="Encoder hidden widths, e.g. 512,256 (dense layers).")
@click.option("--decoder", callback=_int_list, help="Decoder hidden widths (default: the encoder mirrored).")
@click.option("--channels", callback=_int_list, help="Conv stages' channels, e.g. 32,64 (--net conv; default 32,64).")
@click.option("--latent", "latent_dim", type=int, help="Latent dimensions.")
@click.option("--activation", help="relu, tanh, elu, gelu, silu or leaky_relu.")
@click.option("--norm", "normalization", help="Normalisation after hidden layers: none, batch or layer.")
@click.option(
    "--likelihood",
    help="p(x|z) family: bernoulli, gaussian, continuous-bernoulli, discretized-logistic, categorical "
    "(default: from the data).",
)
@click.option("--sigma", type=float, help="Fixed std of the gaussian likelihood (default: learned).")
@click.option("--sigma-type", help="Learned gaussian std: per-dim (default) or per-example (decoder output).")
@click.option("--mixtures", type=int, help="Mixture components of the discretized-logistic likelihood (default 1).")
@click.option(
    "--categorical-groups", callback=_int_list, help="Sizes of the one-hot column groups, e.g. 3,4,2 (categorical)."
)
@click.option("--objective", help="Override the family's objective: elbo, beta-elbo, iwae or reconstruction.")
@click.option("--beta", type=float, help="KL weight of beta-vae (default 1).")
@click.option("--warmup", help="KL warm-up of beta-vae: none, linear or cyclical.")
@click.option("--warmup-steps", type=int, help="Length of the linear warm-up, or of one cycle, in optimizer steps.")
@click.option("--free-bits", type=float, help="beta-vae: KL floor per latent dimension, nats (Kingma et al. 2016).")
@click.option("--iwae-k", type=int, help="iwae: importance samples per example (default 5).")
@click.option("--pseudo-inputs", type=int, help="vamp: number of learned pseudo-inputs (default 100).")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--seed", type=int)
@click.option("--device", help="auto, cpu, cuda or mps.")
@click.option(
    "--data-loading",
    type=click.Choice(["memory", "streaming"]),
    help="memory: the training set sits on the device (fast, default); streaming: a DataLoader feeds batches.",
)
@click.option("--num-workers", type=int, help="DataLoader worker processes for --data-loading streaming.")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    help="fp32 (default); bf16 autocast (CPU/GPU); fp16 autocast with a gradient scaler (CUDA).",
)
@click.option("--compile/--no-compile", "compile", default=None, help="torch.compile the model (opt-in).")
@click.option(
    "--fused-optimizer/--no-fused-optimizer", "fused_optimizer", default=None, help="Adam's fused kernel (default on)."
)
@click.option(
    "--flush-denormal/--no-flush-denormal",
    "flush_denormal",
    default=None,
    help="Flush float32 subnormals to zero while training on a CPU (default on; see docs/benchmarks.md).",
)
@click.option(
    "--fused-step/--no-fused-step",
    "fused_step",
    default=None,
    help="Hand-written forward/backward for MLP VAEs with a Bernoulli likelihood (default on where it applies).",
)
@click.option("--checkpoint-every", type=int, help="Checkpoint every N epochs (and always at the end).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/vae", show_default=True, help="Run folder.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty run folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_user_errors
def train(config_file: str | None, preset: str | None, out: str, force: bool, quiet: bool, **options: Any) -> None:
    """Train a VAE and write a run folder (config, checkpoints, metrics, pictures)."""
    from vaekit import api

    vae = api.train(config_file, out=out, force=force, preset=preset, progress=_progress_mode(quiet), **options)
    _print_summary(vae)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--epochs", type=int, help="New total number of epochs (default: the config's).")
@click.option("--quiet", "-q", is_flag=True)
@_user_errors
def resume(run_dir: str, epochs: int | None, quiet: bool) -> None:
    """Continue a stopped run from its last checkpoint."""
    from vaekit import api

    vae = api.resume(run_dir, epochs=epochs, progress=_progress_mode(quiet))
    _print_summary(vae)


def _print_summary(vae: Any) -> None:
    from vaekit import api

    report = api.evaluate(vae, split="test", k=0, probe=False)
    if "elbo" in report:
        line = f"test ELBO {report['elbo']:.3f} nats/example (recon {report['recon']:.3f}, KL {report['kl']:.3f})"
    elif "loss" in report:
        line = (
            f"test loss {report['loss']:.3f} nats/example (recon loss {report['recon_loss']:.3f}, "
            f"KL {report['kl']:.3f}; not a likelihood, see `vaekit evaluate`)"
        )
    else:
        line = f"test reconstruction MSE {report['recon_mse']:.6f} per dimension"
    click.echo(f"run folder: {vae.run_dir}\n{line}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Evaluate on other data of the same shape (default: the run's own).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=0),
    help="Importance samples of the NLL (default 5000 when the likelihood is exact for the data; 0 skips it).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Examples per NLL batch (default: 100, more for small K)."
)
@click.option(
    "--max-chunk-elements",
    type=click.IntRange(min=1),
    help="Memory budget of the NLL: elements of one chunk's decoder output (default 2**21).",
)
@click.option("--no-probe", is_flag=True, help="Skip the logistic-regression probe on the latent means.")
@click.option(
    "--fused-nll/--no-fused-nll",
    default=True,
    show_default=True,
    help="MLP-decoder Bernoulli models on binary data: the fused NLL chunk (same bound, faster on CPU).",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_user_errors
def evaluate(
    run_dir: str,
    data: str | None,
    split: str,
    which: str,
    k: int | None,
    seed: int,
    batch_size: int | None,
    max_chunk_elements: int | None,
    no_probe: bool,
    fused_nll: bool,
    device: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Report NLL (importance-sampled), ELBO terms, bits/dim and posterior diagnostics.

    Nats per example; bits/dim for images. The report is also written to
    RUN_DIR/eval-<split>-k<K>.json."""
    from vaekit import api
    from vaekit.evaluation import format_report, write_report
    from vaekit.runtime.device import resolve_device

    vae = api.load(run_dir, which=which, device=resolve_device(device))
    report = api.evaluate(
        vae,
        data=data,
        split=split,
        k=k,
        seed=seed,
        batch_size=batch_size,
        max_chunk_elements=max_chunk_elements,
        probe=not no_probe,
        progress=_progress_mode(quiet),
        fused_nll=fused_nll,
    )
    report = {"run_dir": str(run_dir), "weights": which, **report}
    path = write_report(run_dir, report, own_data=data is None)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    title = f"{run_dir} ({which} weights) on {report['data']} {split}, {report['likelihood']} likelihood"
    click.echo(format_report(report, title))
    click.echo(f"wrote {path}", err=True)


def _default_output(run_dir: str, stem: str, vae: Any) -> Path:
    return Path(run_dir) / f"{stem}.{'png' if vae.is_image else 'csv'}"


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the prior's std.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--label", type=int, help="Class to condition on (conditional models; default: classes in turn).")
@click.option(
    "--out", type=click.Path(dir_okay=False), help=".png, .npy or .csv (default: RUN_DIR/samples.png or .csv)."
)
@_user_errors
def sample(run_dir: str, n: int, temperature: float, seed: int, label: int | None, out: str | None) -> None:
    """Draw samples from the prior and decode them."""
    import torch

    from vaekit import api
    from vaekit.examples_io import write_examples

    vae = api.load(run_dir)
    torch.manual_seed(seed)
    xs = vae.sample(n, temperature=temperature, labels=label).cpu().numpy().reshape(n, -1)
    path = Path(out) if out else _default_output(run_dir, "samples", vae)
    write_examples(path, xs, vae.input_shape)
    click.echo(f"wrote {n} samples to {path}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Data to reconstruct (default: the run's own).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("-n", "n", type=int, default=32, show_default=True, help="Number of examples.")
@click.option("--out", type=click.Path(dir_okay=False), help=".png (originals above reconstructions), .npy or .csv.")
@_user_errors
def reconstruct(run_dir: str, data: str | None, split: str, n: int, out: str | None) -> None:
    """Reconstruct examples through the posterior means."""
    from vaekit import api
    from vaekit.examples_io import write_examples
    from vaekit.viz.grid import interleave_rows

    vae = api.load(run_dir)
    x, labels = api.resolve_eval_data(vae, data, split)
    x = x[:n]
    labels = labels[:n] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    path = Path(out) if out else _default_output(run_dir, "reconstructions", vae)
    if path.suffix.lower() == ".png":
        rows = interleave_rows(x.numpy(), recon, ncol=8)
        write_examples(path, rows, vae.input_shape, ncol=8)
    else:
        write_examples(path, recon, vae.input_shape)
    click.echo(f"wrote {len(x)} reconstructions to {path}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Data to encode (default: the run's own).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--sample", "draw", is_flag=True, help="Draw z from q(z|x) instead of the posterior mean.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="latents.npy or .csv")
@_user_errors
def encode(run_dir: str, data: str | None, split: str, draw: bool, out: str) -> None:
    """Encode examples to latent codes (posterior means by default)."""
    from vaekit import api
    from vaekit.examples_io import write_examples

    vae = api.load(run_dir)
    x, labels = api.resolve_eval_data(vae, data, split)
    z = vae.encode(x, sample=draw, labels=labels if vae.conditional else None).cpu().numpy()
    write_examples(Path(out), z)
    click.echo(f"wrote {z.shape[0]} x {z.shape[1]} latent codes to {out}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--latents", type=click.Path(dir_okay=False), required=True, help="Latent codes, .npy or .csv [N, L].")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help=".png, .npy or .csv")
@click.option("--label", type=int, help="Class to decode under (conditional models).")
@_user_errors
def decode(run_dir: str, latents: str, out: str, label: int | None) -> None:
    """Decode latent codes to examples (the likelihood's mean)."""
    from vaekit import api
    from vaekit.examples_io import write_examples

    vae = api.load(run_dir)
    z = _read_latents(latents)
    x = vae.decode(z, labels=label).cpu().numpy().reshape(len(z), -1)
    write_examples(Path(out), x, vae.input_shape)
    click.echo(f"wrote {len(x)} decoded examples to {out}")


def _read_latents(path: str) -> Any:
    """Read an [N, L] array of latent codes from .npy or .csv, in file order."""
    import numpy as np

    from vaekit.runtime.errors import DataError

    p = Path(path)
    try:
        if p.suffix.lower() == ".npy":
            z = np.load(p, allow_pickle=False)
        elif p.suffix.lower() == ".csv":
            z = np.loadtxt(p, delimiter=",", ndmin=2)
        else:
            raise DataError(f"{p}: latent codes must be .npy or .csv")
    except FileNotFoundError:
        raise DataError(f"{p} does not exist") from None
    except ValueError as exc:
        raise DataError(f"{p}: not a numeric array ({exc})") from None
    z = np.atleast_2d(z).astype(np.float32)
    if z.ndim != 2:
        raise DataError(f"{p}: expected a 2-D array [N, L], got shape {z.shape}")
    return z


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_user_errors
def info(run_dir: str, as_json: bool) -> None:
    """Describe a run folder: model, data, progress, files."""
    from vaekit import api

    summary = api.run_info(run_dir)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        click.echo(f"{key:<{width}}  {', '.join(value) if key == 'files' else value}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: this machine only)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Largest image upload, in MB.",
)
@click.option(
    "--max-samples", type=click.IntRange(min=1), default=64, show_default=True, help="Most samples per request."
)
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True, help="Which weights.")
@_user_errors
def serve(run_dir: str, host: str, port: int, max_upload_mb: float, max_samples: int, which: str) -> None:
    """Open the latent explorer: a web page to walk RUN_DIR's latent space (needs `vaekit[serve]`)."""
    from vaekit.serve import LOOPBACK_HOSTS, create_app, require_serve_extra, run_app

    require_serve_extra()
    if host not in LOOPBACK_HOSTS:
        click.echo(
            f"warning: listening on {host}, not loopback: anyone who can reach this machine on port {port} "
            "can use the explorer (it has no login); use --host 127.0.0.1 to keep it local",
            err=True,
        )
    app = create_app(
        run_dir,
        which=which,
        allowed_hosts=list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_samples=max_samples,
    )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"latent explorer for {run_dir}: http://{shown}:{port}/  (Ctrl+C stops it)")
    run_app(app, host, port)


PLOT_KINDS = ("samples", "recon", "interp", "traverse", "latents", "manifold", "curves", "report")
#: Default file name of each picture in the run folder.
PLOT_FILES = {
    "samples": "samples.png",
    "recon": "reconstructions.png",
    "interp": "interpolations.png",
    "traverse": "traversals.png",
    "latents": "latents.png",
    "manifold": "manifold.png",
    "curves": "curves.png",
    "report": "report.html",
}


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("kind", type=click.Choice(PLOT_KINDS))
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Output file, .png (or .svg for plots); default in RUN_DIR."
)
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True)
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option(
    "-n",
    "n",
    type=int,
    help="samples: number (64; per class for a conditional model without --label: 8); recon: examples (32).",
)
@click.option("--temperature", type=float, default=1.0, show_default=True, help="samples: scale of the prior's std.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--from", "start", help="interp: first example, an index into the split or a file (.png/.npy/.csv).")
@click.option("--to", "end", help="interp: second example (default: the first with another label).")
@click.option(
    "--steps",
    type=int,
    help="interp: decoded points from one example's code to the other's, ends included (10); traverse: values per row (9).",
)
@click.option("--example", default="0", show_default=True, help="traverse: the example (index or file) to start from.")
@click.option("--dims", type=int, default=10, show_default=True, help="traverse: most informative dimensions shown.")
@click.option(
    "--method",
    type=click.Choice(["pca", "tsne"]),
    default="pca",
    show_default=True,
    help="latents: 2-D projection when L > 2.",
)
@click.option("--grid", type=int, default=15, show_default=True, help="manifold: images per side.")
@click.option(
    "--label",
    type=int,
    help="Conditional models: samples/manifold: the class to decode under (default: every class); "
    "interp/traverse: the label of the example(s) (default: their labels in the split; needed for a file).",
)
@_user_errors
def plot(run_dir: str, kind: str, out: str | None, which: str, split: str, **options: Any) -> None:
    """Draw a picture of a run: samples, recon, interp, traverse, latents, manifold, curves, or
    the whole HTML report."""
    from vaekit.viz.report import write_report

    path = Path(out) if out else Path(run_dir) / PLOT_FILES[kind]
    if kind == "report":
        click.echo(f"wrote {write_report(run_dir, path, which=which, seed=options['seed'])}")
        return
    picture = _draw_picture(run_dir, kind, which, split, options)
    _save_picture(picture, path)
    click.echo(f"wrote {path}")


def _draw_picture(run_dir: str, kind: str, which: str, split: str, o: dict[str, Any]) -> Any:
    """Return the picture ``kind`` of a run as a uint8 array or a matplotlib Figure."""
    from vaekit import api, viz
    from vaekit.runtime.errors import ConfigError
    from vaekit.viz.examples import pick_example, pick_label
    from vaekit.viz.interpolation import default_pair

    if kind == "curves":
        return viz.training_curves(viz.read_metrics(run_dir))
    vae = api.load(run_dir, which=which)
    label = o["label"]
    if label is not None and not vae.conditional:
        raise ConfigError(f"--label is for conditional models; model {vae.config.model.name!r} takes no labels")
    if kind == "samples":
        return viz.sample_grid(vae, o["n"], temperature=o["temperature"], seed=o["seed"], label=label)
    if kind == "manifold":
        return viz.manifold_grid(vae, o["grid"], label=label)
    if kind != "latents":
        viz.pictures.require_images(vae, kind)  # before reading the data: fail fast on tables
    x, labels = api.resolve_eval_data(vae, None, split)
    if kind == "recon":
        return viz.reconstruction_grid(vae, x, o["n"] or 32, labels=labels)
    if kind == "interp":
        first, second = default_pair(labels, len(x))
        start = o["start"] if o["start"] is not None else first
        end = o["end"] if o["end"] is not None else second
        a, b = pick_example(start, x, vae), pick_example(end, x, vae)
        pair = [pick_label(start, labels, label, vae), pick_label(end, labels, label, vae)] if vae.conditional else None
        return viz.interpolation_figure(vae, a, b, steps=o["steps"] or 10, labels=pair)
    if kind == "traverse":
        example = pick_example(o["example"], x, vae)
        own = pick_label(o["example"], labels, label, vae) if vae.conditional else None
        return viz.traversal_figure(
            vae, example, x, steps=o["steps"] or 9, max_dims=o["dims"], label=own, labels=labels
        )
    return viz.latent_scatter(vae, x, labels, method=o["method"], seed=o["seed"])


def _save_picture(picture: Any, path: Path) -> None:
    """Write a picture as PNG, or as SVG when ``path`` ends in .svg and the picture is a plot."""
    import numpy as np

    from vaekit.runtime.errors import ConfigError
    from vaekit.runtime.atomic import atomic_write_bytes
    from vaekit.viz import picture_png

    suffix = path.suffix.lower()
    if suffix == ".svg" and not isinstance(picture, np.ndarray):
        import io

        buffer = io.BytesIO()
        picture.savefig(buffer, format="svg")
        atomic_write_bytes(path, buffer.getvalue())
    elif suffix == ".png":
        atomic_write_bytes(path, picture_png(picture))
    else:
        kinds = ".png or .svg" if not isinstance(picture, np.ndarray) else ".png"
        raise ConfigError(f"{path}: this picture is written as {kinds}, not {suffix or 'a file without suffix'!r}")


@main.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--preset", type=click.Choice(["seed"]), help="Draw a preset's network instead of a run's.")
@click.option("--format", "fmt", type=click.Choice(["svg", "tikz", "typst"]), default="svg", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Output file; '-' for stdout (default: stdout for a preset, RUN_DIR/architecture.svg|.tex|.typ for a run).",
)
@_user_errors
def diagram(run_dir: str | None, preset: str | None, fmt: str, out: str | None) -> None:
    """Draw the network as the founding diagram does: SVG, TikZ (pdflatex) or Typst (CeTZ)."""
    from vaekit.runtime.errors import ConfigError
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.viz.diagram import SUFFIXES, architecture_for_preset, architecture_for_run, diagram_source

    if (run_dir is None) == (preset is None):
        raise ConfigError("give either a run folder or --preset (e.g. `vaekit diagram --preset seed`), not both")
    arch = architecture_for_run(run_dir) if run_dir else architecture_for_preset(preset)
    source = diagram_source(arch, fmt)
    if out is None and run_dir is not None:
        out = str(Path(run_dir) / f"architecture{SUFFIXES[fmt]}")
    if out is None or out == "-":
        click.echo(source, nl=False)
        return
    atomic_write_text(Path(out), source)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
