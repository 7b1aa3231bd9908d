"""``vaekit evaluate``: a run's likelihood report (NLL, ELBO terms, bits per dimension, posterior
diagnostics), or a table run's report on its synthetic rows."""

from __future__ import annotations

import json
from typing import Any

import click

from vaekit.cli.launch import launch, launch_options, wants_launch
from vaekit.cli.options import Choice, Command, data_options, progress_mode, user_errors
from vaekit.runtime.errors import ConfigError


@click.command(cls=Command)
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_options("Evaluate on other data of the same shape (default: the run's own).", per_example=True)
@click.option("--which", type=Choice(["last", "best"]), default="last", show_default=True)
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
    type=Choice(["auto", "off"]),
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
