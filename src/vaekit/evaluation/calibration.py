"""A stored anomaly threshold: chosen on reference scores, kept in the run folder as JSON.

``--contamination C`` assumes that a share C of the reference set is anomalous and flags the
same share (PyOD's rule: the threshold is the reference scores' (1 - C) quantile);
``--fpr F`` assumes the reference set is clean and accepts flagging a share F of normal
examples. Either way the reference scores are kept, so that any later score also gets an
empirical p-value: the share of reference scores at least as high, ``(1 + #{ref >= s}) / (n + 1)``.
A threshold only means something for the score it was chosen on: the same kind, the same K (the
importance-weighted bound moves with K) and the same weights; scoring otherwise is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.runtime.atomic import atomic_write_text
from vaekit.runtime.errors import ConfigError, DataError

CALIBRATION_FILE = "calibration.json"
#: Reference scores kept for p-values; above this many, their quantiles stand in for them.
MAX_REFERENCE_SCORES = 100_000


@dataclass
class Calibration:
    """A threshold on one kind of score, chosen on reference data.

    ``threshold`` is in the score's units (nats); an example is flagged when its score is
    above it. ``rule`` is ``"contamination"`` or ``"fpr"`` and ``rate`` its share.
    ``reference`` holds the sorted reference scores (or, for large sets, their evenly spaced
    quantiles)."""

    score: str
    k: int | None
    weights: str
    data: str
    n_reference: int
    rule: str
    rate: float
    threshold: float
    reference: list[float] = field(repr=False)
    created: str = ""
    vaekit_version: str = ""
    #: the background run the scores were ratios against (None: plain scores)
    background: str | None = None
    #: the optimizer step the weights were saved at: a resumed run's weights are other weights
    weights_step: int | None = None

    def describe(self) -> str:
        """Return one line saying which score, K, weights and data the threshold came from."""
        k = f", K={self.k}" if self.k is not None else ""
        k += f", against the background {self.background}" if self.background else ""
        return (
            f"{self.score} score{k}, {self.weights} weights, {self.rule} {self.rate:g} on {self.n_reference} "
            f"examples of {self.data}: threshold {self.threshold:.4f} nats"
        )

    def check_matches(
        self, score: str, k: int | None, weights: str, background: str | None = None, weights_step: int | None = None
    ) -> None:
        """Raise ``ConfigError`` unless scores of kind ``score`` with ``k`` draws from the
        ``weights`` ("last"/"best") weights saved at ``weights_step`` (as ratios against
        ``background``) are comparable with this threshold."""
        if self.weights_step is not None and weights_step is not None and weights_step != self.weights_step:
            raise ConfigError(
                f"the run's threshold was calibrated on its {self.weights} weights of step {self.weights_step}; these are "
                f"of step {weights_step} (the run trained on since): calibrate again (--calibrate with --contamination "
                "or --fpr), or leave the threshold out with --no-threshold"
            )
        if (score, k, weights, background) != (self.score, self.k, self.weights, self.background):
            k_flag = f" --k {self.k}" if self.k is not None else ""
            which = " --which best" if self.weights == "best" else ""
            which += f" --background {self.background}" if self.background else ""
            asked = f"--score {score}" + (f" --k {k}" if k is not None else "") + (f" --background {background}" if background else "")
            raise ConfigError(
                f"the run's threshold was calibrated on the {self.describe()}; scores with {asked} would not be "
                f"comparable with it: score with --score {self.score}{k_flag}{which}, or calibrate again "
                "(--calibrate with --contamination or --fpr), or leave it out with --no-threshold"
            )

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """Return the empirical p-value of each score: the share of reference examples scoring
        at least as high, ``(1 + #{ref >= s}) / (n + 1)`` (float64 in (0, 1])."""
        reference = np.asarray(self.reference, dtype=np.float64)
        at_least = len(reference) - np.searchsorted(reference, np.asarray(scores, dtype=np.float64), side="left")
        if len(reference) < self.n_reference:  # quantiles stand for the whole set
            at_least = at_least * (self.n_reference / len(reference))
        return (1.0 + at_least) / (self.n_reference + 1.0)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """Return 1 where a score is above the threshold, else 0 (int8)."""
        return (np.asarray(scores) > self.threshold).astype(np.int8)


def check_rate(contamination: float | None, fpr: float | None) -> tuple[str, float]:
    """Return ``(rule, rate)`` from exactly one of ``contamination`` and ``fpr``, each in
    (0, 0.5]; ``ConfigError`` naming the fix otherwise."""
    if (contamination is None) == (fpr is None):
        raise ConfigError("give one of --contamination (share of anomalies in the reference data) or --fpr (share of clean examples to flag); "
            "contamination= or fpr= in Python")
    rule, rate = ("contamination", contamination) if contamination is not None else ("fpr", fpr)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 < float(rate) <= 0.5:
        shown = rate.item() if isinstance(rate, np.generic) else rate  # 0.7, not np.float64(0.7)
        raise ConfigError(f"--{rule} must be a share in (0, 0.5], e.g. 0.01, got {shown!r}")
    return rule, float(rate)


def calibrate(
    scores: np.ndarray,
    *,
    score: str,
    k: int | None,
    weights: str,
    data: str,
    contamination: float | None = None,
    fpr: float | None = None,
    version: str = "",
    background: str | None = None,
    weights_step: int | None = None,
    infinite: str | None = None,
) -> Calibration:
    """Return the calibration of ``scores`` (reference scores, nats): the threshold is their
    ``1 - rate`` quantile (linear interpolation, as PyOD's ``threshold_``). Raises
    ``DataError`` for fewer than two reference examples or scores that are not finite (those
    examples named by ``infinite`` where given, e.g. "row 4 (species 'Emperor', ...)")."""
    rule, rate = check_rate(contamination, fpr)
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) < 2:
        raise DataError(
            f"a reference set of {len(scores)} example(s) cannot set a threshold: calibrate on many "
            f"examples (at least {int(np.ceil(1 / rate))} for a {rule} of {rate:g} to flag one)"
        )
    if not np.isfinite(scores).all():
        named = f": {infinite}" if infinite else " (a table row with a category never seen in training scores +inf)"
        raise DataError(
            f"{int((~np.isfinite(scores)).sum())} reference score(s) are not finite{named}; "
            "calibrate on reference data without those examples"
        )
    ordered = np.sort(scores)
    reference = ordered
    if len(ordered) > MAX_REFERENCE_SCORES:
        # np.quantile of 100,000 points partitions for each; the scores are sorted already.
        reference = np.interp(np.linspace(0.0, len(ordered) - 1, MAX_REFERENCE_SCORES), np.arange(len(ordered)), ordered)
    return Calibration(
        score=score,
        k=k,
        weights=weights,
        data=data,
        n_reference=len(scores),
        rule=rule,
        rate=rate,
        threshold=float(np.quantile(ordered, 1.0 - rate)),
        reference=[float(v) for v in reference],
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        vaekit_version=version,
        background=background,
        weights_step=weights_step,
    )


def save_calibration(run_dir: str | Path, calibration: Calibration) -> Path:
    """Write ``calibration`` to ``RUN_DIR/calibration.json`` atomically, holding the run
    folder's lock as a report's writer does; return the path. Raises ``RunFolderLockedError``
    while a training writes the folder (a ``train --force`` replacing the run, say)."""
    from vaekit.runtime.lock import run_folder_lock

    path = Path(run_dir) / CALIBRATION_FILE
    with run_folder_lock(Path(run_dir), "evaluate"):
        atomic_write_text(path, json.dumps(asdict(calibration), indent=1) + "\n")
    return path


def load_calibration(run_dir: str | Path) -> Calibration | None:
    """Return the run's stored calibration, or None when it has none. Raises ``DataError``
    for a file that is not a calibration (naming the fix: calibrate again)."""
    path = Path(run_dir) / CALIBRATION_FILE
    if not path.exists():
        return None
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        calibration = Calibration(**raw)
        if not calibration.reference or calibration.score not in ("nll", "elbo", "recon"):
            raise ValueError("no reference scores" if not calibration.reference else f"unknown score {calibration.score!r}")
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path} is not a vaekit calibration ({exc}); calibrate again with --calibrate") from None
    return calibration
