"""Machine-learning efficacy: does a model trained on synthetic rows predict held-out real rows as
well as the same model trained on real training rows? (HistGradientBoosting, for the reasons in
table_detection.py.)"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import (
    MISSING,
    categorical_or_none,
    category_keys,
    column_groups,
    number_values,
    one_thread,
    subsample,
    tree_features,
    usable_features,
)
from vaekit.evaluation.table_detection import MAX_ITER
from vaekit.runtime.errors import DataError

#: Rows per table that the efficacy models train on (and score on) at most.
EFFICACY_MAX_ROWS = 50_000


def pick_target(kinds: Mapping[str, str], target: str | None = None) -> tuple[str | None, str | None]:
    """Return ``(target column, "category" or "number")``: ``target`` when given (``ValueError``
    when it is no modelled column of ``kinds``), else the last category column, else the last
    number column; ``(None, None)`` when there are no columns."""
    groups = column_groups(kinds)
    if target is not None:
        found = dict(groups).get(target)
        if found is None:
            raise DataError(
            f"target {target!r} is not a modelled column; choose one of {', '.join(g[0] for g in groups)}"
        )
        return target, found
    for wanted in ("category", "number"):
        for name, group in reversed(groups):
            if group == wanted:
                return name, group
    return None, None


def _scores(task: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if task == "category":
        return {
            "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        }
    # R^2 needs a spread in the truth; below 2 rows (or with a constant truth) it says nothing.
    if truth.size < 2 or np.ptp(truth) == 0:
        return {"r2": float("nan")}
    return {"r2": float(r2_score(truth, predicted))}


def _fit_predict(task: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, mask: np.ndarray, seed: int):
    """Fit the task's HistGradientBoosting model on ``(x, y)`` and predict ``x_test``; a single
    training class predicts that class (the classifier cannot be fitted on one class)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "category" and len(np.unique(y)) < 2:
        return np.full(len(x_test), y[0], dtype=object)
    kind = HistGradientBoostingClassifier if task == "category" else HistGradientBoostingRegressor
    x, mask, x_test = usable_features(x, mask, x_test)
    model = kind(max_iter=MAX_ITER, categorical_features=categorical_or_none(mask), random_state=seed)
    model.fit(x, y)
    return model.predict(x_test)


def ml_efficacy(
    train_real: pd.DataFrame,
    synthetic: pd.DataFrame,
    test_real: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the same model on synthetic rows and on real training rows, score both on held-out
    real rows, and return ``{"target", "task", "model", "real", "synthetic", "ratio", "rows"[, "note"]}``.

    ``target``: given, else the last category column of ``kinds``, else the last number.
    ``task``: ``"classification"`` (category target; scores ``accuracy`` and ``macro_f1``, fractions
    in [0, 1]) or ``"regression"`` (number target; score ``r2``, the coefficient of determination,
    at most 1, in no unit). ``real``/``synthetic``: the scores of the model trained on real
    training rows / on synthetic rows; ``ratio``: synthetic / real per score (1 = as useful as
    real data; NaN when the real score is not positive). ``rows``: rows used per table. Rows with
    a missing target are dropped; missing features are handled by the model
    (HistGradientBoosting). Scores are NaN, with a note, when a side has no usable rows."""
    name, group = pick_target(kinds, target)
    if name is None:
        return {"target": None, "task": None, "note": "no columns: nothing to predict"}
    task = "classification" if group == "category" else "regression"
    features = [g for g in column_groups(kinds) if g[0] != name]
    rng = np.random.default_rng(seed)
    tables = [subsample(t, EFFICACY_MAX_ROWS, rng) for t in (train_real, synthetic, test_real)]
    if group == "category":
        targets = [category_keys(t, name) for t in tables]
        keep = [y != MISSING for y in targets]
    else:
        targets = [number_values(t, name) for t in tables]
        keep = [~np.isnan(y) for y in targets]
    tables = [t[k] for t, k in zip(tables, keep, strict=True)]
    targets = [y[k] for y, k in zip(targets, keep, strict=True)]
    (x_train, x_synthetic, x_test), mask = tree_features(tables, features)
    result: dict[str, Any] = {
        "target": name,
        "task": task,
        "model": "HistGradientBoostingClassifier" if group == "category" else "HistGradientBoostingRegressor",
        "rows": {"train_real": len(x_train), "synthetic": len(x_synthetic), "test_real": len(x_test)},
    }
    empty = {"accuracy": float("nan"), "macro_f1": float("nan")} if group == "category" else {"r2": float("nan")}
    notes = []
    scores = {}
    for side, x, y in (("real", x_train, targets[0]), ("synthetic", x_synthetic, targets[1])):
        if not len(x) or not len(x_test):
            scores[side] = dict(empty)
            notes.append(f"no {'test' if len(x) else side + ' training'} rows with a {name!r} value")
            continue
        with warnings.catch_warnings(), one_thread():
            warnings.simplefilter("ignore")  # e.g. a class absent from the test rows
            scores[side] = _scores(group, targets[2], _fit_predict(group, x, y, x_test, mask, seed))
    result["real"], result["synthetic"] = scores["real"], scores["synthetic"]
    result["ratio"] = {
        key: (scores["synthetic"][key] / scores["real"][key] if scores["real"][key] > 0 else float("nan"))
        for key in scores["real"]
    }
    if notes:
        result["note"] = "; ".join(dict.fromkeys(notes))
    return result
