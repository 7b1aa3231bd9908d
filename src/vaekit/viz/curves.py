"""Training curves from a run's metrics.jsonl: loss, ELBO, KL and reconstruction by epoch.

Each curve is named by what it is (DESIGN.md: a number that is not a likelihood is never called
one): ``train_elbo`` = reconstruction term - KL is called the ELBO only where the likelihood is
exact for the run's data (``vaekit.evaluation.likelihood_is_exact``); a Bernoulli on grey levels
plots a training loss. ``train_loss`` is the training objective (-ELBO only for the ELBO
objective: beta-VAE, IWAE and the autoencoder minimise something else), ``val_loss`` always
reconstruction loss + KL on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaekit.runtime.errors import CheckpointError
from vaekit.viz.figure import new_figure


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Return the per-epoch records of ``run_dir/metrics.jsonl`` in order, up to the run's last
    complete checkpoint (a line cut short by a kill is skipped, and so is an epoch whose
    checkpoint a kill cut short). Raises ``CheckpointError`` when the file is missing or empty."""
    from vaekit.training.checkpoint import METRICS_FILE, checkpointed_metrics

    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: the run has not finished an epoch yet")
    records = checkpointed_metrics(Path(run_dir))
    if not records:
        raise CheckpointError(f"{path} has no complete epoch record")
    return records


@dataclass(frozen=True)
class CurveLabels:
    """What a run's metrics are: whether its likelihood is exact for its data (``None``:
    unknown), its training objective's name, whether the data were dequantised, and (when the
    likelihood is not exact) why the numbers are no ELBO, shown above the panels."""

    exact: bool | None = None
    objective: str | None = None
    dequantized: bool = False
    why_not: str = ""

    def panels(self) -> list[tuple[str, str, dict[str, str]]]:
        """Return ``(key, panel title, {split: legend label})`` of the four panels."""
        exact, objective = self.exact, self.objective
        neg_elbo = "-ELBO" if exact else "reconstruction loss + KL"
        if objective == "elbo":
            loss_title = "loss = -ELBO" if exact else "training loss = reconstruction loss + KL"
            loss = {"train": "train", "val": "val"}
        else:
            loss_title = "training loss"
            loss = {"train": f"train: {_objective_loss(objective, exact)}", "val": f"val: {neg_elbo}"}
        if exact:
            elbo_title = "ELBO of the dequantised data" if self.dequantized else "ELBO"
            elbo_note, recon_title, recon_note = "higher is better", "reconstruction E_q log p(x|z)", ""
        elif exact is None:
            elbo_title, elbo_note = "reconstruction term - KL", "an ELBO only if\nthe likelihood is exact for the data"
            recon_title, recon_note = "reconstruction term E_q log p(x|z)", ""
        else:
            elbo_title, elbo_note = "reconstruction term - KL", "not an ELBO"
            recon_title, recon_note = "reconstruction term", "not a log-likelihood"
        splits = {"train": "train", "val": "val"}
        return [
            ("loss", _title(loss_title), loss),
            ("elbo", _title(elbo_title, elbo_note), splits),
            ("kl", _title("KL(q(z|x) || p(z))"), splits),
            ("recon", _title(recon_title, recon_note), splits),
        ]


def _title(what: str, note: str = "") -> str:
    """Return a panel title: what is plotted, its unit and a note, e.g. ``ELBO (nats/example; higher is better)``."""
    return f"{what} (nats/example{'; ' + note if note else ''})"


def _objective_loss(objective: str | None, exact: bool | None) -> str:
    """Return what the training loss of ``objective`` is, in words."""
    if objective == "beta-elbo":
        return "beta-ELBO objective"
    if objective == "iwae":
        return "-IWAE bound" if exact else "IWAE objective"
    if objective == "reconstruction":
        return "reconstruction loss"
    return "objective" if objective is None else f"{objective} objective"


def curve_labels(vae: Any) -> CurveLabels:
    """Return what the curves of a run are: ``vae`` is a loaded model (``vaekit.load``), a run
    folder, or ``None`` (unknown: no curve is called an ELBO)."""
    if vae is None:
        return CurveLabels()
    if isinstance(vae, CurveLabels):
        return vae
    if isinstance(vae, (str, Path)):
        from vaekit.api import read_config
        from vaekit.runtime.errors import VaekitError
        from vaekit.training.build import build_model

        try:
            config = read_config(Path(vae))
            model = build_model(config)
        except VaekitError:
            return CurveLabels()  # metrics.jsonl alone still draws; nothing is called an ELBO
    else:
        config, model = vae.config, vae.model
    from vaekit.evaluation.report import likelihood_is_exact

    variational = getattr(model, "variational", True)
    dequantize = config.data.dequantize
    exact = bool(variational and likelihood_is_exact(model.likelihood, config.value_range, dequantize))
    objective = (config.model.objective or {}).get("name") or getattr(model, "objective_name", "elbo")
    why_not = ""
    if not variational:
        why_not = "a deterministic autoencoder: training-loss values, no ELBO or NLL"
    elif not exact:
        why_not = f"the {model.likelihood.name} likelihood is not exact for these data: training-loss values, not an ELBO or NLL"
    return CurveLabels(exact, objective, dequantize == "uniform", why_not)


