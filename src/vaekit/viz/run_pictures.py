"""The pictures every image run folder gets: ``samples.png`` and ``reconstructions.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaekit.runtime.lock import run_folder_lock
from vaekit.viz.grid import save_grid
from vaekit.viz.reconstructions import save_reconstruction_grid
from vaekit.viz.samples import sample_images, sample_row_labels

#: Examples per row of both pictures.
NCOL = 8


def write_run_pictures(vae: Any, n: int = 64) -> list[Path]:
    """Write ``samples.png`` and ``reconstructions.png`` into ``vae.run_dir``, for image data
    only. Returns the paths written (none for tables or a model without a run folder).

    ``samples.png``: ``n`` prior draws (seed 0), 8 per row; a conditional model draws one row
    of 8 per class instead, each row labelled with its class at the left, as
    ``vaekit plot RUN samples`` does. ``reconstructions.png``: 32 test examples, each row of 8
    followed by their reconstructions, the rows labelled ``original`` and ``reconstruction``.

    ``vae`` is a ``vaekit.TrainedVAE``; the test examples are its ``test_preview`` (kept by
    ``vaekit.train``/``vaekit.resume``), else the run's data loaded again."""
    from vaekit.api import resolve_eval_data

    if not vae.is_image or vae.run_dir is None:
        return []
    samples, ncol = sample_images(vae, None if vae.conditional else n, ncol=NCOL)
    preview = getattr(vae, "test_preview", None)
    x, labels = preview if preview is not None else resolve_eval_data(vae, None, "test")
    x = x[:32]
    labels = labels[:32] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    written = [vae.run_dir / "samples.png", vae.run_dir / "reconstructions.png"]
    # Under the run folder's lock: another `train --force` may have taken the folder meanwhile.
    with run_folder_lock(vae.run_dir, "pictures"):
        save_grid(written[0], samples, vae.input_shape, ncol, sample_row_labels(vae, -(-len(samples) // ncol)))
        save_reconstruction_grid(written[1], x.numpy().reshape(len(x), -1), recon, vae.input_shape, NCOL)
    return written
