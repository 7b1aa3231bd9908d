"""The quality report of a synthetic table: how close synthetic rows are to real ones, how useful,
and how private, from plain pandas DataFrames and a mapping of column kinds.

    from vaekit.evaluation.table_quality import table_quality_report
    kinds = {"species": "categorical", "bill_length_mm": "continuous", "sex": "binary", ...}
    report = table_quality_report(train, holdout, synthetic, kinds, target="species")
    report["quality"]["score"]   # in [0, 1], 1 = identical to the held-out real rows

The pieces (each usable alone): :func:`column_shapes`, :func:`pair_trends`, :func:`quality_score`
(table_shapes.py), :func:`detection_auc` (table_detection.py), :func:`ml_efficacy` (table_efficacy.py),
:func:`distance_to_closest_record` (table_privacy.py). ``kinds`` maps each column to
``continuous``, ``integer``, ``count`` (numbers), ``binary``, ``categorical`` (categories) or
``ignore`` (left out). No function stops on odd data (an all-missing column, a constant column,
one category, ten rows): a metric that cannot be computed is NaN in the functions' results, and
``None`` with a note in the report (so that the report is strict JSON).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import column_groups, subsample
from vaekit.evaluation.table_detection import detection_auc, detection_details
from vaekit.evaluation.table_efficacy import ml_efficacy, pick_target
from vaekit.evaluation.table_privacy import distance_to_closest_record
from vaekit.evaluation.table_shapes import (
    column_shape_details,
    column_shapes,
    pair_trend_details,
    pair_trends,
    quality_score,
)
from vaekit.runtime.errors import VaekitWarning, user_stacklevel

#: share of the real rows judged that are exact copies of training rows above which the report
#: warns that they are likely the training rows themselves
HELD_OUT_COPY_SHARE = 0.5

__all__ = [
    "column_shapes",
    "detection_auc",
    "distance_to_closest_record",
    "ml_efficacy",
    "pair_trends",
    "pick_target",
    "quality_score",
    "table_quality_report",
]

NOTES = {
    "column_shapes": "per column, held-out real vs synthetic rows: 1 - Kolmogorov-Smirnov statistic of the "
    "non-missing values for numbers, 1 - total variation distance of the category shares (missing counted as a "
    "category) for categories; 1 = identical",
    "pair_trends": "per column pair: two numbers 1 - |Pearson r real - r synthetic| / 2 (rows with both present); "
    "otherwise 1 - total variation distance of the contingency tables, numbers cut into 10 quantile bins of the "
    "real values (missing its own bin); 1 = identical",
    "quality": "mean of the mean column shape and the mean pair trend (SDMetrics' overall-score rule); "
    "reference_score is the same for a training subsample of the holdout's size (the real-vs-real ceiling)",
    "detection": "ROC AUC of a HistGradientBoosting classifier telling held-out real from synthetic rows, balanced "
    "classes, mean over 5 folds (rows identical on both sides kept in one fold); 0.5 = indistinguishable, "
    "1 = always told apart",
    "ml_efficacy": "the same HistGradientBoosting model trained on real training rows and on synthetic rows, "
    "scored on held-out real rows; ratio = synthetic / real (1 = as useful as real data)",
    "privacy": "distance to the closest training row (Euclidean; numbers scaled by the training range, a category "
    "mismatch adds 1 to the squared distance) of synthetic rows vs held-out real rows (the reference); a synthetic "
    "median or p5 well below the holdout's, or exact copies, mean memorised rows",
    "missing": "a null value means the number could not be computed; the nearest 'note' says why",
}


def _clean(value: Any, digits: int = 4) -> Any:
    """Return ``value`` JSON-ready: floats rounded to ``digits`` decimals (NaN/inf -> None),
    numpy scalars as Python ones, containers cleaned recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, digits) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, digits) if math.isfinite(value) else None
    return value


def _mean(scores: Mapping[str, float]) -> float:
    values = np.array([v for v in scores.values() if not math.isnan(v)], dtype=np.float64)
    return float(values.mean()) if values.size else float("nan")


