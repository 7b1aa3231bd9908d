"""Privacy check: distance from each synthetic row to its closest training row (DCR), against the
same distance for held-out real rows (rows the model never saw) as the reference.

A generator that copies or nearly copies its training rows puts synthetic rows closer to the
training rows than new real rows are: a synthetic median or 5th percentile well below the
holdout's is the warning sign, and exact copies of training rows are counted outright.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vaekit.evaluation.table_columns import (
    category_keys,
    column_groups,
    number_values,
    shared_codes,
    subsample,
)

#: Synthetic and holdout rows whose nearest training row is looked up, at most (seeded subsample).
DCR_MAX_QUERY = 5_000
#: Training rows searched, at most (the exact-copy count always uses every row).
DCR_MAX_TRAIN = 20_000
#: At most this many one-hot slots per category column (rarer categories share one).
DCR_MAX_CODES = 50


def _common_space(frames: Sequence[pd.DataFrame], groups: Sequence[tuple[str, str]]) -> list[np.ndarray]:
    """Return each frame as float64 ``[N, W]`` in one space: numbers scaled by the training
    (first frame's) range, so each adds at most about 1 to a squared distance, a missing number
    as 0 plus an indicator slot of 1; categories one-hot scaled by 1/sqrt(2), so a mismatch adds
    exactly 1, missing as a category of its own."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name, group in groups:
        if group == "number":
            parts = [number_values(frame, name) for frame in frames]
            train = parts[0][~np.isnan(parts[0])]
            low, span = (float(train.min()), float(np.ptp(train))) if train.size else (0.0, 0.0)
            span = span if span > 0 else 1.0
            any_missing = any(np.isnan(p).any() for p in parts)
            for out, p in zip(blocks, parts, strict=True):
                missing = np.isnan(p)
                out.append(np.where(missing, 0.0, (p - low) / span)[:, None])
                if any_missing:
                    out.append(missing.astype(np.float64)[:, None])
        else:
            parts, vocabulary = shared_codes([category_keys(frame, name) for frame in frames], limit=DCR_MAX_CODES)
            eye = np.eye(len(vocabulary)) / np.sqrt(2.0)
            for out, codes in zip(blocks, parts, strict=True):
                out.append(eye[codes])
    return [np.concatenate(b, axis=1) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames, strict=True)]


def _row_identities(frames: Sequence[pd.DataFrame], groups: Sequence[tuple[str, str]]) -> list[np.ndarray]:
    """Return float64 ``[N, C]`` per frame that is equal for two rows exactly when their cells are
    (numbers as they are, missing as +inf; categories by shared, uncapped code)."""
    columns: list[list[np.ndarray]] = [[] for _ in frames]
    for name, group in groups:
        if group == "number":
            parts = [np.nan_to_num(number_values(f, name), nan=np.inf) + 0.0 for f in frames]  # + 0.0: -0.0 == 0.0
        else:
            parts, _ = shared_codes([category_keys(f, name) for f in frames])
        for out, part in zip(columns, parts, strict=True):
            out.append(np.asarray(part, dtype=np.float64))
    return [np.column_stack(c) if c else np.zeros((len(f), 0)) for c, f in zip(columns, frames, strict=True)]


def _copy_share(rows: np.ndarray, train: set[bytes]) -> float:
    if not len(rows):
        return float("nan")
    return float(np.mean([np.ascontiguousarray(r).tobytes() in train for r in rows]))


def _repeat_share(rows: np.ndarray) -> float:
    """Return the share of ``rows`` identical to another of ``rows`` (NaN for none)."""
    if not len(rows):
        return float("nan")
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[np.ravel(inverse)] > 1))


def _summary(distances: np.ndarray) -> dict[str, float]:
    if not distances.size:
        return {"median": float("nan"), "p5": float("nan")}
    return {"median": float(np.median(distances)), "p5": float(np.percentile(distances, 5))}


def distance_to_closest_record(
    train_real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout_real: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Return the distance to the closest training record (DCR) of synthetic rows and, as the
    reference, of held-out real rows:

    ``{"synthetic": {"median", "p5"}, "holdout": {"median", "p5"}, "median_ratio",
    "exact_copies": {"synthetic", "holdout"}, "rows": {...}, "space"[, "note"]}``.

    Distances are Euclidean in a common space: each number scaled by its training range (so a
    number adds at most about 1 to the squared distance), a missing number as 0 plus a missing
    indicator, each category one-hot scaled so that a mismatch adds exactly 1 (missing is a
    category). So distances are in "column mismatches" units: sqrt(k) for k fully mismatched
    columns. ``p5`` is the 5th percentile. ``median_ratio`` = synthetic median / holdout median
    (well below 1: synthetic rows sit closer to the training rows than new real rows do).
    ``exact_copies``: the share (fraction) of synthetic rows, and of holdout rows, identical in
    every modelled cell to some training row, counted over all rows, and of training rows
    identical to another training row (how often real rows repeat by chance). The nearest-neighbour
    search uses at most ``DCR_MAX_QUERY`` synthetic and holdout rows and ``DCR_MAX_TRAIN``
    training rows (seeded subsamples). NaN where a side has no rows or there are no columns."""
    from sklearn.neighbors import NearestNeighbors

    groups = column_groups(kinds)
    result: dict[str, Any] = {
        "space": "numbers scaled by the training range (+ missing indicators), categories one-hot "
        "scaled so a mismatch adds 1 to the squared distance; Euclidean",
    }
    identities = _row_identities([train_real, synthetic, holdout_real], groups)
    seen = {np.ascontiguousarray(r).tobytes() for r in identities[0]}
    result["exact_copies"] = {
        "synthetic": _copy_share(identities[1], seen),
        "holdout": _copy_share(identities[2], seen),
        "train": _repeat_share(identities[0]),
    }
    rng = np.random.default_rng(seed)
    train = subsample(train_real, DCR_MAX_TRAIN, rng)
    queries = [subsample(synthetic, DCR_MAX_QUERY, rng), subsample(holdout_real, DCR_MAX_QUERY, rng)]
    result["rows"] = {"train": len(train), "synthetic": len(queries[0]), "holdout": len(queries[1])}
    if not groups or not len(train):
        empty = {"median": float("nan"), "p5": float("nan")}
        why = "no columns to compare" if not groups else "no training rows"
        return {**result, "synthetic": empty, "holdout": dict(empty), "median_ratio": float("nan"), "note": why}
    space = _common_space([train, *queries], groups)
    # Brute force: exact, and faster than trees in tens to hundreds of dimensions.
    search = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(space[0])
    for side, points in zip(("synthetic", "holdout"), space[1:], strict=True):
        distances = search.kneighbors(points, return_distance=True)[0][:, 0] if len(points) else np.empty(0)
        result[side] = _summary(distances)
    reference = result["holdout"]["median"]
    result["median_ratio"] = result["synthetic"]["median"] / reference if reference > 0 else float("nan")
    return result
