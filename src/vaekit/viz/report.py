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

from vaekit.runtime.errors import VaekitError


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
    from vaekit.viz.curves import training_curves
    from vaekit.viz.diagram import architecture_from_config, diagram_source
    from vaekit.viz.figure import picture_png
    from vaekit.viz.interpolation import default_pair, interpolation_figure
    from vaekit.viz.latents import latent_scatter
    from vaekit.viz.manifold import manifold_grid
    from vaekit.viz.reconstructions import reconstruction_grid
    from vaekit.viz.samples import sample_grid
    from vaekit.viz.traversal import traversal_figure

    a, b = default_pair(labels, len(x))
    # A conditional model draws every picture under the examples' own labels, its samples one row
    # per class and its manifold one grid per class.
    cond = getattr(vae, "conditional", False) and labels is not None
    pair = [int(labels[a]), int(labels[b])] if cond else None
    samples_title = (
        "Samples from the prior, one row per class (label 0 at the top)" if cond else "Samples from the prior"
    )
    makers: list[tuple[str, str, Callable[[], Any]]] = [
        ("curves", "Training curves", lambda: training_curves(records or [])),
        ("samples", samples_title, lambda: sample_grid(vae, None if cond else 64, seed=seed)),
        (
            "recon",
            "Test examples (odd rows) and their reconstructions (even rows)",
            lambda: reconstruction_grid(vae, x, labels=labels),
        ),
        (
            "interp",
            f"Interpolation between test examples {a} and {b}",
            lambda: interpolation_figure(vae, x[a], x[b], labels=pair),
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


def metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Return an HTML table with one column per evaluation (e.g. per eval-*.json file) and one
    row per metric name; numbers to 4 decimals."""
    names: list[str] = []
    for report in metrics.values():
        names += [k for k in report if k not in names]
    head = "".join(f"<th>{html.escape(col)}</th>" for col in metrics)
    rows = []
    for name in names:
        cells = []
        for report in metrics.values():
            value = report.get(name, "")
            cells.append(f"<td>{html.escape(_metric_text(value))}</td>")
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _metric_text(value: Any) -> str:
    """Return a metric as table text: floats to 4 decimals, also inside lists and dicts (the
    report's per-dimension KL, the probe's accuracy, timings)."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ", ".join(_metric_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_metric_text(v)}" for k, v in value.items())
    return str(value)


#: Pictures that are plain image grids: shown with sharp pixels when the browser scales them.
PIXEL_PICTURES = ("samples", "recon", "manifold")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
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
        metrics_table(metrics),
        "<p class='note'>nats per example; ELBO: higher is better, bits/dim: lower is better.</p>",
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
    order); unreadable files are skipped."""
    found = {}
    for path in sorted(run_dir.glob("eval-*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(report, dict):
            found[path.stem] = report
    return found


def write_report(run_dir: str | Path, out: str | Path | None = None, which: str = "last", seed: int = 0) -> Path:
    """Write the run's report (default ``RUN_DIR/report.html``) and return its path. Metrics
    come from the run's ``eval-*.json`` files, or are computed on the test split if there are none."""
    from vaekit import api
    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.viz.curves import read_metrics

    run_dir = Path(run_dir)
    vae = api.load(run_dir, which=which)
    x, labels = api.resolve_eval_data(vae, None, "test")
    metrics = read_evaluations(run_dir) or {"test (computed for this report)": api.evaluate(vae, split="test")}
    try:
        records = read_metrics(run_dir)
    except VaekitError:
        records = []
    info = api.run_info(run_dir)
    info.pop("files", None)
    info["weights"] = which
    pictures = draw_pictures(vae, x, labels, records, seed)
    title = f"vaekit run {run_dir.name}: {vae.config.model.name} on {vae.config.data.name}"
    path = Path(out) if out is not None else run_dir / "report.html"
    atomic_write_text(path, render_report(title, info, vae.config.to_dict(), metrics, pictures))
    return path
