"""vaekit: variational autoencoders on PyTorch.

``import vaekit`` is light: torch and the rest load on first use of the API below.

    import vaekit
    vae = vaekit.train(data="digits", latent_dim=8, epochs=20, out="runs/digits")
    vae = vaekit.load("runs/digits")
    z = vae.encode(x); x_hat = vae.decode(z); xs = vae.sample(64)
    report = vaekit.evaluate(vae, split="test")
    synthetic = vaekit.TableVAE(epochs=300).fit(frame).sample(1000)   # tables: DataFrames in and out
    scores = vae.score(x, kind="nll")                                    # anomaly scores, nats
"""

from __future__ import annotations

from typing import Any

from vaekit._version import __version__

_API = {"train", "resume", "load", "evaluate", "TrainedVAE", "build_config"}

_SUMMARY = {"run_info"}

_TABLES = {"TableVAE"}

_SCORING = {"AnomalyDetector"}

__all__ = ["__version__", *sorted(_API | _SUMMARY | _TABLES | _SCORING)]


def __getattr__(name: str) -> Any:
    if name in _API:
        from vaekit import api

        return getattr(api, name)
    if name in _SUMMARY:
        from vaekit import summary

        return getattr(summary, name)
    if name in _TABLES:
        from vaekit import tables

        return getattr(tables, name)
    if name in _SCORING:
        from vaekit import detector

        return getattr(detector, name)
    if name == "viz":  # the pictures, on first use (they import torch; matplotlib only when drawing)
        import importlib

        return importlib.import_module("vaekit.viz")
    raise AttributeError(f"module 'vaekit' has no attribute {name!r}")
