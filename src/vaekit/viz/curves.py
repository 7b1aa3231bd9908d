"""Training curves from a run's metrics.jsonl: loss, ELBO, KL and reconstruction by epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vaekit.runtime.errors import CheckpointError
from vaekit.viz.figure import new_figure

#: (key suffix, panel title) of each panel; train_<key> and val_<key> are drawn on it.
PANELS = (
    ("loss", "loss = -ELBO (nats/example)"),
    ("elbo", "ELBO (nats/example, higher is better)"),
    ("kl", "KL(q(z|x) || p(z)) (nats/example)"),
    ("recon", "reconstruction E_q log p(x|z) (nats)"),
)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Return the per-epoch records of ``run_dir/metrics.jsonl`` in order (a line cut short by a
    kill is skipped). Raises ``CheckpointError`` when the file is missing or empty."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: the run has not finished an epoch yet")
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not records:
        raise CheckpointError(f"{path} has no complete epoch record")
    return records


def training_curves(records: list[dict[str, Any]]) -> Any:
    """Return a matplotlib Figure of four panels (loss, ELBO, KL, reconstruction) with the
    training and, where recorded, validation values by epoch (nats per example)."""
    fig = new_figure(9.0, 6.0)
    axes = fig.subplots(2, 2, sharex=True)
    epochs = [r["epoch"] for r in records]
    for ax, (key, title) in zip(axes.flat, PANELS, strict=True):
        for split, colour in (("train", "#1f77b4"), ("val", "#d62728")):
            points = [(e, r[f"{split}_{key}"]) for e, r in zip(epochs, records, strict=True) if f"{split}_{key}" in r]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, color=colour, label=split)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    return fig
