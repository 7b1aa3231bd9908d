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
    _show_warnings_as_lines()


def _show_warnings_as_lines() -> None:
    """Print vaekit's own warnings (``VaekitWarning``) as one ``warning: ...`` line each, rather
    than in Python's ``file:line: category`` form; other warnings are shown as before."""
    import warnings

    from vaekit.runtime.errors import VaekitWarning

    previous = warnings.showwarning
    if getattr(previous, "vaekit_lines", False):
        return

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if issubclass(category, VaekitWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)

    show.vaekit_lines = True  # type: ignore[attr-defined]
    warnings.showwarning = show


#: flags of earlier versions and their spelling now: ``(new flag, value)``; a value of None
#: takes the old flag's own value
LEGACY_FLAGS: dict[str, tuple[str, str | None]] = {
    "--beta": ("--set", "objective.beta={}"),
    "--warmup": ("--set", "objective.warmup={}"),
    "--warmup-steps": ("--set", "objective.warmup_steps={}"),
    "--free-bits": ("--set", "objective.free_bits={}"),
    "--iwae-k": ("--set", "objective.k={}"),
    "--sigma": ("--set", "likelihood.sigma={}"),
    "--sigma-type": ("--set", "likelihood.sigma_type={}"),
    "--mixtures": ("--set", "likelihood.mixtures={}"),
    "--categorical-groups": ("--set", "likelihood.groups=[{}]"),
    "--pseudo-inputs": ("--set", "prior.pseudo_inputs={}"),
    "--channels": ("--set", "net.channels=[{}]"),
    "--activation": ("--set", "net.activation={}"),
    "--norm": ("--set", "net.normalization={}"),
}
#: speed switches of earlier versions: turning one off now means ``--fast off``
LEGACY_SWITCHES = {
    "--no-fused-step": ["--fast", "off"],
    "--no-flush-denormal": ["--fast", "off"],
    "--no-fused-optimizer": ["--fast", "off"],
    "--no-fused-nll": ["--fast", "off"],
    "--fused-step": [],
    "--flush-denormal": [],
    "--fused-optimizer": [],
    "--fused-nll": [],
}


def translate_legacy_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Return ``args`` with flags of earlier versions rewritten to today's spelling, and one
    deprecation message per rewritten flag."""
    out: list[str] = []
    notes: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        if arg in LEGACY_SWITCHES:
            new = LEGACY_SWITCHES[arg]
            out += new
            notes.append(f"{arg} is deprecated; " + (f"use {' '.join(new)}" if new else "it is the default (--fast auto)"))
        elif flag in LEGACY_FLAGS and (eq or i + 1 < len(args)):
            value = inline if eq else args[i + 1]
            i += 0 if eq else 1
            new_flag, template = LEGACY_FLAGS[flag]
            new_value = template.format(value) if template else value
            out += [new_flag, new_value]
            notes.append(f"{flag} is deprecated; use {new_flag} {new_value}")
        else:
            out.append(arg)
        i += 1
    return out, notes


class _Command(click.Command):
    """A command that accepts earlier versions' flags (with a deprecation message) and builds
    the parts of its help that come from the registries only when help is shown."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args, notes = translate_legacy_flags(list(args))
        for note in notes:
            click.echo(f"warning: {note}", err=True)
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.name == "train":
            with formatter.section("Model pieces and their options (--set PIECE.OPTION=VALUE)"):
                formatter.write_dl(_piece_help())
        elif self.name == "plot":
            from vaekit.viz.plots import PICTURES

            with formatter.section("Pictures (KIND, and its default file in RUN_DIR)"):
                formatter.write_dl([(k, f"{PICTURES[k].description} ({PICTURES[k].default_file})") for k in PICTURES.names()])
        super().format_epilog(ctx, formatter)


def _piece_help() -> list[tuple[str, str]]:
    """Return (piece kind, its registered names with their options), read from the registries."""
    from vaekit.distributions import LIKELIHOODS, PRIORS
    from vaekit.models import MODELS
    from vaekit.nets import NETS
    from vaekit.objectives import OBJECTIVES

    return [(f"--{kind}", "; ".join(reg.describe())) for kind, reg in (
        ("model", MODELS), ("net", NETS), ("likelihood", LIKELIHOODS), ("prior", PRIORS), ("objective", OBJECTIVES)
    )]  # fmt: skip


