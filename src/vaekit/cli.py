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
from vaekit.errors import VaekitError


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

    report = api.evaluate(vae, split="test")
    if not report.get("variational", True):
        click.echo(
            f"run folder: {vae.run_dir}\n"
            f"test reconstruction log p(x|z) {report['recon']:.3f} nats/example "
            "(a deterministic autoencoder has no ELBO)"
        )
        return
    click.echo(
        f"run folder: {vae.run_dir}\n"
        f"test ELBO {report['elbo']:.3f} nats/example (recon {report['recon']:.3f}, KL {report['kl']:.3f})"
    )


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", help="Evaluate on other data of the same shape (default: the run's own).")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_user_errors
def evaluate(run_dir: str, data: str | None, split: str, which: str, seed: int, as_json: bool) -> None:
    """Report test ELBO, reconstruction term and KL (nats per example; bits/dim for images)."""
    from vaekit import api

    vae = api.load(run_dir, which=which)
    report = api.evaluate(vae, data=data, split=split, seed=seed)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not report.get("variational", True):
        click.echo(f"{run_dir} ({which} weights) on {report['data']} {split}, {report['likelihood']} likelihood")
        click.echo(f"  examples  {report['n_examples']}")
        click.echo(f"  reconstruction log p(x|z)  {report['recon']:.4f} nats/example")
        click.echo("  note: a deterministic autoencoder defines no ELBO and no NLL; only reconstruction error")
        return
    rows = [
        ("examples", f"{report['n_examples']}"),
        ("ELBO", f"{report['elbo']:.4f} nats/example (higher is better)"),
        ("reconstruction E_q log p(x|z)", f"{report['recon']:.4f} nats/example"),
        ("KL(q(z|x) || p(z))", f"{report['kl']:.4f} nats/example"),
    ]
    if "bpd_bound" in report:
        rows.append(("-ELBO in bits/dim", f"{report['bpd_bound']:.4f}"))
    width = max(len(r[0]) for r in rows)
    click.echo(f"{run_dir} ({which} weights) on {report['data']} {split}, {report['likelihood']} likelihood")
    for name, value in rows:
        click.echo(f"  {name:<{width}}  {value}")
    if not report["exact_likelihood"]:
        click.echo(
            f"  note: {report['likelihood']} is not a normalised likelihood for this data "
            "(e.g. Bernoulli on grey levels): these nats are a training loss, not a log-likelihood"
        )


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
    import numpy as np

    from vaekit import api
    from vaekit.examples_io import write_examples

    vae = api.load(run_dir)
    x, labels = api.resolve_eval_data(vae, data, split)
    x = x[:n]
    labels = labels[:n] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    path = Path(out) if out else _default_output(run_dir, "reconstructions", vae)
    if path.suffix.lower() == ".png":
        rows = np.concatenate([np.concatenate([x[i : i + 8].numpy(), recon[i : i + 8]]) for i in range(0, len(x), 8)])
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

    from vaekit.errors import DataError

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


if __name__ == "__main__":
    main()
