"""One self-contained HTML page per run: config, metrics, curves, every picture and the diagram.

Images are inlined as base64 data (PNG, and the diagram as SVG), so the page has no external
references and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaekit.runtime.errors import ConfigError, VaekitError


@dataclass
class Picture:
    """One section of the report: a picture as PNG or SVG bytes, or the reason it is absent."""

    kind: str
    title: str
    data: bytes | None = None
    mime: str = "image/png"
    note: str = ""


def draw_pictures(vae: Any, x: Any, labels: Any, records: list[dict[str, Any]] | None, seed: int = 0) -> list[Picture]:
    """Return every picture of a run in report order. A picture that does not apply (e.g. images
    of a table, the manifold of a latent space that is not 2-D) carries the reason instead."""
    from vaekit.viz.curves import has_layer_kl, layer_kl_curves, training_curves
    from vaekit.viz.diagram import architecture_from_config, diagram_source
    from vaekit.viz.figure import picture_png
    from vaekit.viz.interpolation import default_pair, interpolation_figure
    from vaekit.viz.latents import latent_scatter
    from vaekit.viz.manifold import manifold_grid
    from vaekit.viz.reconstructions import reconstruction_grid
    from vaekit.viz.samples import layer_sample_figure, sample_grid
    from vaekit.viz.traversal import traversal_figure

    a, b = default_pair(labels, len(x))
    # A conditional model draws every picture under the examples' own labels, its samples one row
    # per class and its manifold one grid per class.
    cond = getattr(vae, "conditional", False) and labels is not None
    pair = [int(labels[a]), int(labels[b])] if cond else None
    samples_title = "Samples from the prior, one row per class (named at the left)" if cond else "Samples from the prior"
    makers: list[tuple[str, str, Callable[[], Any]]] = [
        ("curves", "Training curves", lambda: training_curves(records or [], vae)),
        ("samples", samples_title, lambda: sample_grid(vae, None if cond else 64, seed=seed, row_labels=True)),
    ]
    # A model with stochastic layers also shows each layer's KL and what each layer adds to a sample.
    if records and has_layer_kl(records):
        makers.insert(1, ("kl-layers", "KL of each stochastic layer", lambda: layer_kl_curves(records)))
    if hasattr(vae.model.prior, "sample_layers"):
        makers.append(("layers", "Samples layer by layer (top row: the top layer alone)", lambda: layer_sample_figure(vae, seed=seed)))
    makers += [
        (
            "recon",
            "Test examples, each row above the row of their reconstructions (labelled at the left)",
            lambda: reconstruction_grid(vae, x, labels=labels, row_labels=True),
        ),
        (
            "interp",
            f"Interpolation from test example {a} to test example {b}",
            lambda: interpolation_figure(vae, x[a], x[b], labels=pair, names=(f"test example {a}", f"test example {b}")),
        ),
        (
            "traverse",
            "Latent traversals around test example 0",
            lambda: traversal_figure(vae, x[0], x, label=int(labels[0]) if cond else None, labels=labels),
        ),
        ("latents", "Latent space of the test split", lambda: latent_scatter(vae, x, labels, seed=seed)),
        ("manifold", "Decoded 2-D latent manifold (prior quantiles)", lambda: manifold_grid(vae)),
    ]
    pictures = []
    for kind, title, make in makers:
        if kind == "curves" and not records:
            pictures.append(Picture(kind, title, note="no metrics.jsonl records"))
            continue
        try:
            pictures.append(Picture(kind, title, picture_png(make())))
        except VaekitError as exc:
            pictures.append(Picture(kind, title, note=str(exc)))
    svg = diagram_source(architecture_from_config(vae.config), "svg").encode()
    pictures.append(Picture("diagram", "Architecture", svg, "image/svg+xml"))
    return pictures


def evaluation_heading(source: str, report: dict[str, Any]) -> str:
    """Return one line saying what an evaluation is: where it comes from (``source``: its file,
    or that it was computed for the report), the data and split, the weights and the likelihood."""
    from vaekit.evaluation.report import weights_label

    parts = []
    data = " ".join(str(report[k]) for k in ("data", "split") if report.get(k))
    if data:
        parts.append(f"{data} split" if report.get("split") else data)
    if report.get("weights"):
        parts.append(weights_label(report))
    if report.get("likelihood"):
        parts.append(f"{report['likelihood']} likelihood")
    return f"{source}: {', '.join(parts)}" if parts else source


def metrics_table(report: dict[str, Any]) -> str:
    """Return one evaluation as an HTML table of labelled values with their units, the rows
    and notes that ``vaekit evaluate`` prints (``vaekit.evaluation.report_rows``), or a note
    saying the file is not a complete evaluation."""
    from vaekit.evaluation.report import report_notes, report_rows

    try:
        rows, notes = report_rows(report), report_notes(report)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        missing = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        return f"<p class='note'>not a complete vaekit evaluation ({html.escape(missing)}); see its JSON file</p>"
    body = "".join(
        f"<tr><th>{html.escape(label)}</th><td style='text-align:left'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    table = f"<table class='metrics'>{body}</table>"
    return table + "".join(f"<p class='note'>{html.escape(note)}</p>" for note in notes)


def metrics_section(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """Return the HTML of the metrics: one labelled table per evaluation (``metrics`` maps a
    source, e.g. a file name, to its report)."""
    parts = []
    for source, report in metrics.items():
        parts.append(f"<h3>{html.escape(evaluation_heading(source, report))}</h3>")
        parts.append(metrics_table(report))
    return parts


#: Pictures that are plain image grids: shown with sharp pixels when the browser scales them.
PIXEL_PICTURES = ("samples", "recon", "manifold")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.4rem; } table.metrics th { white-space: nowrap; }
table { border-collapse: collapse; font-size: 0.9rem; } th, td { padding: 0.2rem 0.6rem; border: 1px solid #ddd; }
th { text-align: left; background: #f6f6f6; } td { font-variant-numeric: tabular-nums; text-align: right; }
img { max-width: 100%; } img.pixels { image-rendering: pixelated; width: min(100%, 30rem); }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
.note { color: #777; font-style: italic; }
"""


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_report(
    title: str,
    info: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    pictures: list[Picture],
) -> str:
    """Return the report as one HTML document (a string) with every image inlined."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<table>",
        *[
            f"<tr><th>{html.escape(str(k))}</th><td style='text-align:left'>{html.escape(_cell(v))}</td></tr>"
            for k, v in info.items()
        ],
        "</table>",
        "<h2>Metrics</h2>",
        "<p class='note'>nats per example (summed over the dimensions, averaged over the examples); "
        "bits/dim = nats / (D ln 2)</p>",
        *(metrics_section(metrics) or ["<p class='note'>no evaluation</p>"]),
    ]
    for picture in pictures:
        parts.append(f'<h2 id="{picture.kind}">{html.escape(picture.title)}</h2>')
        if picture.data is None:
            parts.append(f"<p class='note'>not drawn: {html.escape(picture.note)}</p>")
            continue
        encoded = base64.b64encode(picture.data).decode("ascii")
        css = "pixels" if picture.kind in PIXEL_PICTURES else "drawing"
        parts.append(
            f'<img class="{css}" alt="{html.escape(picture.title)}" src="data:{picture.mime};base64,{encoded}">'
        )
    parts += [
        "<h2>Config</h2>",
        f"<pre>{html.escape(json.dumps(config, indent=2), quote=False)}</pre>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def read_evaluations(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Return the evaluations saved in ``run_dir`` as ``eval-*.json`` (by file stem, in name
    order but the largest K first among one split's, the tightest bound above a quick look);
    unreadable files are skipped."""
    import re

    def order(path: Path) -> tuple[str, int]:
        k = re.search(r"-k(\d+)$", path.stem)
        return (path.stem[: k.start()] if k else path.stem, -int(k.group(1)) if k else 0)

    found = {}
    for path in sorted(run_dir.glob("eval-*.json"), key=order):
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(report, dict):
            found[path.stem] = report
    return found


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    which: str = "last",
    seed: int = 0,
    *,
    k: int | None = None,
    progress: str = "auto",
) -> Path:
    """Write the run's report (default ``RUN_DIR/report.html``) and return its path.

    The metrics are the run's saved evaluations (``eval-*.json``). When there are none, the test
    split is evaluated for the report, saying so on stderr first (unless ``progress="quiet"``),
    with ``k`` importance samples for the NLL (default 5000 where the likelihood is exact for the
    data; a small ``k`` such as 100 is much faster; ``0`` skips the NLL) and a progress display
    (``"auto"``: a bar on a terminal, plain lines otherwise); that evaluation is saved in the run
    folder as ``vaekit evaluate`` saves it, so the next report reuses it. ``k`` is not used when
    there are saved evaluations."""
    from vaekit import api
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.summary import run_info
    from vaekit.viz.curves import read_metrics

    run_dir = Path(run_dir)
    vae = api.load(run_dir, which=which)
    x, labels = api.resolve_eval_data(vae, None, "test")
    metrics = {f"{name}.json": report for name, report in read_evaluations(run_dir).items()}
    if metrics and k is not None:
        _say(progress, f"k={k} not used: the report shows the saved evaluations ({', '.join(metrics)})")
    if not metrics:
        metrics = {"computed for this report": _evaluate_for_report(vae, run_dir, k, progress)}
    try:
        records = read_metrics(run_dir)
    except VaekitError:
        records = []
    info = run_info(run_dir)
    info.pop("files", None)
    info["weights"] = which
    pictures = draw_pictures(vae, x, labels, records, seed)
    title = f"vaekit run {run_dir.name}: {vae.config.model.name} on {vae.config.data.name}"
    path = Path(out) if out is not None else run_dir / "report.html"
    atomic_write_text(path, render_report(title, info, vae.config.to_dict(), metrics, pictures))
    return path


