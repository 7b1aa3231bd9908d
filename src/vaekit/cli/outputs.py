"""The commands that write examples of a run to a file: ``sample``, ``reconstruct``, ``encode``,
``decode`` and ``impute`` (pictures, arrays or, for a table run, rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vaekit.cli.options import counted, data_options, refuse_writing_over_inputs, user_errors
from vaekit.runtime.errors import ConfigError


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


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Number of samples (rows).")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Scale of the prior's std.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--label", help="Class to condition on, by number or by an image folder's class name (conditional models; default: classes in turn).")
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
    label: str | None,
    out: str | None,
    where: str | None,
    min_acceptance: float,
    no_clip: bool,
    complete: bool,
) -> None:
    """Draw latent codes from the prior and decode each to the likelihood's mean (images: expected grey
    levels in [0, 1], as `decode` gives them); a table run writes synthetic rows."""
    import torch

    from vaekit import api
    from vaekit.viz.examples import write_examples

    # Before the run is loaded, and for both the image and the table path (`_sample_table`).
    refuse_writing_over_inputs(out, run_dir=run_dir)
    vae = api.load(run_dir)
    if vae.config.table is not None:
        _sample_table(vae, run_dir, n, temperature, seed, label, out, where, min_acceptance, not no_clip, complete)
        return
    if where is not None or no_clip or complete:
        raise ConfigError("--where, --no-clip and --complete apply to runs trained on a table")
    if out == STDOUT:
        raise ConfigError("--out - writes a table run's rows to standard output; name a .png, .npy or .csv file for samples of this run")
    torch.manual_seed(seed)
    from vaekit.data.classes import class_number

    # A model that takes no labels refuses them by its own message, names or numbers.
    number = class_number(label, vae.config.class_names) if label is not None and vae.conditional else label
    xs = vae.sample(n, temperature=temperature, labels=number).cpu().numpy().reshape(n, -1)
    path = Path(out) if out else _default_output(run_dir, "samples", vae)
    write_examples(path, xs, vae.input_shape)
    click.echo(f"wrote {counted(n, 'sample')} to {path}")


def _sample_table(
    vae: Any,
    run_dir: str,
    n: int,
    temperature: float,
    seed: int,
    label: str | None,
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


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Data to reconstruct (default: the run's own).", per_example=True)
@click.option("-n", "n", type=click.IntRange(min=1), default=32, show_default=True, help="Number of examples (at most).")
@click.option("--out", type=click.Path(dir_okay=False), help=".png (originals above reconstructions), .npy or .csv.")
@user_errors
def reconstruct(run_dir: str, data: str | None, split: str | None, n: int, out: str | None) -> None:
    """Reconstruct examples through the posterior means."""
    from vaekit import api
    from vaekit.viz.examples import write_examples
    from vaekit.viz.reconstructions import save_reconstruction_grid

    refuse_writing_over_inputs(out, {"--data": data}, run_dir)
    vae = api.load(run_dir)
    x, labels = api.resolve_eval_data(vae, data, split)
    x = x[:n]
    labels = labels[:n] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    path = Path(out) if out else _default_output(run_dir, "reconstructions", vae)
    if vae.config.table is not None:
        _write_table_rows(vae, recon, labels, path)
    elif path.suffix.lower() == ".png" and len(vae.input_shape) == 3:
        save_reconstruction_grid(path, x.numpy().reshape(len(x), -1), recon, vae.input_shape)
    else:
        write_examples(path, recon, vae.input_shape)
    click.echo(f"wrote {counted(len(x), 'reconstruction')} to {path}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Data to encode (default: the run's own).", per_example=True)
@click.option("--sample", "draw", is_flag=True, help="Draw z from q(z|x) instead of the posterior mean.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="latents.npy or .csv")
@user_errors
def encode(run_dir: str, data: str | None, split: str | None, draw: bool, out: str) -> None:
    """Encode examples to latent codes (posterior means by default)."""
    from vaekit import api
    from vaekit.viz.examples import write_examples

    refuse_writing_over_inputs(out, {"--data": data}, run_dir)
    vae = api.load(run_dir)
    x, labels = api.resolve_eval_data(vae, data, split)
    z = vae.encode(x, sample=draw, labels=labels if vae.conditional else None).cpu().numpy()
    write_examples(Path(out), z)
    click.echo(f"wrote {z.shape[0]} x {z.shape[1]} latent codes to {out}")


@click.command()
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

    refuse_writing_over_inputs(out, {"--data": data}, run_dir)
    vae = api.load(run_dir)
    path = _table_destination(out, "a completed table")
    rows = tables.read_rows(data)
    completed = tables.impute_table(vae, rows, draws=draws, seed=seed)
    modelled = [c.name for c in tables.codec_of(vae).schema.columns if c.kind != "ignore"]
    gaps = rows[[c for c in modelled if c in rows.columns]].isna().to_numpy()
    if draws == 1:
        frame = completed[0]
    else:
        frame = pd.concat([c.assign(imputation=i + 1) for i, c in enumerate(completed)], ignore_index=True)
        frame = frame[["imputation", *completed[0].columns]]
    where_to = _write_table(frame, path)
    click.echo(
        f"wrote {counted(len(frame), 'row')} ({_filled(gaps)}"
        + (f", {draws} times: the column 'imputation' numbers each completed table" if draws > 1 else "")
        + f") to {where_to}",
        err=path is None,
    )


def _filled(gaps: Any) -> str:
    """Return what ``vaekit impute`` filled, from the bool mask ``[rows, columns]`` of missing
    modelled cells: ``3 missing cells filled, in 2 rows`` or ``no missing cells to fill``."""
    # The rows with a gap, not all rows read: "filled in 39 rows" read as if 39 rows had gaps.
    cells, rows = int(gaps.sum()), int(gaps.any(axis=1).sum())
    if not cells:
        return "no missing cells to fill"
    return f"{counted(cells, 'missing cell')} filled, in {counted(rows, 'row')}"


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--latents", type=click.Path(dir_okay=False), required=True, help="Latent codes, .npy or .csv [N, L].")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help=".png, .npy or .csv")
@click.option("--label", help="Class to decode under, by number or by an image folder's class name (conditional models).")
@user_errors
def decode(run_dir: str, latents: str, out: str, label: str | None) -> None:
    """Decode latent codes to examples (the likelihood's mean)."""
    from vaekit import api
    from vaekit.data.latents import read_latents
    from vaekit.viz.examples import write_examples

    refuse_writing_over_inputs(out, {"--latents": latents}, run_dir)
    vae = api.load(run_dir)
    from vaekit.data.classes import class_number

    # A model that takes no labels refuses them by its own message, names or numbers.
    number = class_number(label, vae.config.class_names) if label is not None and vae.conditional else label
    z = read_latents(latents)
    x = vae.decode(z, labels=number).cpu().numpy().reshape(len(z), -1)
    if vae.config.table is not None:
        _write_table_rows(vae, x, None if number is None else [number] * len(x), Path(out))
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
