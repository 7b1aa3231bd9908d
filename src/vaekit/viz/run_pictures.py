"""The pictures every image run folder gets: ``samples.png`` and ``reconstructions.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaekit.runtime.lock import run_folder_lock
from vaekit.viz.grid import interleave_rows, save_grid


def write_run_pictures(vae: Any, n: int = 64) -> list[Path]:
    """Write ``samples.png`` (``n`` prior draws, seed 0) and ``reconstructions.png`` (32 test
    examples, each row of 8 followed by their reconstructions) into ``vae.run_dir``, for image
    data only. Returns the paths written (none for tables or a model without a run folder).

    ``vae`` is a ``vaekit.TrainedVAE``; the test examples are its ``test_preview`` (kept by
    ``vaekit.train``/``vaekit.resume``), else the run's data loaded again."""
    from vaekit.api import resolve_eval_data

    if not vae.is_image or vae.run_dir is None:
        return []
    devices = [vae.device] if vae.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        samples = vae.sample(n).cpu().numpy()
    preview = getattr(vae, "test_preview", None)
    x, labels = preview if preview is not None else resolve_eval_data(vae, None, "test")
    x = x[:32]
    labels = labels[:32] if vae.conditional and labels is not None else None
    recon = vae.reconstruct(x, labels=labels).cpu().numpy().reshape(len(x), -1)
    pairs = interleave_rows(x.numpy(), recon, ncol=8)
    written = [vae.run_dir / "samples.png", vae.run_dir / "reconstructions.png"]
    # Under the run folder's lock: another `train --force` may have taken the folder meanwhile.
    with run_folder_lock(vae.run_dir, "pictures"):
        save_grid(written[0], samples, vae.input_shape, ncol=8)
        save_grid(written[1], pairs, vae.input_shape, ncol=8)
    return written
