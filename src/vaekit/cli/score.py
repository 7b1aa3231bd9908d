"""``vaekit score``: anomaly scores of a run on data, written as they are computed, with a
stored threshold (``--calibrate``) and label metrics (``--labels``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from vaekit.cli.launch import launch, launch_options, wants_launch
from vaekit.cli.options import Choice, Command, counted, refuse_writing_over_inputs, user_errors
from vaekit.runtime.errors import ConfigError, DataError


@click.command(cls=Command)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--data", required=True, help="Data to score: a table (.csv/.tsv/.parquet) for a table run; .npy/.npz, a dataset name or folder otherwise.")
@click.option("--split", type=Choice(["train", "val", "test"]), default="test", show_default=True, help="Dataset names and IDX folders: the split scored (files and image folders are scored whole).")
@click.option("--score", "kind", type=Choice(["nll", "elbo", "recon"]), default="nll", show_default=True, help="nll: -IW bound (K samples); elbo: -ELBO (mean of K draws); recon: -log p(x|z) at the posterior mean.")
@click.option("--k", "k", type=click.IntRange(min=1), help="Posterior draws: importance samples for nll (100), ELBO draws for elbo (10).")
@click.option("--out", type=click.Path(dir_okay=False), help="scores.csv, .tsv, .parquet or .npy (required unless --calibrate).")
@click.option("--calibrate", is_flag=True, help="Choose a threshold on this (reference) data and store it in RUN_DIR/calibration.json.")
@click.option("--contamination", type=float, help="With --calibrate: the share of anomalies in the reference data, in (0, 0.5].")
@click.option("--fpr", type=float, help="With --calibrate: the reference data are clean; the share of them to flag, in (0, 0.5].")
@click.option("--no-threshold", is_flag=True, help="Ignore the stored threshold (no flag or p-value columns).")
@click.option("--labels", "labels", help="Known anomalies: a column of the table, or a file (.npy/.csv/.txt) with one 0/1 per example; adds AUROC, AUPRC and precision at the true count.")
@click.option("--id-column", help="Tables: the column that names each row (default: the first column the schema ignores, else the row's position).")
@click.option("--explain", is_flag=True, help="Tables: one contribution column per column (nats); images: per-pixel maps in OUT-maps.npy.")
@click.option("--background", type=click.Path(file_okay=False), help="Images/arrays: another run (e.g. a much smaller VAE); scores become this run's minus its (a log-likelihood ratio), see docs/scores.md.")
@click.option("--which", type=Choice(["last", "best"]), default="last", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--chunk-rows", type=click.IntRange(min=1), default=10_000, show_default=True, help="Examples read and scored at a time (memory stays bounded).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@launch_options
@user_errors
def score(
    run_dir: str, data: str, split: str, kind: str, k: int | None, out: str | None, calibrate: bool,
    contamination: float | None, fpr: float | None, no_threshold: bool, labels: str | None, id_column: str | None,
    explain: bool, background: str | None, which: str, seed: int, chunk_rows: int, device: str, as_json: bool, quiet: bool,
    nproc: int | None, nnodes: int, rdzv_endpoint: str | None, rdzv_id: str, rdzv_timeout: int,
) -> None:  # fmt: skip
    """Score examples: one row each with its anomaly score (nats; higher is more unusual).

    With a threshold stored by --calibrate, each row also gets a flag (1 above it) and an
    empirical p-value (the share of reference examples scoring at least as high). With
    --nproc N the examples are split over N processes, with the same scores as one."""
    if wants_launch(nproc):
        launch(nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, rdzv_timeout=rdzv_timeout,
               device=device)  # fmt: skip
        return
    from vaekit.runtime import distributed
    from vaekit.runtime.device import resolve_device

    target = resolve_device(distributed.device_for_rank(device))
    with distributed.joined(target) as world:
        _score(
            run_dir, data, split, kind, k, out, calibrate, contamination, fpr, no_threshold, labels, id_column,
            explain, background, which, seed, chunk_rows, target, as_json, quiet or not world.writer, world.writer,
        )  # fmt: skip


def _score(
    run_dir: str, data: str, split: str, kind: str, k: int | None, out: str | None, calibrate: bool,
    contamination: float | None, fpr: float | None, no_threshold: bool, labels: str | None, id_column: str | None,
    explain: bool, background: str | None, which: str, seed: int, chunk_rows: int, device: Any, as_json: bool,
    quiet: bool, writer: bool,
) -> None:  # fmt: skip
    """``vaekit score`` in this process: one rank of a distributed scoring writes files and
    prints only if ``writer``."""
    import numpy as np

    from vaekit import api, scoring
    from vaekit.detector import scoring_data
    from vaekit.evaluation.calibration import check_rate
    from vaekit.evaluation.scores import check_score_kind

    if calibrate:
        check_rate(contamination, fpr)
    elif contamination is not None or fpr is not None:
        raise ConfigError("--contamination and --fpr choose a threshold: add --calibrate (and give reference data)")
    elif out is None:
        raise ConfigError("--out FILE is required (scores.csv, .tsv, .parquet or .npy), unless you --calibrate")
    refuse_writing_over_inputs(out, {"--data": data, "--labels": labels}, run_dir)
    writer_path = scoring.score_path(out) if out is not None else None
    vae = api.load(run_dir, which=which, device=device)
    k = check_score_kind(vae.model, kind, k)
    background_vae = None
    if background is not None:
        background_vae = api.load(background, device=vae.device)
        scoring.check_background(vae, background_vae, kind, k)
    table = vae.config.table is not None
    if explain and writer_path is not None and writer_path.suffix.lower() == ".npy" and table:
        raise ConfigError("--explain adds columns to the scores: write them to .csv, .tsv or .parquet")
    threshold = None
    if not calibrate and not no_threshold:
        threshold = scoring.run_calibration(vae)
        if threshold is not None:
            threshold.check_matches(kind, k, which, background, vae.weights_step)

    label_column, label_file = _label_source(labels, data, table)
    source = scoring.score_source(
        vae, scoring_data(vae, data, split), id_column=id_column, label_column=label_column,
        chunk_rows=chunk_rows,
    )  # fmt: skip
    if not writer:
        writer_path = None  # rank 0 writes the scores; the others only score their share
    note = _note(vae, kind)
    if note and not as_json and writer:
        click.echo(f"note: {note}", err=True)
    started = time.perf_counter()
    truth_file = None if label_file is None else _read_label_file(label_file)
    checked: dict[str, Any] = {}

    def check(scores: Any, column_labels: Any, infinite: str | None) -> None:
        """Choose the threshold and compare with the labels before any file is moved into
        place, so that bad labels or a too-small reference set leave nothing behind
        (``infinite`` names the examples that scored inf, for the refusal of a reference set)."""
        if not len(scores):
            raise DataError(f"{data} holds no examples to score")
        if calibrate:
            from vaekit.detector import calibrate_scores

            checked["calibration"] = calibrate_scores(
                vae, scores, data=str(data), kind=kind, k=k, contamination=contamination, fpr=fpr,
                background=background, save=False, infinite=infinite,
            )  # fmt: skip
        truth = column_labels if truth_file is None else truth_file
        if truth is not None:
            from vaekit.evaluation.anomaly_metrics import anomaly_metrics

            checked["labels"] = anomaly_metrics(scores, truth)

    summary = _score_all(vae, source, kind, k, seed, explain, writer_path, threshold, quiet, background_vae, check)
    if not writer:
        return
    seconds = time.perf_counter() - started
    scores = summary["scores"]
    finite = scores[np.isfinite(scores)]
    record: dict[str, Any] = {
        "run_dir": str(run_dir), "weights": which, "data": str(data), "score": kind, "k": k, "background": background,
        "n": len(scores),
        "seconds": round(seconds, 3), "examples_per_s": round(len(scores) / seconds, 1) if seconds > 0 else None,
        # the mean of the finite scores: one inf would make the mean inf (and the JSON invalid)
        "mean": float(np.mean(finite)) if len(finite) else None,
        "median": float(np.median(scores)) if len(scores) else None,
        "infinite_scores": int(np.isposinf(scores).sum()), "infinite_examples": summary["infinite"],
    }  # fmt: skip
    if writer_path is not None:
        record["out"] = str(writer_path)
    if summary["maps"] is not None:
        record["maps"] = str(summary["maps"])
    if calibrate:
        from vaekit.evaluation.calibration import save_calibration

        calibration = threshold = checked["calibration"]
        save_calibration(run_dir, calibration)
        record["calibration"] = {"threshold": calibration.threshold, "rule": calibration.rule, "rate": calibration.rate}
    if threshold is not None:
        record["flagged"] = int(threshold.flags(scores).sum())
        record["threshold"] = threshold.threshold
    if "labels" in checked:
        record["labels"] = checked["labels"]
    _report(record, threshold if calibrate else None, as_json)


def _label_source(labels: str | None, data: str, table: bool) -> tuple[str | None, Path | None]:
    """Return ``(column, file)`` for ``--labels``: a file when one exists at that path, else a
    table column."""
    if labels is None:
        return None, None
    path = Path(labels)
    if path.is_file():
        return None, path
    if not table:
        raise DataError(f"--labels {labels}: no such file; give a .npy, .csv or .txt file with one 0/1 per example")
    return labels, None


def _read_label_file(path: Path) -> Any:
    """Return the labels stored in ``path``: a .npy array, or text with one label per line
    (a one-column CSV with or without a header)."""
    import numpy as np

    if path.suffix.lower() == ".npy":
        from vaekit.data.arrays import load_npy

        return load_npy(path).reshape(-1)
    words = ("true", "false", "yes", "no", "anomaly", "normal", "outlier", "inlier")
    lines = [line.strip().split(",")[0].strip() for line in path.read_text().splitlines() if line.strip()]
    if lines and not _is_number(lines[0]) and lines[0].lower() not in words:
        lines = lines[1:]  # a header
    if all(_is_number(line) for line in lines):
        return np.asarray([float(line) for line in lines])  # 1, 1.0 and 1.000e+00 alike
    return np.asarray(lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _note(vae: Any, kind: str) -> str | None:
    """Return a note when the run's likelihood is not a true likelihood of its data (the
    scores then rank examples but are not negative log-likelihoods)."""
    from vaekit.evaluation import likelihood_is_exact

    cfg = vae.config
    if kind == "recon" or cfg.table is not None:
        return None
    if likelihood_is_exact(vae.model.likelihood, cfg.value_range, cfg.data.dequantize):
        return None
    name = getattr(vae.model.likelihood, "name", "") or type(vae.model.likelihood).__name__
    return (
        f"the {name} likelihood is not a true likelihood of this run's data (docs/likelihoods.md): "
        "the scores rank examples but are not negative log-likelihoods"
    )


def _score_all(
    vae: Any, source: Any, kind: str, k: int | None, seed: int, explain: bool, out: Path | None, threshold: Any, quiet: bool,
    background: Any = None,
    check: Any = None,
) -> dict[str, Any]:
    """Score every chunk of ``source``, writing rows to ``out`` as they come (moved into place
    only when all are written, after ``check(scores, labels, infinite)`` passed); return the
    scores, the maps' path and the examples that scored inf, named (None when none did)."""
    import numpy as np

    from vaekit import scoring
    from vaekit.runtime import atomic
    from vaekit.runtime.progress import work_progress

    bar = work_progress(source.total, "quiet" if quiet else "auto", "scoring", "examples")
    writer = scoring.ScoreWriter(out) if out is not None else None
    maps_path = maps = maps_tmp = None
    if explain and vae.config.table is None and out is not None:
        maps_path = out.with_name(f"{out.stem}-maps.npy")
    all_scores: list[Any] = []
    all_labels: list[Any] = []
    infinite: list[str] = []
    done = 0
    try:
        for part in scoring.iter_scores(vae, source, kind=kind, k=k, seed=seed, explain=explain, background=background,
                                        on_rows=(lambda n: bar.update(n)) if bar is not None else None):  # fmt: skip
            all_scores.append(part.scores)
            infinite.extend(part.infinite[: scoring.INFINITE_SHOWN - len(infinite)])
            if part.labels is not None:
                all_labels.append(part.labels)
            if writer is not None:
                frame = part.frame()
                if threshold is not None:
                    frame.insert(2, "flag", threshold.flags(part.scores))
                    frame.insert(3, "p_value", threshold.p_values(part.scores))
                if maps_path is not None:
                    frame = frame[[c for c in frame.columns if not c.startswith("contribution_pixel_")]]
                    if maps is None:
                        maps, maps_tmp = _open_maps(maps_path, source.total, vae.input_shape)
                    maps[done : done + len(part.scores)] = part.maps().astype(np.float32)
                writer.write(frame)
            done += len(part.scores)
        scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
        count = int(np.isposinf(scores).sum())
        described = scoring.describe_infinite(infinite, count) if count else None
        if check is not None:
            check(scores, np.concatenate(all_labels) if all_labels else None, described)
        if maps is not None:
            maps.flush()
            maps = None
            with atomic.write_errors(maps_path):  # type: ignore[arg-type]
                atomic.fsync_file(maps_tmp)  # type: ignore[arg-type]
        # The slow work is done: the two renames go together, so the scores and the maps in
        # place are of one scoring even when another writes the same --out at the same moment.
        moves = [writer.finish()] if writer is not None else []
        if maps_tmp is not None:
            moves.append((maps_tmp, maps_path))  # type: ignore[arg-type]
        atomic.move_group_into_place(moves)
        maps_tmp = None
    except BaseException:
        if writer is not None:
            writer.abandon()
        if maps_tmp is not None:
            maps_tmp.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return {"scores": scores, "maps": maps_path, "infinite": described}


