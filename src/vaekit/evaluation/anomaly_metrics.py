"""How well scores rank known anomalies first: AUROC, AUPRC and precision at the true count."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaekit.runtime.errors import DataError

_TRUE_TEXT = {"1", "true", "yes", "anomaly", "outlier"}
_FALSE_TEXT = {"0", "false", "no", "normal", "inlier"}


def anomaly_labels(values: Any, what: str = "the labels") -> np.ndarray:
    """Return ``values`` as int8 0/1 (1 = anomaly). Accepts booleans, 0/1 numbers and the words
    true/false, yes/no, anomaly/normal, outlier/inlier; anything else raises ``DataError``
    naming a bad value."""
    array = np.asarray(values)
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.dtype == bool:
        return array.astype(np.int8)
    if array.dtype.kind in "iuf":
        bad = ~np.isin(array, (0, 1))
        if bad.any():
            raise DataError(f"{what} must be 0 (normal) or 1 (anomaly); found {_bad_rows(values, array, bad)}")
        return array.astype(np.int8)
    text = np.char.lower(array.astype(str))
    bad = ~np.isin(text, list(_TRUE_TEXT | _FALSE_TEXT))
    if bad.any():
        raise DataError(f"{what} must be 0/1 or true/false (1 = anomaly); found {_bad_rows(values, array, bad)}")
    return np.isin(text, list(_TRUE_TEXT)).astype(np.int8)


def _bad_rows(values: Any, array: np.ndarray, bad: np.ndarray) -> str:
    """Return the first bad labels with their rows, e.g. ``nan (line 4), 2 (line 9) and 3 more;
    fix or drop those rows``: lines of the file a pandas column was read from, else rows from 1."""
    from vaekit.data.tables.cells import show_cells

    # A pandas column read from a file keeps where its rows came from (attrs): name its lines.
    where = values if hasattr(values, "attrs") and len(values) == len(array) else array
    positions = np.flatnonzero(bad)
    return f"{show_cells(where, [_plain(v) for v in array[positions]], positions)}; fix or drop those rows"


def _plain(value: Any) -> Any:
    """Return a NumPy scalar as the Python one, so that a message shows 2.0, not np.float64(2.0)."""
    return value.item() if isinstance(value, np.generic) else value


def anomaly_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return ``auroc``, ``auprc`` (average precision) and ``precision_at_n`` (the share of
    anomalies among the n highest scores, n = the number of true anomalies), with
    ``n_anomalies`` and ``n``. Raises ``DataError`` when the labels hold one class only."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    labels = anomaly_labels(labels)
    if len(labels) != len(scores):
        raise DataError(f"got {len(labels)} labels for {len(scores)} scored examples; give one label per example")
    n_true = int(labels.sum())
    if n_true in (0, len(labels)):
        only = "anomalies" if n_true else "normal examples"
        raise DataError(f"the labels hold {only} only; AUROC needs both anomalies (1) and normal examples (0)")
    if np.isnan(scores).any():
        raise DataError("some scores are NaN; they cannot be ranked")
    # +inf (a value the model never saw) ranks first; scikit-learn wants finite numbers.
    finite = scores[np.isfinite(scores)]
    top_finite = finite.max() if len(finite) else 0.0
    scores = np.where(np.isposinf(scores), top_finite + 1.0, scores)
    top = np.argsort(-scores, kind="stable")[:n_true]
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "auprc": float(average_precision_score(labels, scores)),
        "precision_at_n": float(labels[top].mean()),
        "n_anomalies": n_true,
        "n": len(labels),
    }
