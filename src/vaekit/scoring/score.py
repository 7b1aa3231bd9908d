"""Scoring chunks of examples with a run (and a background run), and the run's stored threshold."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vaekit.data.tables.cells import json_scalar
from vaekit.evaluation.calibration import Calibration, load_calibration
from vaekit.evaluation.scores import ScoredBatch, check_score_kind, score_examples
from vaekit.runtime import distributed
from vaekit.runtime.errors import ConfigError, DataError, VaekitWarning
from vaekit.scoring.records import INFINITE_SHOWN, ScoreChunk, Scores, ScoreSource
from vaekit.scoring.sources import Examples, score_source, table_codec

if TYPE_CHECKING:
    from vaekit.api import TrainedVAE

#: the streams of posterior draws (see :func:`vaekit.evaluation.scores.example_seeds`): the
#: model's and the background model's draws for one example are independent
MODEL_DRAWS, BACKGROUND_DRAWS = 0, 2


def _rows_counter(on_rows: Callable[[int], None], share: int, rows: int) -> Callable[[ScoredBatch], None]:
    """Return the ``on_batch`` of a chunk of ``rows`` examples split over ``share`` processes: it
    passes ``on_rows`` each of this process's batches ``share`` times over, up to ``rows`` in all.
    The other processes score as many rows meanwhile, except in the chunk's last round of
    batches, which may hold fewer batches than processes."""
    counted = 0

    def on_batch(scored: ScoredBatch) -> None:
        nonlocal counted
        n = min(len(scored.scores) * share, rows - counted)
        counted += n
        on_rows(n)

    return on_batch


def iter_scores(
    vae: TrainedVAE,
    source: ScoreSource,
    *,
    kind: str = "nll",
    k: int | None = None,
    seed: int = 0,
    explain: bool = False,
    fast: str = "auto",
    on_rows: Callable[[int], None] | None = None,
    keep_examples: bool = False,
    background: TrainedVAE | None = None,
) -> Iterator[Scores]:
    """Yield the :class:`Scores` of each chunk of ``source`` in order (a table's in its
    columns' units). Each example's posterior draws come from a generator seeded by ``seed``
    and the example's values, so its score does not depend on the other examples, their order,
    the chunking, the batches or the number of processes. ``on_rows(n)`` is called
    after each batch of ``n`` examples; ``keep_examples`` attaches each chunk's examples as
    the model saw them (for pictures of the most unusual).

    With a ``background`` model (another run on data of the same shape, e.g. a much smaller
    VAE, or one trained on broader data), each score is the model's minus the background's
    (a log-likelihood ratio, in nats): what the background also finds likely, such as simple
    images with few strokes, stops looking typical (docs/scores.md)."""
    model = vae.model
    k = check_score_kind(model, kind, k)
    if background is not None:
        check_background(vae, background, kind, k)
    share = distributed.world().size
    for chunk in source.chunks:
        on_batch = None if on_rows is None else _rows_counter(on_rows, share, len(chunk.x))
        scored = score_examples(
            model, [(chunk.x, chunk.y)], kind, k, seed=seed, stream=MODEL_DRAWS, explain=explain,
            fast=fast, on_batch=on_batch, keep=True, sharded=True,
        )  # fmt: skip
        if background is not None:
            y = chunk.y if background.conditional else None
            other = score_examples(
                background.model, [(chunk.x.to(background.device), y)], kind, k, seed=seed, stream=BACKGROUND_DRAWS,
                explain=explain, fast=fast, keep=True, sharded=True,
            )  # fmt: skip
            scored = ScoredBatch(
                scored.scores - other.scores,
                None if scored.terms is None else scored.terms - other.terms,  # type: ignore[operator]
                None if scored.latent is None else scored.latent - other.latent,  # type: ignore[operator]
            )
        scores = scored.scores.numpy()
        contributions = latent = None
        if explain and scored.terms is not None:
            latent = scored.latent.numpy()  # type: ignore[union-attr]
            contributions = _feature_terms(vae, scored.terms.numpy())
        if chunk.offset is not None and background is None:  # a ratio's change of variables cancels
            scores = scores + chunk.offset
        overflowed = np.isnan(scores)
        # Values millions of spreads from the training data overflow the posterior's float32
        # arithmetic; such an example is as unusual as one with an unseen category.
        scores = np.where(overflowed, np.inf, scores)
        if chunk.unseen is not None:
            scores = np.where(chunk.unseen.any(1), np.inf, scores)
            if contributions is not None:
                contributions = np.where(chunk.unseen, np.inf, contributions)
        yield Scores(
            ids=chunk.ids, scores=scores, kind=kind, k=k, contributions=contributions, latent=latent,
            features=source.features, id_name=source.id_name, labels=chunk.labels, input_shape=vae.input_shape,
            examples=chunk.x if keep_examples else None, classes=chunk.y if keep_examples else None,
            units=chunk.offset if explain and chunk.offset is not None and background is None else None,
            infinite=_infinite_examples(chunk, scores, overflowed, source),
        )  # fmt: skip


def _infinite_examples(chunk: ScoreChunk, scores: np.ndarray, overflowed: np.ndarray, source: ScoreSource) -> list[str]:
    """Return the first examples of ``chunk`` that scored inf (at most ``INFINITE_SHOWN``),
    each named with why (the unseen category, or values whose score overflowed float32): by
    its id, else a table's by its 1-based data row and an array's by its index."""
    named = []
    for i in np.flatnonzero(np.isposinf(scores))[:INFINITE_SHOWN]:
        if source.id_name != "index":
            name = f"{source.id_name} {_plain(chunk.ids[i])}"
        else:
            name = f"row {int(chunk.ids[i]) + 1}" if source.features is not None else f"index {int(chunk.ids[i])}"
        if int(i) in chunk.unseen_cells:
            why = f"{chunk.unseen_cells[int(i)]}, never seen in training"
        elif overflowed[i]:
            why = "values too far outside the training data: its score overflows float32"
        else:
            why = "probability 0 under the model"
        named.append(f"{name} ({why})")
    return named


def _plain(value: Any) -> str:
    """Return an id as the file writes it: text quoted, numbers plain (no numpy repr)."""
    scalar = json_scalar(value)
    return repr(scalar) if isinstance(scalar, str) else str(scalar)


def describe_infinite(named: list[str], count: int) -> str:
    """Return the examples that scored inf for a message: the first ``named`` (see
    :attr:`Scores.infinite`) and "and N more" for the rest of ``count``."""
    shown = named[:INFINITE_SHOWN]
    more = count - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def check_background(vae: TrainedVAE, background: TrainedVAE, kind: str, k: int | None) -> None:
    """Raise ``ConfigError`` unless ``background`` scores the same examples as ``vae`` with the
    same kind of score: the same input shape (images and arrays only)."""
    check_score_kind(background.model, kind, k)
    if background.conditional and not vae.conditional:
        raise ConfigError("the background run is conditional and this one is not: train the background without labels")
    if background.config.input_dim != vae.config.input_dim or (background.config.table is None) != (vae.config.table is None):
        raise ConfigError(
            f"the background run takes examples of shape {tuple(background.input_shape)}, this run "
            f"{tuple(vae.input_shape)}: train the background on data of the same shape"
        )
    if vae.config.table is not None:
        raise ConfigError("a background model applies to runs on images and arrays; a table run scores without one")


def _feature_terms(vae: TrainedVAE, terms: np.ndarray) -> np.ndarray:
    """Return the likelihood's terms as one per feature: a table's column blocks summed by
    column (value and missingness); an image's pixels as they are."""
    if vae.config.table is None:
        if terms.shape[1] != vae.config.input_dim:
            raise ConfigError(
                f"the {vae.config.model.name} model's likelihood gives {terms.shape[1]} terms per example, not one per "
                f"pixel ({vae.config.input_dim}); explanations need a per-pixel likelihood"
            )
        return terms
    codec = table_codec(vae)
    modelled = [c.name for c in codec.schema.columns if c.kind != "ignore"]
    where = {name: j for j, name in enumerate(modelled)}
    out = np.zeros((len(terms), len(modelled)))
    for b, block in enumerate(codec.blocks):
        out[:, where[block["column"]]] += terms[:, b]
    return out


def score_data(
    vae: TrainedVAE,
    data: Any,
    *,
    kind: str = "nll",
    k: int | None = None,
    seed: int = 0,
    explain: bool = False,
    id_column: str | None = None,
    label_column: str | None = None,
    fast: str = "auto",
    background: TrainedVAE | None = None,
    labels: Any = None,
) -> Scores:
    """Return the scores of every example of ``data`` (see :func:`score_source` for what it
    may be) in one :class:`Scores`, in nats: higher is more unusual. ``kind`` is ``nll``
    (``k`` importance samples, 100 by default), ``elbo`` (mean over ``k`` draws, 10 by
    default) or ``recon``; ``explain`` adds per-feature contributions; ``background`` turns
    the scores into log-likelihood ratios against another run (see :func:`iter_scores`).
    ``labels`` are the class numbers ``[N]`` of an array's examples, for a conditional model."""
    if labels is not None:
        if not (torch.is_tensor(data) or isinstance(data, np.ndarray | list | tuple)):
            raise ConfigError("labels= goes with an array of examples; an .npz file carries its own y")
        array = data.detach().cpu().numpy() if torch.is_tensor(data) else np.asarray(data)
        y = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels)
        if y.dtype.kind not in "iu" or y.ndim != 1 or len(y) != len(array):
            raise DataError(f"labels= must be {len(array)} whole class numbers, one per example, got {y.dtype} {y.shape}")
        data = Examples(torch.as_tensor(array, dtype=torch.float32), torch.from_numpy(y.astype(np.int64)),
                        description="the examples", viewed=False)  # fmt: skip
    source = score_source(vae, data, id_column=id_column, label_column=label_column)
    parts = list(iter_scores(vae, source, kind=kind, k=k, seed=seed, explain=explain, fast=fast, background=background))
    scores = concatenate_scores(parts, kind, check_score_kind(vae.model, kind, k), source)
    infinite = int(np.isposinf(scores.scores).sum())
    if infinite:
        warnings.warn(VaekitWarning(
            f"{infinite} example(s) scored inf, probability 0 under the model: "
            f"{describe_infinite(scores.infinite, infinite)}; check those examples' values"
        ), stacklevel=2)  # fmt: skip
    return scores


def concatenate_scores(parts: list[Scores], kind: str, k: int | None, source: ScoreSource) -> Scores:
    """Return the chunks' :class:`Scores` as one."""
    if not parts:
        return Scores(np.zeros(0, dtype=np.int64), np.zeros(0), kind, k, features=source.features, id_name=source.id_name)
    first = parts[0]

    def joined(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else np.concatenate(values)

    return Scores(
        ids=joined("ids"), scores=joined("scores"), kind=kind, k=k, contributions=joined("contributions"),  # type: ignore[arg-type]
        latent=joined("latent"), features=first.features, id_name=first.id_name, labels=joined("labels"), units=joined("units"),
        input_shape=first.input_shape, infinite=[name for p in parts for name in p.infinite][:INFINITE_SHOWN],
    )  # fmt: skip


# --- thresholds -----------------------------------------------------------------------------


def run_calibration(vae: TrainedVAE) -> Calibration | None:
    """Return the threshold stored in ``vae``'s run folder, or None."""
    return load_calibration(vae.run_dir) if vae.run_dir is not None else None