def training_curves(records: list[dict[str, Any]], vae: Any = None) -> Any:
    """Return a matplotlib Figure of four panels (training loss, ELBO, KL, reconstruction term)
    with the training and, where recorded, validation values by epoch (nats per example).

    ``vae`` (a loaded model, its run folder, or :class:`CurveLabels`) says what the numbers are:
    the ELBO panel is called the ELBO only when the run's likelihood is exact for its data, and
    the loss panel names the training objective. Without it no curve is called an ELBO."""
    labels = curve_labels(vae)
    fig = new_figure(9.0, 6.4)
    axes = fig.subplots(2, 2, sharex=True)
    epochs = [r["epoch"] for r in records]
    for ax, (key, title, legend) in zip(axes.flat, labels.panels(), strict=True):
        for split, colour in (("train", "#1f77b4"), ("val", "#d62728")):
            points = [(e, r[f"{split}_{key}"]) for e, r in zip(epochs, records, strict=True) if f"{split}_{key}" in r]
            if points:
                xs, ys = zip(*points, strict=True)
                marker = "o" if len(xs) < 30 else None
                ax.plot(xs, ys, marker=marker, markersize=3, color=colour, label=legend[split])
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        epoch_axis(ax, epochs)
    if labels.why_not:
        fig.suptitle(labels.why_not, fontsize=10)
    return fig


def epoch_axis(ax: Any, epochs: list[int]) -> None:
    """Label ``ax``'s x axis as whole epochs; a single epoch stands between its neighbours
    rather than on an axis of fractions around it."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(epochs)) == 1:
        ax.set_xlim(epochs[0] - 1, epochs[0] + 1)


def has_layer_kl(records: list[dict[str, Any]]) -> bool:
    """Return whether the records carry each stochastic layer's KL (``train_kl_layers``)."""
    return any("train_kl_layers" in r for r in records)


def layer_kl_curves(records: list[dict[str, Any]]) -> Any:
    """Return a matplotlib Figure of each stochastic layer's KL term by epoch (nats per
    example; z1 is the layer nearest the data), training as solid lines and validation, where
    recorded, dashed; a log scale when the layers differ by more than a factor of 100, so a
    layer that has collapsed towards zero stays visible (a symmetric log scale when a one-draw
    estimate falls to 0 or below). Raises ``ConfigError`` for a run
    with one stochastic layer."""
    import math

    from vaekit.runtime.errors import ConfigError

    if not has_layer_kl(records):
        raise ConfigError(
            "metrics.jsonl has no per-layer KL: the run has one stochastic layer (the curves panel "
            "'KL' is its KL); per-layer curves are for hvae and lvae runs"
        )
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    layers = max(len(r.get("train_kl_layers", [])) for r in records)
    colours = [f"C{i % 10}" for i in range(layers)]
    values = []
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_kl_layers"
        for layer in range(layers):
            points = [(r["epoch"], r[key][layer]) for r in records if len(r.get(key, [])) > layer]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            values += ys
            marker = "o" if len(xs) < 30 else None
            ax.plot(xs, ys, style, marker=marker, markersize=3, color=colours[layer], label=f"z{layer + 1} {split}")
    finite = [v for v in values if math.isfinite(v)]
    positive = [v for v in finite if v > 0]
    title = "KL(q || p) of each stochastic layer (nats/example; z1 nearest the data)"
    if positive and max(positive) > 100 * min(positive) and len(finite) == len(values):
        if len(positive) == len(finite):
            ax.set_yscale("log")
        else:
            # A log axis would drop the epochs at or below 0; a symmetric one keeps them, linear
            # within 1e-4 of the largest value.
            ax.set_yscale("symlog", linthresh=10.0 ** math.floor(math.log10(max(min(positive), max(positive) * 1e-4))))
    if any(v < 0 for v in finite):
        # Where a layer's KL has no closed form (a flow, hvae's lower layers) it is log q - log p
        # at the draws.
        title += "\nestimated from draws where there is no closed form, so it can fall below 0"
    ax.set_title(title, fontsize=10)
    epoch_axis(ax, [r["epoch"] for r in records])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return fig