def table_quality_report(
    train_real: pd.DataFrame,
    holdout_real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Return the quality report of ``synthetic`` rows as one JSON-able dict:

    - ``rows``: rows of each table; ``columns``: the compared columns by group;
    - ``quality``: ``score`` (overall, in [0, 1]), ``column_shapes`` and ``pair_trends`` (the two
      property means), ``reference_score`` (a training subsample of the holdout's size scored the
      same way: the real-vs-real ceiling), ``not_computed`` (the columns and pairs whose score
      is undefined and so left out of the means);
    - ``column_shapes``: per column ``{"metric", "score", "missing_real", "missing_synthetic"}``;
    - ``pair_trends``: per pair ``"a|b"`` ``{"metric", "score"[, "real", "synthetic"]}`` (the
      Pearson r on each side for two numbers);
    - ``detection``: ``{"auc", "fold_aucs", "folds", "rows_per_side", "classifier"}``, held-out real
      vs synthetic;
    - ``ml_efficacy``: see :func:`ml_efficacy` (trained on ``train_real`` / ``synthetic``, tested
      on ``holdout_real``);
    - ``privacy``: see :func:`distance_to_closest_record`;
    - ``seconds``: the time each part took; ``notes``: how each number is computed;
    - ``warnings`` (only when there is one): the line of :func:`training_rows_warning`, also
      given as a ``VaekitWarning``, when the "held-out" rows look like the training rows.

    Shapes, trends and detection compare ``synthetic`` with ``holdout_real`` (rows the model never
    saw). Scores are rounded to 4 decimals; a number that cannot be computed is ``None`` with a
    ``note`` beside it."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    groups = column_groups(kinds)
    shapes = column_shape_details(holdout_real, synthetic, kinds)
    trends = pair_trend_details(holdout_real, synthetic, kinds)
    shape_scores = {k: v["score"] for k, v in shapes.items()}
    trend_scores = {k: v["score"] for k, v in trends.items()}
    reference = subsample(train_real, len(holdout_real), np.random.default_rng(seed))
    reference_score = quality_score(
        column_shapes(holdout_real, reference, kinds), pair_trends(holdout_real, reference, kinds)
    )
    quality = {
        "score": quality_score(shape_scores, trend_scores),
        "column_shapes": _mean(shape_scores),
        "pair_trends": _mean(trend_scores),
        "reference_score": reference_score,
        # Left out of the means above: a reader must see them, since e.g. a number column that is
        # all missing on the synthetic side has no shape score rather than a bad one.
        "not_computed": {
            "column_shapes": [k for k, v in shape_scores.items() if math.isnan(v)],
            "pair_trends": [k for k, v in trend_scores.items() if math.isnan(v)],
        },
    }
    lap("shapes_and_trends")
    detection = detection_details(holdout_real, synthetic, kinds, seed=seed)
    lap("detection")
    efficacy = ml_efficacy(train_real, synthetic, holdout_real, kinds, target=target, seed=seed)
    lap("ml_efficacy")
    privacy = distance_to_closest_record(train_real, synthetic, holdout_real, kinds, seed=seed)
    lap("privacy")
    copied = training_rows_warning(privacy["exact_copies"], len(holdout_real))
    if copied:
        warnings.warn(copied, VaekitWarning, stacklevel=user_stacklevel())
    report = {
        "rows": {"train": len(train_real), "holdout": len(holdout_real), "synthetic": len(synthetic)},
        "columns": {
            "number": [name for name, group in groups if group == "number"],
            "category": [name for name, group in groups if group == "category"],
        },
        "quality": quality,
        "column_shapes": shapes,
        "pair_trends": trends,
        "detection": detection,
        "ml_efficacy": efficacy,
        "privacy": privacy,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "notes": NOTES,
    }
    if copied:
        report["warnings"] = [copied]
    return _clean(report)


def training_rows_warning(copies: Mapping[str, float], rows: int) -> str | None:
    """Return a one-line warning when the real rows judged look like the training rows: more
    than ``HELD_OUT_COPY_SHARE`` of them exact copies of training rows, and over twice as many
    as training rows repeat one another; None otherwise. ``copies`` is the privacy check's
    ``exact_copies`` (shares of the judged "holdout" rows and of repeated "train" rows)."""
    share, repeats = copies.get("holdout", math.nan), copies.get("train", math.nan)
    # A table of a few categories repeats its rows by chance, so new rows copy training rows as
    # often as training rows copy each other: only a share well above that points at the
    # training rows themselves (a --data FILE holding the run's own rows).
    if not share > HELD_OUT_COPY_SHARE or (not math.isnan(repeats) and share <= 2 * repeats):
        return None
    return (
        f"{round(share * rows)} of the {rows} real rows judged ({share:.0%}) are exact copies of training rows: "
        "the data look like the run's training rows, so the held-out figures (closest-record distance, "
        "detection, efficacy, NLL) are not held out; judge rows the model did not train on"
    )