def _config_flags(section: str, renames: dict[str, str]) -> list[Callable[[Any], Any]]:
    """Return click options for the fields of a config section (``data`` or ``train``), with
    the help, type and choices their fields declare; ``renames`` maps a field to its flag."""
    import dataclasses
    import typing

    from vaekit import config as config_module

    cls = {"data": config_module.DataConfig, "train": config_module.TrainConfig}[section]
    hints = typing.get_type_hints(cls)
    decorators = []
    for f in dataclasses.fields(cls):
        flag = renames.get(f.name, "--" + f.name.replace("_", "-"))
        kind = hints[f.name]
        # A field that also takes text (image_size: "28x28" or 28) is a text flag.
        base = next((t for t in (bool, str, int, float) if kind is t or t in typing.get_args(kind)), str)
        choices = f.metadata.get("choices")
        help_text = f.metadata.get("help", "") + _default_note(f.default, flag, base)
        if base is bool:
            decorators.append(
                click.option(f"{flag}/--no-{flag[2:]}", f"{section}__{f.name}", default=None, help=help_text)
            )
        else:
            ptype = click.Choice(choices) if choices else base
            decorators.append(click.option(flag, f"{section}__{f.name}", type=ptype, default=None, help=help_text))
    return decorators


def _default_note(default: Any, flag: str, base: type) -> str:
    """Return `` [default: VALUE]`` for a flag's help: the config's default, shown in the help
    text because the flag itself defaults to None (a value from --config is not overridden)."""
    import dataclasses

    if default is None or default is dataclasses.MISSING:
        return ""
    shown = (flag[2:] if default else f"no-{flag[2:]}") if base is bool else default
    return f"  [default: {shown}]"