def _say(progress: str, text: str) -> None:
    """Print one line about what the report is doing on stderr, unless ``progress="quiet"``."""
    if progress != "quiet":
        import sys

        print(text, file=sys.stderr, flush=True)


def _evaluate_for_report(vae: Any, run_dir: Path, k: int | None, progress: str) -> dict[str, Any]:
    """Evaluate the test split for a run that has no saved evaluation, saying what is computed
    and showing progress; save the result as ``vaekit evaluate`` would (if the folder takes it)."""
    import time

    from vaekit import api
    from vaekit.evaluation.iwae import DEFAULT_K
    from vaekit.evaluation.report import likelihood_is_exact, not_a_likelihood_reason

    cfg = vae.config
    variational = getattr(vae.model, "variational", True)
    exact = variational and likelihood_is_exact(vae.model.likelihood, cfg.value_range, cfg.data.dequantize)
    if k and not exact:
        reason = (
            not_a_likelihood_reason(vae.model.likelihood, cfg.value_range, cfg.data.dequantize)
            if variational
            else "a deterministic autoencoder has no likelihood"
        )
        raise ConfigError(
            f"k={k}: refusing to compute an NLL for the report: {reason}; or leave out --k for a report without an NLL"
        )
    if exact and k != 0:
        used = DEFAULT_K if k is None else k
        what = f"computing the test NLL with K={used} importance samples"
        if k is None:
            what += " (choose K with --k, or k= in Python: e.g. 100 for a quick look)"
    else:
        what = "computing the test metrics (no NLL: " + ("k=0)" if exact else "the likelihood is not exact for this data)")
    _say(progress, f"no saved evaluation in {run_dir}: {what}")
    started = time.perf_counter()
    report = api.evaluate(vae, split="test", k=k, progress=progress)
    try:
        saved = f"saved as {api.save_evaluation(vae, report).name}"
    except (OSError, VaekitError) as exc:
        saved = f"not saved: {exc}"
    report = api.evaluation_record(vae, report)
    _say(progress, f"evaluated in {time.perf_counter() - started:.1f} s; {saved}")
    return report
