"""Can a classifier tell synthetic rows from real ones? (detection)

Detection, and machine-learning efficacy (table_efficacy.py), use scikit-learn's
HistGradientBoosting, for three reasons: it handles missing cells natively (no imputation that
would blur real and synthetic alike), it takes categories natively (no one-hot blow-up for an
18-level code), and, unlike a logistic regression on standardised columns, it sees non-linear
differences, such as a wrong share of zeros or a wrong variance, which is exactly what a weak
generator gets wrong. It is also fast (binned histograms): seconds on 20,000 rows x 45 columns.
SDMetrics' LogisticDetection uses a logistic regression and reports 1 - (2 max(AUC, 0.5) - 1);
here the AUC itself is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import (
    categorical_or_none,
    column_groups,
    one_thread,
    subsample,
    tree_features,
    usable_features,
)

#: Rows per side of the detection classifier (the bigger side is subsampled to the smaller one's
#: size, and both to at most this).
DETECTION_MAX_ROWS = 10_000
#: Boosting rounds: enough for these sizes; early stopping takes over above 10,000 rows.
MAX_ITER = 100


def grouped_folds(x: np.ndarray, y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return a fold index in ``[0, k)`` for each row of ``x`` ``[N, C]`` (labels ``y`` ``[N]``, 0 or 1).

    Rows identical in every feature form one group and share a fold. Why: with plain k-fold a
    row whose exact copy sits in the training folds under the other label is scored as the other
    class, so two identical tables would get an AUC near 0, not 0.5. Stratified by group: real-only,
    synthetic-only and shared groups are each dealt round-robin over the folds in random order, so
    every fold holds about the same share of each (scikit-learn's StratifiedGroupKFold does this
    too, but takes seconds on 8,000 rows)."""
    keys = [row.tobytes() for row in np.ascontiguousarray(np.nan_to_num(x, nan=np.inf))]
    group, _ = pd.factorize(pd.Series(keys, dtype=object))
    size = int(group.max()) + 1 if group.size else 0
    has_real = np.bincount(group, weights=(y == 0), minlength=size) > 0
    has_synthetic = np.bincount(group, weights=(y == 1), minlength=size) > 0
    composition = np.where(has_real & has_synthetic, 2, np.where(has_synthetic, 1, 0))
    fold_of_group = np.empty(size, dtype=np.int64)
    dealt = 0
    for kind in (0, 1, 2):
        members = rng.permutation(np.flatnonzero(composition == kind))
        fold_of_group[members] = (dealt + np.arange(members.size)) % k
        dealt += members.size
    return fold_of_group[group]


def detection_details(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    folds: int = 5,
    seed: int = 0,
    max_rows: int = DETECTION_MAX_ROWS,
) -> dict[str, Any]:
    """Return ``{"auc", "fold_aucs", "folds", "rows_per_side", "classifier"[, "note"]}``; see
    :func:`detection_auc`."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    groups = column_groups(kinds)
    n = min(len(real), len(synthetic), max_rows)
    result: dict[str, Any] = {"classifier": "HistGradientBoostingClassifier", "rows_per_side": int(n)}
    nothing = {"auc": float("nan"), "fold_aucs": [], "folds": 0}
    if not groups or n < 2:
        why = "no columns to compare" if not groups else f"too few rows ({n} per side) for 2 folds"
        return {**result, **nothing, "note": why}
    rng = np.random.default_rng(seed)
    # Balanced classes: an AUC is insensitive to the balance, but the classifier learns better
    # from equal shares, and subsampling bounds the cost.
    (x_real, x_synthetic), mask = tree_features([subsample(real, n, rng), subsample(synthetic, n, rng)], groups)
    x = np.concatenate([x_real, x_synthetic])
    y = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    k = min(folds, n)
    fold = grouped_folds(x, y, k, rng)
    aucs = []
    with one_thread():
        for index in range(k):
            test = fold == index
            if len(np.unique(y[test])) < 2 or len(np.unique(y[~test])) < 2:
                continue  # a fold of one class (tiny tables, big groups) has no AUC
            x_train, fold_mask, x_test = usable_features(x[~test], mask, x[test])
            model = HistGradientBoostingClassifier(
                max_iter=MAX_ITER, categorical_features=categorical_or_none(fold_mask), random_state=seed
            )
            model.fit(x_train, y[~test])
            aucs.append(float(roc_auc_score(y[test], model.predict_proba(x_test)[:, 1])))
    if not aucs:
        if len(np.unique(x, axis=0)) == 1:  # one row, repeated on both sides: indistinguishable
            return {**result, "auc": 0.5, "fold_aucs": [], "folds": 0, "note": "every row is the same row"}
        return {**result, **nothing, "note": "no fold held rows of both tables (too few distinct rows)"}
    return {**result, "auc": float(np.mean(aucs)), "fold_aucs": aucs, "folds": len(aucs)}


def detection_auc(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], *, folds: int = 5, seed: int = 0
) -> float:
    """Return the ROC AUC (in [0, 1]; 0.5 = indistinguishable, 1 = always told apart) of a
    classifier telling ``synthetic`` rows from ``real`` rows, the mean over ``folds``-fold
    cross-validation (fewer folds for tiny tables).

    The bigger side is subsampled (seeded) to the smaller one's size, so the classes are
    balanced. Rows identical in every compared cell share a fold, and the folds are stratified
    by whether a row occurs in the real table, the synthetic one, or both (see
    :func:`grouped_folds`): two identical tables score 0.5. The classifier is
    HistGradientBoosting on the columns of ``kinds`` (numbers as they are, categories as codes,
    missing cells natively). NaN when there are no columns, fewer than 2 rows per side, or no
    fold holds rows of both tables."""
    return detection_details(real, synthetic, kinds, folds=folds, seed=seed)["auc"]