def _open_maps(path: Path, total: int | None, shape: tuple[int, ...]) -> tuple[Any, Path]:
    """Return a float32 ``.npy`` memory map ``[total, *shape]`` and its file: a temporary of
    ``path`` of this process alone (so two scorings into one ``--out`` never share it), moved
    into place when complete."""
    import os

    import numpy as np

    from vaekit.runtime import atomic

    if total is None:
        raise ConfigError("per-pixel maps need the number of examples up front; score a .npy, .npz or dataset")
    with atomic.write_errors(path):
        fd, tmp = atomic.make_temporary(path)
        os.close(fd)
        try:
            return np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, *shape)), tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _report(record: dict[str, Any], calibration: Any, as_json: bool) -> None:
    """Print the summary of a scoring: ``record`` as JSON with ``as_json``, else as lines."""
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    k = f", K={record['k']}" if record["k"] is not None else ""
    rate = f" ({record['examples_per_s']:g} per s)" if record.get("examples_per_s") else ""
    click.echo(f"scored {counted(record['n'], 'example')} of {record['data']} ({record['score']}{k}) in {record['seconds']:.1f} s{rate}")
    infinite = record.get("infinite_scores", 0)
    if record["n"]:
        mean = "" if record["mean"] is None else f", mean {record['mean']:.3f}"
        of = f" (mean of the {record['n'] - infinite} finite; {infinite} inf)" if infinite and mean else ""
        click.echo(f"score (nats, higher is more unusual): median {record['median']:.3f}{mean}{of}")
    if infinite:
        click.echo(f"{infinite} example(s) scored inf (probability 0 under the model): {record['infinite_examples']}")
    if calibration is not None:
        click.echo(f"stored the threshold in calibration.json: {calibration.describe()}")
    if "flagged" in record:
        click.echo(f"flagged {record['flagged']} of {record['n']} above {record['threshold']:.4f} nats")
    if "labels" in record:
        m = record["labels"]
        click.echo(
            f"against the labels ({m['n_anomalies']} anomalies of {m['n']}): AUROC {m['auroc']:.4f}, "
            f"AUPRC {m['auprc']:.4f}, precision at {m['n_anomalies']} {m['precision_at_n']:.4f}"
        )
    if "out" in record:
        click.echo(f"wrote {record['out']}" + (f" and {record['maps']}" if "maps" in record else ""))
