"""The ``vaekit`` command: parses options, calls the library, prints. Nothing imports this.

Each command is a few lines here; how options are generated and parsed is in
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
from vaekit.cli.launch import launch, launch_options, refuse_one_process_command, wants_launch
from vaekit.cli.options import (
    Command,
    PictureKinds,
    apply_all,
    config_flags,
    counted,
    data_options,
    int_list,
    parse_setting,
    progress_mode,
    refuse_writing_over_the_input,
    show_warnings_as_lines,
    split_option,
    train_options,
    user_errors,
)
from vaekit.config import PRECISIONS
from vaekit.runtime.errors import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaekit")
def main() -> None:
    """vaekit: train, evaluate and use variational autoencoders."""
    show_warnings_as_lines()
    refuse_one_process_command(click.get_current_context().invoked_subcommand)


@main.command(cls=Command)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML or JSON config file.")
@click.option("--preset", type=click.Choice(["seed"]), help="A fixed architecture (seed: the founding 5-4-3|3|3-4-5 network).")
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
@click.option("--precision", type=click.Choice(PRECISIONS), help="New numeric precision (see `vaekit train --help`; default: the config's).")
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
    units = " in the model's transformed units; `vaekit evaluate` gives the NLL in the data's" if vae.config.table else ""
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


@main.command(cls=Command)
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Evaluate on other data of the same shape (default: the run's own).", per_example=True)
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
    help="Memory budget of the NLL: elements of one chunk's decoder output (default 2**21 on a CPU; "
    "on a GPU up to 2**26, as its free memory allows).",
)
@click.option("--no-probe", is_flag=True, help="Skip the logistic-regression probe on the latent means.")
@click.option("--target", help="Tables: the column machine-learning efficacy predicts (default: the last categorical).")
@click.option(
    "--synthetic-rows", type=click.IntRange(min=1), help="Tables: synthetic rows to judge (default: as many as held out)."
)
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
@launch_options
@user_errors
def evaluate(
    run_dir: str,
    data: str | None,
    split: str | None,
    which: str,
    k: int | None,
    seed: int,
    batch_size: int | None,
    max_chunk_elements: int | None,
    no_probe: bool,
    target: str | None,
    synthetic_rows: int | None,
    fast: str,
    device: str,
    as_json: bool,
    quiet: bool,
    nproc: int | None,
    nnodes: int,
    rdzv_endpoint: str | None,
    rdzv_id: str,
    rdzv_timeout: int,
) -> None:
    """Report NLL (importance-sampled), ELBO terms, bits/dim and posterior diagnostics.

    Nats per example; bits/dim for images. The report is also written to
    RUN_DIR/eval-<split>-k<K>.json. A table run reports the quality of synthetic rows against
    held-out rows (RUN_DIR/eval-table.json, table-columns.png, table-correlations.png)."""
    if wants_launch(nproc):
        launch(nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, rdzv_timeout=rdzv_timeout,
               device=device)  # fmt: skip
        return
    from vaekit.runtime import distributed
    from vaekit.runtime.device import resolve_device

    target_device = resolve_device(distributed.device_for_rank(device))
    with distributed.joined(target_device) as world:
        _evaluate(run_dir, data, split, which, k, seed, batch_size, max_chunk_elements, no_probe, target,
                  synthetic_rows, fast, target_device, as_json, quiet or not world.writer, world.writer)  # fmt: skip


def _evaluate(
    run_dir: str,
    data: str | None,
    split: str | None,
    which: str,
    k: int | None,
    seed: int,
    batch_size: int | None,
    max_chunk_elements: int | None,
    no_probe: bool,
    target: str | None,
    synthetic_rows: int | None,
    fast: str,
    device: Any,
    as_json: bool,
    quiet: bool,
    writer: bool,
) -> None:
    """``vaekit evaluate`` in this process (one rank of a distributed one, which writes and
    prints only if ``writer``)."""
    from vaekit import api
    from vaekit.evaluation import format_report
    from vaekit.evaluation.report import weights_label
    from vaekit.runtime.errors import VaekitError

    vae = api.load(run_dir, which=which, device=device)
    if vae.config.table is not None:
        if split not in (None, "test"):
            raise ConfigError("a table run is judged on its held-out rows; leave out --split (or pass --data FILE)")
        ignored = [flag for flag, given in (("--batch-size", batch_size), ("--max-chunk-elements", max_chunk_elements),
                                            ("--no-probe", no_probe), ("--fast off", fast == "off")) if given]  # fmt: skip
        if ignored:
            verb, pronoun = ("applies", "it") if len(ignored) == 1 else ("apply", "them")
            raise ConfigError(
                f"{', '.join(ignored)} {verb} to image and array runs only; leave {pronoun} out: "
                "a table run's report takes --k, --seed, --target and --synthetic-rows"
            )
        if writer:  # a table's report is not split over processes: rank 0 makes it alone
            _evaluate_table(vae, data, k, seed, target, synthetic_rows, as_json)
        return
    if target is not None or synthetic_rows is not None:
        raise ConfigError("--target and --synthetic-rows apply to runs trained on a table")
    report = api.evaluate(
        vae,
        data=data,
        split=split,
        k=k,
        seed=seed,
        batch_size=batch_size,
        max_chunk_elements=max_chunk_elements,
        probe=not no_probe,
        progress=progress_mode(quiet),
        fast=fast,
    )
    if not writer:
        return  # rank 0 of a distributed evaluation writes and prints the report
    try:
        saved = f"wrote {api.save_evaluation(vae, report, own_data=data is None)}"
    except (OSError, VaekitError) as exc:  # a read-only or busy run folder: print all the same
        saved = f"warning: the report was not saved: {exc}"
    report = api.evaluation_record(vae, report)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        if saved.startswith("warning:"):
            click.echo(saved, err=True)
        return
    scope = "every example" if report["split"] == "all" else report["split"]
    title = f"{run_dir} ({weights_label(report)}) on {report['data']} {scope}, {report['likelihood']} likelihood"
    click.echo(format_report(report, title))
    click.echo(saved, err=True)


def _evaluate_table(
    vae: Any, data: str | None, k: int | None, seed: int, target: str | None, rows: int | None, as_json: bool
) -> None:
    from vaekit import tables
    from vaekit.runtime.errors import VaekitError
    from vaekit.viz.table_report import format_table_report, write_table_pictures

    result = tables.evaluate_table(
        vae, data=data, n=rows, k=tables.TABLE_EVAL_K if k is None else k, target=target, seed=seed
    )
    try:
        written = tables.save_table_evaluation(vae, result, own_data=data is None)
        written += write_table_pictures(vae.run_dir, result, own_data=data is None)
        saved = "wrote " + ", ".join(str(p) for p in written)
    except (OSError, VaekitError) as exc:  # a read-only or busy run folder: print all the same
        saved = f"warning: the report was not saved: {exc}"
    click.echo(json.dumps(result.report, indent=2) if as_json else format_table_report(result.report))
    click.echo(saved, err=True)


def _default_output(run_dir: str, stem: str, vae: Any) -> Path:
    return Path(run_dir) / f"{stem}.{'png' if vae.is_image else 'csv'}"


#: ``--out -``: a table goes to standard output as CSV, so it can be piped
STDOUT = "-"


def _table_destination(out: str | Path, what: str) -> Path | None:
    """Return the file a table goes to (checked by suffix before any work), or None for standard
    output (``--out -``)."""
    from vaekit import tables

    return None if str(out) == STDOUT else tables.table_path(out, what)


def _write_table(frame: Any, path: Path | None) -> str:
    """Write ``frame`` to ``path`` atomically, or as CSV to standard output when ``path`` is None;
    return where it went, for the message (which then goes to standard error)."""
    from vaekit import tables

    if path is None:
        click.get_text_stream("stdout").write(frame.to_csv(index=False))
        return "standard output"
    return str(tables.write_table(frame, path))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Number of samples (rows).")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the prior's std.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--label", type=int, help="Class to condition on (conditional models; default: classes in turn).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True),
    help=".png, .npy or .csv; tables: .csv, .tsv or .parquet, or - for CSV on standard output "
    "(default: RUN_DIR/samples.png or .csv).",
)
@click.option(
    "--where",
    help="Tables: fix columns, e.g. species=Gentoo,sex=female (exact on --condition-on columns, else by rejection).",
)
@click.option(
    "--min-acceptance",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.01,
    show_default=True,
    help="Tables: the smallest share of draws that may meet a rejection-sampled --where.",
)
@click.option("--no-clip", is_flag=True, help="Tables: let numbers leave the range seen in training.")
@click.option(
    "--complete", is_flag=True, help="Tables: no missing cells (by default they go missing as the model learned)."
)
@user_errors
def sample(
    run_dir: str,
    n: int,
    temperature: float,
    seed: int,
    label: int | None,
    out: str | None,
    where: str | None,
    min_acceptance: float,
    no_clip: bool,
    complete: bool,
) -> None:
    """Draw samples from the prior and decode them (a table run writes synthetic rows)."""
    import torch

    from vaekit import api
    from vaekit.viz.examples import write_examples

    vae = api.load(run_dir)
    if vae.config.table is not None:
        _sample_table(vae, run_dir, n, temperature, seed, label, out, where, min_acceptance, not no_clip, complete)
        return
    if where is not None or no_clip or complete:
        raise ConfigError("--where, --no-clip and --complete apply to runs trained on a table")
    if out == STDOUT:
        raise ConfigError("--out - writes a table run's rows to standard output; name a .png, .npy or .csv file for samples of this run")
    torch.manual_seed(seed)
    xs = vae.sample(n, temperature=temperature, labels=label).cpu().numpy().reshape(n, -1)
    path = Path(out) if out else _default_output(run_dir, "samples", vae)
    write_examples(path, xs, vae.input_shape)
    click.echo(f"wrote {counted(n, 'sample')} to {path}")


def _sample_table(
    vae: Any,
    run_dir: str,
    n: int,
    temperature: float,
    seed: int,
    label: int | None,
    out: str | None,
    where: str | None,
    min_acceptance: float,
    clip: bool,
    complete: bool,
) -> None:
    from vaekit import tables

    if label is not None:
        raise ConfigError("a table run is conditioned by column values: use --where COLUMN=VALUE, not --label")
    path = _table_destination(out if out else Path(run_dir) / "samples.csv", "synthetic rows")
    result = tables.sample_table(
        vae,
        n,
        where=where,
        seed=seed,
        temperature=temperature,
        clip=clip,
        min_acceptance=min_acceptance,
        missing=not complete,
    )
    where_to = _write_table(result.frame, path)
    if result.acceptance is not None:
        click.echo(f"rejection sampling: {result.acceptance:.1%} of {result.draws:,} draws met --where", err=True)
    click.echo(f"wrote {counted(n, 'synthetic row')} to {where_to}", err=path is None)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Data to reconstruct (default: the run's own).", per_example=True)
@click.option("-n", "n", type=click.IntRange(min=1), default=32, show_default=True, help="Number of examples (at most).")
@click.option("--out", type=click.Path(dir_okay=False), help=".png (originals above reconstructions), .npy or .csv.")
@user_errors
def reconstruct(run_dir: str, data: str | None, split: str | None, n: int, out: str | None) -> None:
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
    if vae.config.table is not None:
        _write_table_rows(vae, recon, labels, path)
    elif path.suffix.lower() == ".png":
        rows = interleave_rows(x.numpy(), recon, ncol=8)
        write_examples(path, rows, vae.input_shape, ncol=8)
    else:
        write_examples(path, recon, vae.input_shape)
    click.echo(f"wrote {counted(len(x), 'reconstruction')} to {path}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Data to encode (default: the run's own).", per_example=True)
@click.option("--sample", "draw", is_flag=True, help="Draw z from q(z|x) instead of the posterior mean.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="latents.npy or .csv")
@user_errors
def encode(run_dir: str, data: str | None, split: str | None, draw: bool, out: str) -> None:
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
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="Table with missing cells (.csv/.tsv/.parquet).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Completed table: .csv, .tsv or .parquet, or - for CSV on standard output.",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Imputations per missing cell; more than 1 writes them one after another with an 'imputation' column (1..N).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@user_errors
def impute(run_dir: str, data: str, out: str, draws: int, seed: int) -> None:
    """Fill the missing cells of a table from the model; observed cells stay as they are."""
    import pandas as pd

    from vaekit import api, tables

    vae = api.load(run_dir)
    refuse_writing_over_the_input(out, data)
    path = _table_destination(out, "a completed table")
    rows = tables.read_rows(data)
    completed = tables.impute_table(vae, rows, draws=draws, seed=seed)
    modelled = [c.name for c in tables.codec_of(vae).schema.columns if c.kind != "ignore"]
    missing = int(rows[[c for c in modelled if c in rows.columns]].isna().to_numpy().sum())
    if draws == 1:
        frame = completed[0]
    else:
        frame = pd.concat([c.assign(imputation=i + 1) for i, c in enumerate(completed)], ignore_index=True)
        frame = frame[["imputation", *completed[0].columns]]
    where_to = _write_table(frame, path)
    click.echo(
        f"wrote {counted(len(frame), 'row')} ({counted(missing, 'missing cell')} filled in {counted(len(rows), 'row')}"
        + (f", {draws} times: the column 'imputation' numbers each completed table" if draws > 1 else "")
        + f") to {where_to}",
        err=path is None,
    )


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--latents", type=click.Path(dir_okay=False), required=True, help="Latent codes, .npy or .csv [N, L].")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help=".png, .npy or .csv")
@click.option("--label", type=int, help="Class to decode under (conditional models).")
@user_errors
def decode(run_dir: str, latents: str, out: str, label: int | None) -> None:
    """Decode latent codes to examples (the likelihood's mean)."""
    from vaekit import api
    from vaekit.data.latents import read_latents
    from vaekit.viz.examples import write_examples

    vae = api.load(run_dir)
    z = read_latents(latents)
    x = vae.decode(z, labels=label).cpu().numpy().reshape(len(z), -1)
    if vae.config.table is not None:
        _write_table_rows(vae, x, None if label is None else [label] * len(x), Path(out))
    else:
        write_examples(Path(out), x, vae.input_shape)
    click.echo(f"wrote {counted(len(x), 'decoded example')} to {out}")


def _write_table_rows(vae: Any, slots: Any, labels: Any, path: Path) -> None:
    """Write the likelihood means of a table run as rows of its table (most likely category,
    mean number) to a .csv/.tsv/.parquet file."""
    from vaekit import tables

    tables.table_path(path, "a table run's rows")
    labels = None if labels is None else [int(label) for label in labels]
    tables.write_table(tables.codec_of(vae).decode(slots, labels=labels), path)


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
        click.echo(f"{key:<{width}}  {', '.join(value) if key in ('files', 'condition_on') else value}")
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
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True, help="Which weights.")
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
@click.option("--which", type=click.Choice(["last", "best"]), default="last", show_default=True)
@split_option
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=1),
    help="samples: number (64; per class for a conditional model without --label: 8); recon: examples (32); "
    "anomalies: examples shown (8).",
)
@click.option("--data", "data", help="anomalies: the data to rank (.npy/.npz, a table, a dataset; default: the run's split).")
@click.option("--score", "score", type=click.Choice(["nll", "elbo", "recon"]), help="anomalies: the score (nll).")
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
    "(5000; e.g. 100 for a quick look; 0 skips the NLL); anomalies: posterior draws of the score (100 for nll).",
)
@click.option(
    "--label",
    type=int,
    help="Conditional models: samples/manifold: the class to decode under (default: every class); "
    "interp/traverse: the label of the example(s) (default: their labels in the split; needed for a file).",
)
@user_errors
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
@click.option(
    "--format", "fmt", type=click.Choice(["svg", "tikz", "typst"]), default=None,
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
    from vaekit.runtime.errors import ConfigError
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


# Defined in its own module (it is the longest command); registered here like the others.
from vaekit.cli.score import score as _score_command  # noqa: E402

main.add_command(_score_command, "score")
