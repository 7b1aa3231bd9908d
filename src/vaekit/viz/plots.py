"""Every picture of a run by name, for ``vaekit plot RUN KIND``: what draws it and its default
file in the run folder. A new picture is one function here and its decorator line."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.runtime.atomic import atomic_write_bytes
from vaekit.runtime.errors import ConfigError, RunFolderError
from vaekit.runtime.registry import Registry


@dataclass
class PlotRequest:
    """What ``vaekit plot`` asks for: the run, its weights and split, and the picture's options
    (``None``: the picture's own default)."""

    run_dir: Path
    which: str = "last"
    split: str = "test"
    seed: int = 0
    label: int | str | None = None  # a class number, or a name of the run's class_names
    options: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """Return option ``name``, or ``default`` when it was not given."""
        value = self.options.get(name)
        return default if value is None else value


@dataclass(frozen=True)
class PictureKind:
    """One kind of picture: ``write(request, path)`` writes it and returns the path written."""

    write: Callable[[PlotRequest, Path], Path]
    default_file: str
    description: str


#: every picture of a run by name
PICTURES: Registry[PictureKind] = Registry("picture", name_attribute=None)


def picture(name: str, default_file: str, description: str) -> Callable[[Callable[[PlotRequest], Any]], Any]:
    """Decorator registering a function that draws a picture (a uint8 array or a matplotlib
    figure) from a :class:`PlotRequest`; it is saved as PNG, or SVG for plots."""

    def add(draw: Callable[[PlotRequest], Any]) -> Callable[[PlotRequest], Any]:
        def write(request: PlotRequest, path: Path) -> Path:
            save_picture(draw(request), path)
            return path

        PICTURES.register(name)(PictureKind(write, default_file, description))
        return draw

    return add


def save_picture(picture: Any, path: Path) -> None:
    """Write a picture as PNG, or as SVG when ``path`` ends in .svg and the picture is a plot."""
    from vaekit.viz.figure import picture_png

    suffix = path.suffix.lower()
    if suffix == ".svg" and not isinstance(picture, np.ndarray):
        buffer = io.BytesIO()
        picture.savefig(buffer, format="svg")
        atomic_write_bytes(path, buffer.getvalue())
    elif suffix == ".png":
        atomic_write_bytes(path, picture_png(picture))
    else:
        kinds = ".png or .svg" if not isinstance(picture, np.ndarray) else ".png"
        raise ConfigError(f"{path}: this picture is written as {kinds}, not {suffix or 'a file without suffix'!r}")


def _load(request: PlotRequest) -> Any:
    from vaekit import api

    vae = api.load(request.run_dir, which=request.which)
    if request.label is not None:
        if not vae.conditional:
            raise ConfigError(f"--label is for conditional models; model {vae.config.model.name!r} takes no labels")
        from vaekit.data.classes import class_number

        request.label = class_number(request.label, vae.config.class_names)
    return vae


def _images_and_data(request: PlotRequest, kind: str) -> tuple[Any, Any, Any]:
    """Return the model and its split's examples and labels, refusing tables before reading data."""
    from vaekit import api
    from vaekit.viz.pictures import require_images

    vae = _load(request)
    if kind != "latents":
        require_images(vae, kind)
    x, labels = api.resolve_eval_data(vae, None, request.split)
    return vae, x, labels


@picture("samples", "samples.png", "decoded draws from the prior")
def _samples(request: PlotRequest) -> Any:
    from vaekit.viz.samples import sample_grid

    vae = _load(request)
    return sample_grid(
        vae,
        request.get("n"),
        temperature=request.get("temperature", 1.0),
        seed=request.seed,
        label=request.label,
        row_labels=True,
    )


@picture("layers", "layers.png", "a hierarchy's samples, one row per layer sampled (hvae, lvae)")
def _layers(request: PlotRequest) -> Any:
    from vaekit.viz.samples import layer_sample_figure

    vae = _load(request)
    return layer_sample_figure(vae, request.get("n"), temperature=request.get("temperature", 1.0), seed=request.seed)


@picture("recon", "reconstructions.png", "test examples above their reconstructions")
def _recon(request: PlotRequest) -> Any:
    from vaekit.viz.reconstructions import reconstruction_grid

    vae, x, labels = _images_and_data(request, "recon")
    return reconstruction_grid(vae, x, request.get("n", 32), labels=labels, row_labels=True)


@picture("interp", "interpolations.png", "decoded points between two examples' codes")
def _interp(request: PlotRequest) -> Any:
    from vaekit.viz.examples import pick_example, pick_label
    from vaekit.viz.interpolation import default_pair, interpolation_figure

    vae, x, labels = _images_and_data(request, "interp")
    first, second = default_pair(labels, len(x))
    start, end = request.get("start", first), request.get("end", second)
    a, b = pick_example(start, x, vae), pick_example(end, x, vae)
    pair = None
    if vae.conditional:
        pair = [pick_label(start, labels, request.label, vae), pick_label(end, labels, request.label, vae)]
    names = (_example_name(start, request.split, len(x)), _example_name(end, request.split, len(x)))
    return interpolation_figure(vae, a, b, steps=request.get("steps", 10), labels=pair, names=names)


def _example_name(spec: str | int, split: str, n: int) -> str:
    """Return how a picture names the example ``spec``: ``"test example 3"`` for an index into
    the ``split`` of ``n`` examples (a negative one counted from its end), the file's name for a file."""
    if isinstance(spec, int) or str(spec).lstrip("-").isdigit():
        return f"{split} example {int(spec) % n}"
    return Path(spec).name


@picture("traverse", "traversals.png", "one example's code moved along its most informative dimensions")
def _traverse(request: PlotRequest) -> Any:
    from vaekit.viz.examples import pick_example, pick_label
    from vaekit.viz.traversal import traversal_figure

    vae, x, labels = _images_and_data(request, "traverse")
    spec = request.get("example", "0")
    example = pick_example(spec, x, vae)
    own = pick_label(spec, labels, request.label, vae) if vae.conditional else None
    return traversal_figure(
        vae, example, x, steps=request.get("steps", 9), max_dims=request.get("dims", 10), label=own, labels=labels
    )


@picture("latents", "latents.png", "posterior means in 2-D (PCA or t-SNE), coloured by label")
def _latents(request: PlotRequest) -> Any:
    from vaekit.viz.latents import latent_scatter

    vae, x, labels = _images_and_data(request, "latents")
    return latent_scatter(vae, x, labels, method=request.get("method", "pca"), seed=request.seed)


@picture("manifold", "manifold.png", "decoded grid over a 2-D latent space")
def _manifold(request: PlotRequest) -> Any:
    from vaekit.viz.manifold import manifold_grid

    return manifold_grid(_load(request), request.get("grid"), label=request.label)


@picture("curves", "curves.png", "training and validation curves from metrics.jsonl")
def _curves(request: PlotRequest) -> Any:
    from vaekit.viz.curves import read_metrics, training_curves

    return training_curves(read_metrics(request.run_dir), request.run_dir)


@picture("kl-layers", "kl-layers.png", "each stochastic layer's KL by epoch from metrics.jsonl (hvae, lvae)")
def _kl_layers(request: PlotRequest) -> Any:
    from vaekit.viz.curves import layer_kl_curves, read_metrics

    return layer_kl_curves(read_metrics(request.run_dir))


@picture("anomalies", "anomalies.png", "the most unusual examples of --data (or the split) and what made them unusual")
def _anomalies(request: PlotRequest) -> Any:
    from vaekit.detector import scoring_data
    from vaekit.viz.anomalies import DEFAULT_SHOWN, anomaly_figure, most_unusual

    vae = _load(request)
    data = scoring_data(vae, request.get("data"), request.split)
    kind, n = request.get("score", "nll"), request.get("n", DEFAULT_SHOWN)
    top = most_unusual(vae, data, kind=kind, k=request.get("k"), n=n, seed=request.seed, id_column=request.get("id_column"))
    return anomaly_figure(vae, top)


def _write_report(request: PlotRequest, path: Path) -> Path:
    from vaekit.viz.report import write_report

    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{path}: the report is an HTML page; name a .html file")
    return write_report(request.run_dir, path, which=request.which, seed=request.seed, k=request.get("k"))


PICTURES.register("report")(PictureKind(_write_report, "report.html", "the whole HTML report"))


def write_picture(kind: str, request: PlotRequest, out: str | Path | None = None) -> Path:
    """Write picture ``kind`` of a run to ``out`` (default: its file in the run folder); return the path.

    A picture for the run's own folder is drawn into a hidden draft there and moved into place
    only if the folder still holds the same run: a ``train --force`` that replaced it meanwhile
    (``RunFolderError``, nothing written) must not find the old run's picture among its files."""
    import os

    entry = PICTURES.get_factory(kind)
    run_dir = Path(request.run_dir)
    path = Path(out) if out else run_dir / entry.default_file
    if not run_dir.is_dir() or path.parent.resolve() != run_dir.resolve():
        return entry.write(request, path)
    before = run_identity(run_dir)
    draft = path.with_name(f".{path.stem}.draft-{os.getpid()}{path.suffix}")
    try:
        entry.write(request, draft)
        if run_identity(run_dir) != before:
            raise RunFolderError(
                f"{run_dir} was replaced by another training while its {kind} picture was drawn, so {path.name} "
                f"was not written (it would show the old run); draw it again: `vaekit plot {run_dir} {kind}`"
            )
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path


def run_identity(run_dir: Path) -> tuple[Any, ...]:
    """Return what tells one run in ``run_dir`` from the next one there: its checkpoint's run id
    and whether an old run is set aside (``train --force`` under way)."""
    from vaekit.training import checkpoint as ckpt
    from vaekit.training.run_dir import set_aside_run

    state = ckpt.checkpoint_state(run_dir) or {}
    return state.get("run_id"), set_aside_run(run_dir)
