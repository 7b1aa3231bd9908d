"""The ``vaekit`` command: parses options, calls the library, prints. Nothing imports this.

Each command is a few lines here or in a module of its own (:mod:`vaekit.cli.evaluate`,
:mod:`vaekit.cli.outputs`, :mod:`vaekit.cli.score`); how options are generated and parsed is in
:mod:`vaekit.cli.options`.

torch is imported inside the commands, not at the top, so ``vaekit --help`` and argument
errors answer quickly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vaekit._version import __version__
from vaekit.cli.launch import Group, launch, launch_options, refuse_one_process_command, wants_launch
from vaekit.cli.options import (
    Choice,
    Command,
    PictureKinds,
    apply_all,
    config_flags,
    int_list,
    parse_setting,
    progress_mode,
    refuse_writing_over_inputs,
    show_warnings_as_lines,
    split_option,
    train_options,
    user_errors,
)
from vaekit.config import PRECISIONS
from vaekit.runtime.errors import ConfigError


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaekit")
def main() -> None:
    """vaekit: train, evaluate and use variational autoencoders."""
    show_warnings_as_lines()
    refuse_one_process_command(click.get_current_context().invoked_subcommand)


@main.command(cls=Command)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML or JSON config file.")
@click.option("--preset", type=Choice(["seed"]), help="A fixed architecture (seed: the founding 5-4-3|3|3-4-5 network).")
@click.option("--model", "model__name", help="Model family (the list is below).")
@click.option("--latent", "--latent-dim", "model__latent_dim", type=int, help="Latent dimensions.")
@click.option("--net", "net", help="Encoder/decoder pair (below; default mlp).")
@click.option("--encoder", "encoder", callback=int_list, help="Encoder hidden widths, e.g. 512,256 (net option).")
@click.option("--decoder", "decoder", callback=int_list, help="Decoder hidden widths (default: the encoder mirrored).")
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
@apply_all(config_flags("data", {"name": "--data"}))
@apply_all(config_flags("train", {}))
@click.option("--out", type=click.Path(file_okay=False), default="runs/vae", show_default=True, help="Run folder.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the run in a non-empty run folder (kept until the new run's first checkpoint).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@launch_options
@user_errors
def train(
    config_file: str | None,
    preset: str | None,
    settings: tuple[str, ...],
    out: str,
    force: bool,
    quiet: bool,
    nproc: int | None,
    nnodes: int,
    rdzv_endpoint: str | None,
    rdzv_id: str,
    rdzv_timeout: int,
    **options: Any,
) -> None:
    """Train a VAE and write a run folder (config, checkpoints, metrics, pictures)."""
    from vaekit import api
    from vaekit.config import set_option
    from vaekit.config import validate as validate_config

    parsed = [parse_setting(text) for text in settings]
    cfg = api.build_config(config_file, preset=preset, **train_options(options))
    for path, value in parsed:
        set_option(cfg, path, value)
    if wants_launch(nproc):
        validate_config(cfg)  # a bad option is one message here, not one per process
        launch(nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, rdzv_timeout=rdzv_timeout,
               run_dir=out, device=cfg.train.device, batch_size=cfg.train.batch_size)  # fmt: skip
        return
    from vaekit.runtime.distributed import writer_process
    from vaekit.viz.run_pictures import write_run_pictures

    vae = api.train(cfg, out=out, force=force, progress=progress_mode(quiet))
    if not writer_process():
        return  # rank 0 of a distributed run draws the pictures and prints the summary
    write_run_pictures(vae)
    _print_summary(vae)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--epochs", type=int, help="New total number of epochs (default: the config's).")
@click.option(
    "--time-limit", type=float, help="New seconds of training before the run stops again (0: no limit; default: the config's)."
)
@click.option("--lr", type=float, help="New base learning rate, scaled by the run's schedule from the next epoch (default: the config's).")
@click.option("--grad-clip", type=float, help="New gradient-norm clip (0: none; default: the config's).")
@click.option("--precision", type=Choice(PRECISIONS), help="New numeric precision (see `vaekit train --help`; default: the config's).")
@click.option(
    "--min-backward-weight",
    type=float,
    help="New importance weight below which IWAE draws play Russian roulette for their backward pass (0: every draw's; see `vaekit train --help`; default: the config's).",
)
@click.option("--quiet", "-q", is_flag=True)
@launch_options
@user_errors
def resume(
    run_dir: str,
    epochs: int | None,
    time_limit: float | None,
    lr: float | None,
    grad_clip: float | None,
    precision: str | None,
    min_backward_weight: float | None,
    quiet: bool,
    nproc: int | None,
    nnodes: int,
    rdzv_endpoint: str | None,
    rdzv_id: str,
    rdzv_timeout: int,
) -> None:
    """Continue a stopped run from its last checkpoint."""
    if wants_launch(nproc):
        launch(nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, rdzv_timeout=rdzv_timeout,
               run_dir=run_dir)  # fmt: skip
        return
    from vaekit import api
    from vaekit.runtime.distributed import writer_process
    from vaekit.viz.run_pictures import write_run_pictures

    vae = api.resume(run_dir, epochs=epochs, time_limit=time_limit, lr=lr, grad_clip=grad_clip, precision=precision,
                     min_backward_weight=min_backward_weight, progress=progress_mode(quiet))  # fmt: skip
    if not writer_process():
        return
    write_run_pictures(vae)
    _print_summary(vae)


def _print_summary(vae: Any) -> None:
    from vaekit import api

    if vae.config.table is not None and not vae.config.data.test_fraction:
        click.echo(f"run folder: {vae.run_dir}\nno test rows (test_fraction 0): `vaekit evaluate RUN --data FILE` judges it")
        return
    report = api.evaluate(vae, split="test", k=0, probe=False)
    units = " in the model's transformed units; `vaekit evaluate` gives the NLL in the data's own units" if vae.config.table else ""
    if "elbo" in report:
        line = (
            f"test ELBO {report['elbo']:.3f} nats/example (recon {report['recon']:.3f}, KL {report['kl']:.3f}){units}"
        )
    elif "loss" in report:
        line = (
            f"test loss {report['loss']:.3f} nats/example (recon loss {report['recon_loss']:.3f}, "
            f"KL {report['kl']:.3f}; not a likelihood, see `vaekit evaluate`)"
        )
    else:
        line = f"test reconstruction MSE {report['recon_mse']:.6f} per dimension"
    click.echo(f"run folder: {vae.run_dir}\n{line}")
    from vaekit.evaluation.diagnostics import report_collapse_note

    collapsed = report_collapse_note(report)
    if collapsed:
        click.echo(f"warning: {collapsed}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def info(run_dir: str, as_json: bool) -> None:
    """Describe a run folder: model, data, progress, files."""
    from vaekit.summary import run_info

    summary = run_info(run_dir)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    schema = summary.pop("schema", None)
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if key in ("files", "condition_on"):
            value = ", ".join(value)
        elif key == "best_loss" and isinstance(value, float):
            value = f"{value:.4f} nats per example"  # as the report rounds it; --json keeps every digit
        click.echo(f"{key:<{width}}  {value}")
    if schema is not None:
        from vaekit.data.tables import TableSchema, table_summary

        click.echo("\ncolumns (kind: why)")
        click.echo(table_summary(TableSchema.from_dict(schema)))


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
@click.option("--which", type=Choice(["last", "best"]), default="last", show_default=True, help="Which weights.")
@user_errors
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


@main.command(cls=Command)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("kind", type=PictureKinds(), metavar="KIND")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Output file, .png (or .svg for plots); default in RUN_DIR."
)
@click.option("--which", type=Choice(["last", "best"]), default="last", show_default=True)
@split_option
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=1),
    help="samples: number (64; per class for a conditional model without --label: 8); recon: examples (32); "
    "anomalies: examples shown (8).",
)
@click.option("--data", "data", help="anomalies: the data to rank (.npy/.npz, a table, a dataset; default: the run's split).")
@click.option("--score", "score", type=Choice(["nll", "elbo", "recon"]), help="anomalies: the score (nll).")
@click.option("--id-column", "id_column", help="anomalies, tables: the column that names each row (as vaekit score's).")
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
@click.option("--method", type=Choice(["pca", "tsne"]), help="latents: 2-D projection when L > 2 (pca).")
@click.option("--grid", type=int, help="manifold: images per side (15).")
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=0),
    help="report, when the run has no saved evaluation: importance samples of the test NLL it computes "
    "(5000; e.g. 100 for a quick look; 0 skips the NLL); anomalies: posterior draws of the score (100 for nll).",
)
@click.option(
    "--label",
    help="Conditional models (a class number, or an image folder's class name): samples/manifold: the class to decode under (default: every class); "
    "interp/traverse: the label of the example(s) (default: their labels in the split; needed for a file).",
)
@user_errors
def plot(
    run_dir: str, kind: str, out: str | None, which: str, split: str, seed: int, label: str | None, **options: Any
) -> None:
    """Draw a picture of a run: one of the pictures listed below, or the whole HTML report."""
    from vaekit.runtime.atomic import check_writable_path
    from vaekit.viz.plots import PlotRequest, write_picture

    if out is not None:
        check_writable_path(Path(out))  # before a report's evaluation, not after it
        inputs = {"--data": options["data"], "--from": options["start"], "--to": options["end"], "--example": options["example"]}
        refuse_writing_over_inputs(out, inputs, run_dir)
    request = PlotRequest(Path(run_dir), which=which, split=split, seed=seed, label=label, options=options)
    click.echo(f"wrote {write_picture(kind, request, out)}")


@main.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--preset", type=Choice(["seed"]), help="Draw a preset's network instead of a run's.")
@click.option(
    "--format", "fmt", type=Choice(["svg", "tikz", "typst"]), default=None,
    help="svg, tikz or typst [default: from --out's suffix (.svg, .tex, .typ), else svg].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Output file; '-' for stdout (default: stdout for a preset, RUN_DIR/architecture.svg|.tex|.typ for a run).",
)
@user_errors
def diagram(run_dir: str | None, preset: str | None, fmt: str | None, out: str | None) -> None:
    """Draw the network as the founding diagram does: SVG, TikZ (pdflatex) or Typst (CeTZ)."""
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.viz.diagram import SUFFIXES, architecture_for_preset, architecture_for_run, diagram_source

    if (run_dir is None) == (preset is None):
        raise ConfigError("give either a run folder or --preset (e.g. `vaekit diagram --preset seed`), not both")
    if out not in (None, "-"):
        by_suffix = {suffix: name for name, suffix in SUFFIXES.items()}
        suffix = Path(out).suffix.lower()
        if suffix not in by_suffix:
            raise ConfigError(
                f"--out {out}: a diagram is written as {', '.join(SUFFIXES.values())} (svg, tikz, typst); "
                "name a file with one of those suffixes, or - for standard output"
            )
        if fmt is not None and by_suffix[suffix] != fmt:
            raise ConfigError(f"--format {fmt} writes a {SUFFIXES[fmt]} file, but --out names a {suffix} file; make them agree")
        fmt = by_suffix[suffix]
    fmt = fmt or "svg"
    refuse_writing_over_inputs(out, run_dir=run_dir)
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


# Commands with modules of their own, registered here like the others.
from vaekit.cli.evaluate import evaluate as _evaluate_command  # noqa: E402
from vaekit.cli.outputs import decode, encode, impute, reconstruct, sample  # noqa: E402
from vaekit.cli.score import score as _score_command  # noqa: E402

main.add_command(_evaluate_command, "evaluate")
main.add_command(_score_command, "score")
for _command in (sample, reconstruct, encode, decode, impute):
    main.add_command(_command)
