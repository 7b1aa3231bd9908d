"""The anomaly detector of the scikit-learn and PyOD conventions, and thresholds chosen on
reference data (see :mod:`vaekit.scoring` for the scores themselves)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.api import TrainedVAE
from vaekit.evaluation.calibration import Calibration, calibrate, save_calibration
from vaekit.evaluation.scores import check_score_kind
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.runtime.estimator_params import EstimatorParams
from vaekit.scoring import Scores, describe_infinite, score_data

#: data files the scoring module reads itself (others go through the run's data readers)
DIRECT_SUFFIXES = (".npy", ".npz")


def scoring_data(vae: TrainedVAE, data: str | os.PathLike[str] | None, split: str = "test") -> Any:
    """Return what :func:`vaekit.scoring.score_source` reads for ``data``: a table's path, a
    ``.npy``/``.npz`` path as they are; a dataset name or folder (or, with ``data`` None, the
    run's own ``split``) read through the run's data readers, as ``evaluate --data`` reads it.
    A table run without ``data`` gives its held-out rows (its training rows when it held none
    out)."""
    from vaekit.api import resolve_eval_data
    from vaekit.scoring import Examples

    if vae.config.table is not None:
        if data is not None:
            return data
        from vaekit.tables import run_frames
        from vaekit.training.run_data import DATA_FRAME

        if vae.config.data.name == DATA_FRAME:
            raise ConfigError("this run was trained on a DataFrame, which its folder does not keep; give the rows to score (--data FILE)")
        train, test = run_frames(vae)
        return test if test is not None and len(test) else train
    if data is not None and Path(data).suffix.lower() in DIRECT_SUFFIXES:
        return data
    if data is not None and Path(data).exists() and not _is_idx_folder(Path(data)):
        whole = _whole_file(vae, Path(data))
        if whole is not None:
            return whole
    x, y = resolve_eval_data(vae, None if data is None else os.fspath(data), split)
    return Examples(x.cpu(), y, description=f"{data or vae.config.data.name} ({split})")


def _is_idx_folder(path: Path) -> bool:
    """True for a folder of IDX files (MNIST-like), whose train and test files are the splits."""
    from vaekit.data.idx import find_idx_files

    return path.is_dir() and bool(find_idx_files(path))


def _whole_file(vae: TrainedVAE, path: Path) -> Any:
    """Return every example of the file or image folder ``path`` in its own order, as model
    units for :mod:`vaekit.scoring` (which draws its own binarisation), or None for data
    whose reader keeps its own splits."""
    from vaekit.api import read_whole_file
    from vaekit.data.units import to_model_units
    from vaekit.scoring import Examples

    whole = read_whole_file(vae, path)
    if whole is None:
        return None
    x, y, levels = whole
    from vaekit.data.images import is_image_path, list_images

    if is_image_path(path):  # images: their files name the scores
        files = list_images(path)[0] if path.is_dir() else [path]
        names = np.asarray([f.relative_to(path).as_posix() if path.is_dir() else f.name for f in files])
        return Examples(to_model_units(x, levels), y, description=str(path), viewed=False, ids=names, id_name="file")
    return Examples(to_model_units(x, levels), y, description=str(path), viewed=False)


def calibrate_scores(
    vae: TrainedVAE,
    scores: np.ndarray,
    *,
    data: str,
    kind: str,
    k: int | None,
    contamination: float | None = None,
    fpr: float | None = None,
    save: bool = True,
    background: str | None = None,
    infinite: str | None = None,
) -> Calibration:
    """Return the threshold chosen on reference ``scores`` (of kind ``kind`` with ``k`` draws,
    from the ``data`` named) and, with ``save``, store it in the run folder as
    ``calibration.json``, so that later scores get a flag and a p-value. ``infinite`` names the
    examples that scored inf (see :func:`vaekit.scoring.describe_infinite`), for the refusal."""
    from vaekit._version import __version__

    calibration = calibrate(
        scores, score=kind, k=k, weights=vae.weights, data=data, contamination=contamination, fpr=fpr,
        version=__version__, background=background, weights_step=vae.weights_step, infinite=infinite,
    )  # fmt: skip
    if save:
        if vae.run_dir is None:
            raise ConfigError("this model has no run folder to keep its threshold in; load it from one (vaekit.load)")
        save_calibration(vae.run_dir, calibration)
    return calibration


def calibrate_run(
    vae: TrainedVAE,
    data: Any,
    *,
    kind: str = "nll",
    k: int | None = None,
    contamination: float | None = None,
    fpr: float | None = None,
    seed: int = 0,
    save: bool = True,
) -> tuple[Calibration, Scores]:
    """Score the reference ``data`` (see :func:`vaekit.scoring.score_source`) and return the
    threshold chosen on it, with the scores (see :func:`calibrate_scores`)."""
    from vaekit.evaluation.calibration import check_rate

    check_rate(contamination, fpr)
    scores = score_data(vae, data, kind=kind, k=k, seed=seed)
    name = os.fspath(data) if isinstance(data, str | os.PathLike) else f"a {type(data).__name__}"
    count = int(np.isposinf(scores.scores).sum())
    calibration = calibrate_scores(
        vae, scores.scores, data=name, kind=kind, k=check_score_kind(vae.model, kind, k),
        contamination=contamination, fpr=fpr, save=save,
        infinite=describe_infinite(scores.infinite, count) if count else None,
    )  # fmt: skip
    return calibration, scores


class AnomalyDetector(EstimatorParams):
    """An anomaly detector on a VAE, following PyOD's conventions so that it drops into
    pipelines written for PyOD or scikit-learn.

    ``fit(X)`` trains a VAE on ``X`` (an array of examples in [0, 1] or real values, uint8
    images, or a DataFrame, trained as :class:`vaekit.TableVAE` trains) and sets
    ``decision_scores_`` (the training examples' scores, nats), ``threshold_`` (their
    ``1 - contamination`` quantile) and ``labels_`` (1 above it). ``decision_function(X)``
    returns scores (higher is more unusual), ``predict(X)`` 0/1, and ``score_samples(X)``
    scikit-learn's sign (higher is more normal). ``score`` is ``nll``, ``elbo`` or ``recon``
    and ``k`` its posterior draws; other keyword arguments go to ``vaekit.train`` (or
    ``TableVAE``): ``epochs``, ``latent_dim``, ``encoder``, ``likelihood``, ``binarize``, ...
    ``out`` keeps the run folder (a temporary one by default). ``get_params`` and
    ``set_params`` are scikit-learn's.
    """

    PARAMS = ("contamination", "score", "k", "seed", "out", "progress")

    def __init__(
        self,
        contamination: float = 0.1,
        *,
        score: str = "nll",
        k: int | None = None,
        seed: int = 0,
        out: str | os.PathLike[str] | None = None,
        progress: str = "quiet",
        **train_options: Any,
    ) -> None:
        from vaekit.evaluation.calibration import check_rate

        if isinstance(contamination, str | os.PathLike):
            raise ConfigError(
                f"AnomalyDetector's first argument is the contamination (a share, as in PyOD), got {contamination!r}: "
                "the detector trains its own VAE in fit(X); to score with a trained run use "
                "vaekit.load(RUN).score(X), or `vaekit score RUN --calibrate` for a threshold"
            )
        check_rate(contamination, None)
        self.contamination = contamination
        self.score = score
        self.k = k
        self.seed = seed
        self.out = out
        self.progress = progress
        self.train_options = train_options
        self.vae_: TrainedVAE | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._table: Any = None

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Train on ``X`` (``y`` is ignored: training is unsupervised); returns self."""
        from vaekit.api import train
        from vaekit.data.load import is_data_frame

        if self.out is None:
            self._folder = tempfile.TemporaryDirectory(prefix="vaekit-detector-")
        out = Path(self.out) if self.out is not None else Path(self._folder.name) / "run"  # type: ignore[union-attr]
        # Replace only an earlier run: a folder holding anything else is the user's.
        force = (out / "config.json").is_file()
        if out.is_dir() and any(out.iterdir()) and not force:
            raise ConfigError(f"{out} holds files that are not a vaekit run; give AnomalyDetector(out=...) an empty or new folder")
        if is_data_frame(X):
            from vaekit.tables import TableVAE

            self._table = TableVAE(seed=self.seed, out=out, progress=self.progress, **self.train_options).fit(X)
            self.vae_ = self._table.vae_
        else:
            array = X.detach().cpu().numpy() if torch.is_tensor(X) else np.asarray(X)
            if array.ndim < 2 or len(array) < 2:
                raise DataError(f"fit needs an array of examples [N, D] or [N, H, W] with N >= 2, got shape {array.shape}")
            options = {"test_fraction": 0.05, **self.train_options}
            # The examples go to the trainer as a .npy for the time of training only.
            with tempfile.TemporaryDirectory(prefix="vaekit-detector-data-") as folder:
                data_file = Path(folder) / "train.npy"
                np.save(data_file, array, allow_pickle=False)
                self.vae_ = train(data=str(data_file), out=out, seed=self.seed, progress=self.progress, force=force, **options)
        check_score_kind(self.vae_.model, self.score, self.k)
        self.decision_scores_ = self.decision_function(X)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def _fitted(self) -> TrainedVAE:
        if self.vae_ is None:
            raise ConfigError("this AnomalyDetector is not fitted yet: call fit(X) first")
        return self.vae_

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the anomaly score of each example of ``X``: float64 ``[N]`` nats, higher is
        more unusual."""
        if torch.is_tensor(X):
            X = X.detach().cpu().numpy()
        if isinstance(X, np.ndarray) and X.dtype == np.uint8:
            X = X.astype(np.float32) / 255  # 8-bit pixels, as fit trained on them
        return score_data(self._fitted(), X, kind=self.score, k=self.k, seed=self.seed).scores

    def predict(self, X: Any) -> np.ndarray:
        """Return 1 for examples scoring above ``threshold_``, else 0 (int ``[N]``)."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    def score_samples(self, X: Any) -> np.ndarray:
        """Return minus :meth:`decision_function` (scikit-learn's sign: higher is more normal;
        for ``nll`` the log-likelihood bound in nats)."""
        return -self.decision_function(X)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Return each example's probability of being normal and of being an outlier, float64
        ``[N, 2]``, as PyOD's ``method="linear"`` does: the score scaled between the lowest and
        highest of the training scores (``decision_scores_``), clipped to [0, 1]."""
        if method != "linear":
            raise ConfigError(f"predict_proba's method must be 'linear' (PyOD's min-max scaling), got {method!r}")
        self._fitted()
        low, high = float(np.min(self.decision_scores_)), float(np.max(self.decision_scores_))
        outlier = np.clip((self.decision_function(X) - low) / max(high - low, np.finfo(np.float64).tiny), 0.0, 1.0)
        return np.column_stack([1.0 - outlier, outlier])

    def check_param(self, name: str, value: Any) -> None:
        """Refuse a contamination that is no share (``set_params``)."""
        from vaekit.evaluation.calibration import check_rate

        if name == "contamination":
            check_rate(value, None)