def _apply(decorators: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def wrap(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return wrap


def _parse_setting(text: str) -> tuple[str, Any]:
    """Return ``(path, value)`` of a ``--set`` argument ``PATH=VALUE``; the value is read as
    YAML (numbers, booleans, null, [lists]), and ``512,256`` as a list of numbers."""
    import re

    import yaml

    path, eq, raw = text.partition("=")
    if not eq or not path.strip():
        raise click.BadParameter(f"expected PIECE.OPTION=VALUE, e.g. objective.beta=4, got {text!r}")
    if re.fullmatch(r"\s*-?[\d.eE+-]+(\s*,\s*-?[\d.eE+-]+)+\s*", raw):
        raw = f"[{raw}]"
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        # YAML 1.1 reads 3e-4 (no decimal point) as text; a number is what anyone typing it means.
        try:
            value = float(value)
        except ValueError:
            pass
    return path.strip(), value


@main.command(cls=_Command)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML or JSON config file.")
@click.option("--preset", type=click.Choice(["seed"]), help="A fixed architecture (seed: the founding 5-4-3|3|3-4-5 network).")
@click.option("--model", "model__name", help="Model family (the list is below).")
@click.option("--latent", "--latent-dim", "model__latent_dim", type=int, help="Latent dimensions.")
@click.option("--net", "net", help="Encoder/decoder pair (below; default mlp).")
@click.option("--encoder", "encoder", callback=_int_list, help="Encoder hidden widths, e.g. 512,256 (net option).")
@click.option("--decoder", "decoder", callback=_int_list, help="Decoder hidden widths (default: the encoder mirrored).")
@click.option("--likelihood", "likelihood", help="p(x|z) family (below; default: from the data).")
@click.option("--prior", "prior", help="p(z) (below; default: the family's).")
@click.option("--objective", "objective", help="Training objective (below; default: the family's).")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Any option by its path, repeatable: objective.beta=4, likelihood.sigma=0.1, net.activation=tanh, "
    "prior.pseudo_inputs=50, train.lr=3e-4.",
)
@_apply(_config_flags("data", {"name": "--data"}))
@_apply(_config_flags("train", {}))
@click.option("--out", type=click.Path(file_okay=False), default="runs/vae", show_default=True, help="Run folder.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the run in a non-empty run folder (kept until the new run's first checkpoint).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_user_errors
def train(
    config_file: str | None,
    preset: str | None,
    settings: tuple[str, ...],
    out: str,
    force: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Train a VAE and write a run folder (config, checkpoints, metrics, pictures)."""
    from vaekit import api
    from vaekit.config import set_option
    from vaekit.viz.run_pictures import write_run_pictures

    parsed = [_parse_setting(text) for text in settings]
    cfg = api.build_config(config_file, preset=preset, **_train_options(options))
    for path, value in parsed:
        set_option(cfg, path, value)
    vae = api.train(cfg, out=out, force=force, progress=_progress_mode(quiet))
    write_run_pictures(vae)
    _print_summary(vae)


def _train_options(options: dict[str, Any]) -> dict[str, Any]:
    """Return the train command's options as :func:`vaekit.api.build_config` keywords."""
    renamed = {"model__name": "model", "data__name": "data"}
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        out[renamed.get(key, key.partition("__")[2] or key)] = value
    return out


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--epochs", type=int, help="New total number of epochs (default: the config's).")
@click.option("--quiet", "-q", is_flag=True)
@_user_errors
def resume(run_dir: str, epochs: int | None, quiet: bool) -> None:
    """Continue a stopped run from its last checkpoint."""
    from vaekit import api
    from vaekit.viz.run_pictures import write_run_pictures

    vae = api.resume(run_dir, epochs=epochs, progress=_progress_mode(quiet))
    write_run_pictures(vae)
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


@main.command(cls=_Command)
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
    "--fast",
    type=click.Choice(["auto", "off"]),
    default="auto",
    show_default=True,
    help="auto: the fused NLL chunk where it applies (same bound, faster on CPU); off: the plain path.",
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
    fast: str,
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
    from vaekit.runtime.errors import RunFolderLockedError, WriteError

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
        fast=fast,
    )
    report = {"run_dir": str(run_dir), "weights": which, **report}
    try:
        saved = f"wrote {write_report(run_dir, report, own_data=data is None)}"
    except (WriteError, RunFolderLockedError) as exc:  # a read-only or busy run folder: print all the same
        saved = f"warning: the report was not saved: {exc}"
    if as_json:
        click.echo(json.dumps(report, indent=2))
        if saved.startswith("warning:"):
            click.echo(saved, err=True)
        return
    title = f"{run_dir} ({which} weights) on {report['data']} {split}, {report['likelihood']} likelihood"
    click.echo(format_report(report, title))
    click.echo(saved, err=True)


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
    from vaekit.viz.examples import write_examples

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
    from vaekit.viz.examples import write_examples
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
    from vaekit.viz.examples import write_examples

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
    from vaekit.data.latents import read_latents
    from vaekit.viz.examples import write_examples

    vae = api.load(run_dir)
    z = read_latents(latents)
    x = vae.decode(z, labels=label).cpu().numpy().reshape(len(z), -1)
    write_examples(Path(out), x, vae.input_shape)
    click.echo(f"wrote {len(x)} decoded examples to {out}")


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


class _PictureKinds(click.Choice):
    """The picture kinds, read from the plot registry when first needed."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> list[str]:  # type: ignore[override]
        from vaekit.viz.plots import PICTURES

        return PICTURES.names()

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


@main.command(cls=_Command)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("kind", type=_PictureKinds(), metavar="KIND")
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
@click.option("--temperature", type=float, help="samples: scale of the prior's std (1).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--from", "start", help="interp: first example, an index into the split or a file (.png/.npy/.csv).")
@click.option("--to", "end", help="interp: second example (default: the first with another label).")
@click.option(
    "--steps",
    type=int,
    help="interp: decoded points from one example's code to the other's, ends included (10); traverse: values per row (9).",
)
@click.option("--example", help="traverse: the example (index or file) to start from (0).")
@click.option("--dims", type=int, help="traverse: most informative dimensions shown (10).")
@click.option("--method", type=click.Choice(["pca", "tsne"]), help="latents: 2-D projection when L > 2 (pca).")
@click.option("--grid", type=int, help="manifold: images per side (15).")
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=0),
    help="report, when the run has no saved evaluation: importance samples of the test NLL it computes "
    "(5000; e.g. 100 for a quick look; 0 skips the NLL).",
)
@click.option(
    "--label",
    type=int,
    help="Conditional models: samples/manifold: the class to decode under (default: every class); "
    "interp/traverse: the label of the example(s) (default: their labels in the split; needed for a file).",
)
@_user_errors
def plot(
    run_dir: str, kind: str, out: str | None, which: str, split: str, seed: int, label: int | None, **options: Any
) -> None:
    """Draw a picture of a run: one of the pictures listed below, or the whole HTML report."""
    from vaekit.viz.plots import PlotRequest, write_picture

    request = PlotRequest(Path(run_dir), which=which, split=split, seed=seed, label=label, options=options)
    click.echo(f"wrote {write_picture(kind, request, out)}")


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
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.runtime.errors import ConfigError
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
