"""Anomaly scores of a trained run on any data it can read: per example, in nats, higher is
more unusual, with explanations, a stored threshold, and a PyOD-style detector.

The kinds (``nll``, ``elbo``, ``recon``) and what they measure are in
:mod:`vaekit.evaluation.scores` and docs/scores.md. Data come in chunks of ``CHUNK_ROWS``
examples (a ``.npy`` file memory-mapped, a table file by row blocks), so a file of any size is
scored in bounded memory, with the same numbers whatever the chunking: the posterior draws come
from one generator consumed in example order.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vaekit.evaluation.calibration import Calibration, load_calibration
from vaekit.evaluation.scores import ScoredBatch, check_score_kind, score_examples
from vaekit.runtime import distributed
from vaekit.runtime.errors import ConfigError, DataError, VaekitWarning

if TYPE_CHECKING:
    from vaekit.api import TrainedVAE

#: examples read, converted and scored at a time
CHUNK_ROWS = 10_000
#: the writable score files
SCORE_SUFFIXES = (".csv", ".tsv", ".parquet", ".npy")


@dataclass
class ScoreChunk:
    """One chunk of examples as the model sees them, with what the output needs of them.

    ``ids`` name the rows (their position in the data, or an id column's values); for tables,
    ``offset`` ``[n]`` is the change of variables (nats) that turns the model's scores into
    scores in the columns' own units; ``labels`` are anomaly labels read from a column of the
    data."""

    x: torch.Tensor
    y: torch.Tensor | None
    ids: np.ndarray
    offset: np.ndarray | None = None
    #: a table's cells holding a category never seen in training, ``[n, C]`` bool over the
    #: modelled columns: the model gives them probability 0, so their rows score +inf
    unseen: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclass
class ScoreSource:
    """The chunks of some data for one run: ``total`` examples (None when unknown before
    reading, e.g. a CSV), ``id_name`` the name of the id column, ``features`` the names of a
    table's columns (None for images), and ``chunks`` the iterator."""

    chunks: Iterator[ScoreChunk]
    total: int | None
    id_name: str = "index"
    features: list[str] | None = None
    description: str = ""


@dataclass
class Scores:
    """Scores of examples (from :func:`score_data`): ``ids`` and ``scores`` ``[N]`` (nats,
    higher is more unusual); with ``explain``, ``contributions`` ``[N, F]`` (each feature's
    share: a pixel's or a column's reconstruction cost, nats) and ``latent`` ``[N]`` (the rest:
    KL and, for ``nll``, the importance weighting's gain), which add up to the scores.

    A table's contributions are in the model's units (numbers standardised), so that a column
    in grams and one in millimetres compare; ``units`` ``[N]`` is each row's change of
    variables to the columns' own units (a constant per standardised column), and
    contributions + latent + units = scores."""

    ids: np.ndarray
    scores: np.ndarray
    kind: str
    k: int | None
    contributions: np.ndarray | None = None
    latent: np.ndarray | None = None
    features: list[str] | None = None
    id_name: str = "index"
    labels: np.ndarray | None = field(default=None, repr=False)
    input_shape: tuple[int, ...] = ()
    units: np.ndarray | None = None
    #: the chunk's examples as the model saw them (``iter_scores(..., keep_examples=True)``)
    examples: torch.Tensor | None = field(default=None, repr=False)
    #: the chunk's class labels, for conditional models (with ``examples``)
    classes: torch.Tensor | None = field(default=None, repr=False)

    def maps(self) -> np.ndarray:
        """Return the contributions of an image run as maps ``[N, *input_shape]`` (nats per
        pixel value); ``ConfigError`` without an explanation or for a table."""
        if self.contributions is None or self.features is not None:
            raise ConfigError("per-pixel maps need an image run scored with explain=True")
        return self.contributions.reshape(len(self.contributions), *self.input_shape)

    def frame(self) -> Any:
        """Return a pandas DataFrame: the id column, ``score`` and, with an explanation, one
        column per feature (a table's column names, or ``pixel_<i>``) and ``latent``."""
        import pandas as pd

        data: dict[str, Any] = {self.id_name: self.ids, "score": self.scores}
        if self.contributions is not None:
            names = self.features or [f"pixel_{i}" for i in range(self.contributions.shape[1])]
            data.update({f"contribution_{n}": self.contributions[:, j] for j, n in enumerate(names)})
            data["contribution_latent"] = self.latent
            if self.units is not None:
                data["contribution_units"] = self.units
        return pd.DataFrame(data)


# --- reading data as the model sees it ------------------------------------------------------


def table_codec(vae: TrainedVAE) -> Any:
    """Return the table codec of a table run (its config's ``table``)."""
    from vaekit.data.tables import TableCodec

    if vae.config.table is None:
        raise ConfigError(f"{vae.run_dir or 'this model'} was not trained on a table; this needs a table run")
    return TableCodec.from_dict(vae.config.table)


def _model_view(vae: TrainedVAE, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Return float32 examples ``x`` (model units) as the model sees them at evaluation: the
    run's fixed binarisation or dequantisation, drawn from ``generator`` in example order."""
    from vaekit.data.units import check_unit_range
    from vaekit.data.views import dequantize_uniform

    cfg = vae.config
    check_unit_range(x, cfg.value_range)
    if cfg.data.binarize != "none":
        return torch.bernoulli(x, generator=generator)
    if cfg.data.dequantize == "uniform" and cfg.levels is not None:
        return dequantize_uniform(x, cfg.levels, generator)
    return x


def _check_8_bit(vae: TrainedVAE) -> None:
    """Raise ``DataError`` when uint8 examples cannot be read as 8-bit pixels for ``vae``: its
    training data had other grey levels (the bundled digits: 0..16)."""
    from vaekit.data.levels import check_grey_levels, run_grey_levels
    from vaekit.data.units import MAX_UINT8_LEVELS

    check_grey_levels(MAX_UINT8_LEVELS, run_grey_levels(vae.config))


def _array_chunks(
    vae: TrainedVAE, array: Any, labels: Any, chunk_rows: int, viewed: bool = False, ids: np.ndarray | None = None
) -> Iterator[ScoreChunk]:
    """Yield chunks of an in-memory or memory-mapped array of examples (uint8 grey levels or
    floats in model units), the class labels ``labels`` going to conditional models. With
    ``viewed`` the examples already went through the run's evaluation view; ``ids`` name the
    examples (their positions where None)."""
    from vaekit.data.units import MAX_UINT8_LEVELS, to_model_units
    from vaekit.data.views import EVAL_BINARIZE_SEED

    cfg = vae.config
    generator = torch.Generator().manual_seed(EVAL_BINARIZE_SEED)
    n = len(array)
    for lo in range(0, n, chunk_rows):
        part = np.array(array[lo : lo + chunk_rows])  # a writable copy: memory-mapped rows are read-only
        if part.dtype.kind not in "buf":
            raise DataError(f"examples of dtype {part.dtype} cannot be scored; give floats in model units or uint8 grey levels")
        width = int(np.prod(part.shape[1:])) if part.ndim > 1 else 1
        if width != cfg.input_dim:
            raise DataError(
                f"the data have {width} values per example; this run's model takes {cfg.input_dim} "
                f"(examples of shape {tuple(cfg.input_shape or ())}): score data shaped like its training data"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(part))
        if tensor.dtype == torch.uint8 and not viewed:
            _check_8_bit(vae)
            tensor = to_model_units(tensor, MAX_UINT8_LEVELS)  # 8-bit pixels, as the .npy reader reads them
        tensor = tensor.to(torch.float32).reshape(len(tensor), -1)
        if tensor.shape[1] != cfg.input_dim:
            raise DataError(
                f"the data have {tensor.shape[1]} values per example; this run's model takes {cfg.input_dim} "
                f"(examples of shape {tuple(cfg.input_shape or ())}): score data shaped like its training data"
            )
        if not torch.isfinite(tensor).all():
            raise DataError("the examples contain NaN or inf; remove or fix those examples")
        x = (tensor if viewed else _model_view(vae, tensor, generator)).to(vae.device)
        y = None
        if vae.conditional:
            if labels is None:
                raise ConfigError(
                    f"model {cfg.model.name!r} is conditional: scoring needs each example's class "
                    "(labels= in Python, an .npz with arrays x and y, or the run's own data with --split)"
                )
            y = torch.as_tensor(np.asarray(labels[lo : lo + chunk_rows]), dtype=torch.long, device=vae.device)
        offset = None
        if cfg.data.dequantize == "uniform" and cfg.levels:
            # As `vaekit evaluate`: the density of dequantised data bounds the discrete data's
            # probability once D log(levels) nats are added.
            offset = np.full(len(part), cfg.input_dim * math.log(cfg.levels))
        names = np.arange(lo, lo + len(part)) if ids is None else ids[lo : lo + len(part)]
        yield ScoreChunk(x=x, y=y, ids=names, offset=offset)


def _table_chunks(
    vae: TrainedVAE,
    frames: Iterator[Any],
    id_column: str | None,
    label_column: str | None,
) -> Iterator[ScoreChunk]:
    """Yield the chunks of a table run's rows: encoded by the run's codec, with each row's id
    (``id_column``, or its position) and anomaly label (``label_column``), which are dropped
    before encoding unless the model takes them."""
    from vaekit.evaluation.anomaly_metrics import anomaly_labels

    codec = table_codec(vae)
    modelled = [c.name for c in codec.schema.columns if c.kind != "ignore"]
    known = set(codec.schema.names)
    position = 0
    for frame in frames:
        for name, what in ((id_column, "--id-column"), (label_column, "--labels")):
            if name is not None and name not in frame.columns:
                raise DataError(f"{what} {name!r} is not a column of the data; its columns are {', '.join(map(str, frame.columns))}")
        ids = frame[id_column].to_numpy() if id_column is not None else np.arange(position, position + len(frame))
        labels = anomaly_labels(frame[label_column], f"column {label_column!r}") if label_column is not None else None
        # The id and the label are not the model's to see (an ignored id column may stay).
        drop = {c for c in (id_column, label_column) if c is not None and c not in modelled and (c == label_column or c not in known)}
        rows = frame.drop(columns=sorted(drop))
        rows, unseen = _without_unseen_categories(rows, codec)
        x = torch.as_tensor(codec.encode(rows), dtype=torch.float32, device=vae.device)
        y_codes = codec.labels(rows)
        y = None if y_codes is None else torch.as_tensor(y_codes, dtype=torch.long, device=vae.device)
        yield ScoreChunk(x=x, y=y, ids=ids, offset=-codec.log_jacobian(rows), labels=labels, unseen=unseen)
        position += len(frame)


def _without_unseen_categories(rows: Any, codec: Any) -> tuple[Any, np.ndarray | None]:
    """Return ``rows`` with the cells that hold a category never seen in training emptied (so
    that the rest of the row can be encoded), and where they were (``[n, C]`` over the modelled
    columns), or None when there are none."""
    from vaekit.data.tables.schema import CATEGORY_KINDS
    from vaekit.data.tables.values import unseen_categories

    modelled = [c for c in codec.schema.columns if c.kind != "ignore"]
    unseen = np.zeros((len(rows), len(modelled)), dtype=bool)
    for j, column in enumerate(modelled):
        if column.kind in CATEGORY_KINDS and column.name in rows.columns:
            unseen[:, j] = unseen_categories(rows, column)
    if not unseen.any():
        return rows, None
    rows = rows.copy()
    for j, column in enumerate(modelled):
        if unseen[:, j].any():
            values = rows[column.name].astype(object)
            values[unseen[:, j]] = None
            rows[column.name] = values
    return rows, unseen


def score_source(
    vae: TrainedVAE,
    data: Any,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ScoreSource:
    """Return the chunks of ``data`` for scoring with ``vae``.

    ``data`` is, for a table run, a DataFrame or a .csv/.tsv/.parquet path (read in row
    blocks); for other runs an array or tensor of examples (floats in model units), a ``.npy``
    file (memory-mapped; uint8 as 8-bit pixels), an ``.npz`` (arrays ``x`` and optional class
    labels ``y``; read whole), or :class:`Examples`. Dataset names, folders and text files of
    numbers go through :func:`vaekit.detector.scoring_data`. ``id_column`` and
    ``label_column`` name a table's id and anomaly label columns."""
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if vae.config.table is not None:
        return _table_source(vae, data, id_column, label_column, chunk_rows)
    if id_column is not None or label_column is not None:
        raise ConfigError("--id-column and a labels column apply to tables; for images give --labels a file with one 0/1 per example")
    if isinstance(data, Examples):
        chunks = _array_chunks(vae, _Rows(data.x), data.y, chunk_rows, viewed=data.viewed, ids=data.ids)
        return ScoreSource(chunks, len(data.x), description=data.description, id_name=data.id_name)
    if isinstance(data, list | tuple):
        data = np.asarray(data)  # nested lists of numbers, as encode takes them
        if data.dtype.kind not in "biuf":
            raise DataError(f"the examples must be numbers, got an array of {data.dtype}; give a numeric array")
    if torch.is_tensor(data) or isinstance(data, np.ndarray):
        array = data.detach().cpu().numpy() if torch.is_tensor(data) else data
        if array.dtype == np.uint8:
            raise DataError(
                "the examples are uint8 (grey levels 0..levels-1, as datasets store images); convert them to model "
                "units first (bundle.as_float('test'), or x / 255 for 8-bit pixels), or score the .npy file itself"
            )
        shape = tuple(vae.input_shape)
        if array.shape in (shape, shape[1:]) or (array.ndim == 1 and array.size == vae.config.input_dim):
            array = array[None]  # one example
        return ScoreSource(_array_chunks(vae, array, None, chunk_rows), len(array), description="the examples")
    if not isinstance(data, str | os.PathLike):
        raise DataError(f"cannot score {type(data).__name__}: give an array, a tensor or a data file")
    path = Path(data)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        from vaekit.data.arrays import load_npy

        if not path.is_file():
            raise DataError(f"{path}: no such file")
        try:
            array: Any = _NpyRows(path)
        except (OSError, ValueError) as exc:
            load_npy(path)  # raises the reader's own message
            raise DataError(f"{path}: cannot be read ({exc})") from None
        return ScoreSource(_array_chunks(vae, array, None, chunk_rows), len(array), description=str(path))
    if suffix == ".npz":
        from vaekit.data.arrays import load_npz

        x, y = load_npz(path)
        return ScoreSource(_array_chunks(vae, x, y, chunk_rows), len(x), description=str(path))
    raise DataError(
        f"{data}: scores are read from .npy/.npz files, arrays, or tables; for a dataset name or folder use "
        "`vaekit score RUN --data NAME --split test`, or vaekit.api.resolve_eval_data and score its examples"
    )


@dataclass
class Examples:
    """Examples already as the model sees them at evaluation (``vaekit.api.resolve_eval_data``
    binarises and dequantises a run's data with fixed seeds), with class labels ``y`` for
    conditional models."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    description: str = "the examples"
    #: False: model units not yet binarised or dequantised as the run does at evaluation
    viewed: bool = True
    #: what names each example (``[N]``, e.g. an image folder's file names), or None: positions
    ids: np.ndarray | None = None
    #: the name of the ids' column in the scores written
    id_name: str = "index"


class _NpyRows:
    """The rows of a ``.npy`` file, read block by block from the file into fresh memory.

    Not a memory map: the pages of a mapped file count in the process's resident memory as
    they are read, so scoring a large file would grow to the file's size."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject:
            raise ValueError("a Fortran-ordered or object array; save it with numpy.save(path, np.ascontiguousarray(x))")
        self.path, self.shape, self.dtype = path, tuple(shape), dtype
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 1

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(len(self))
        out = np.empty((max(stop - start, 0), *self.shape[1:]), dtype=self.dtype)
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.row_bytes)
            if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise DataError(f"{self.path}: the file is shorter than its header says; save it again")
        return out


class _Rows:
    """A tensor of examples read as numpy row blocks."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.x[rows].cpu().numpy()


def _table_source(vae: TrainedVAE, data: Any, id_column: str | None, label_column: str | None, chunk_rows: int) -> ScoreSource:
    from vaekit.data.load import is_data_frame
    from vaekit.data.tables import iter_table_chunks, read_table

    codec = table_codec(vae)
    features = [c.name for c in codec.schema.columns if c.kind != "ignore"]
    default_id = id_column is None
    if default_id:
        ignored = [c.name for c in codec.schema.columns if c.kind == "ignore"]
        id_column = ignored[0] if ignored else None
    if is_data_frame(data):
        frame = read_table(data)
        if default_id and id_column is not None and id_column not in frame.columns:
            id_column = None
        frames: Iterator[Any] = (frame.iloc[i : i + chunk_rows] for i in range(0, len(frame), chunk_rows))
        total: int | None = len(frame)
        description = "the DataFrame"
    elif isinstance(data, str | os.PathLike):
        path = Path(data)
        first = next(iter_table_chunks(path, 1), None)  # reads a header and one row: errors come early
        if default_id and id_column is not None and first is not None and id_column not in first.columns:
            id_column = None
        frames = iter_table_chunks(path, chunk_rows)
        total = _table_rows(path)
        description = str(path)
    else:
        raise DataError(f"a table run scores a DataFrame or a .csv/.tsv/.parquet file, got {type(data).__name__}")
    return ScoreSource(
        _table_chunks(vae, frames, id_column, label_column), total, id_name=id_column or "index",
        features=features, description=description,
    )  # fmt: skip


def _table_rows(path: Path) -> int | None:
    """Return the number of rows of a Parquet file from its footer (None for text files,
    whose count needs a pass over the file)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


# --- scoring --------------------------------------------------------------------------------


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
    columns' units). One generator seeded with ``seed`` gives every chunk's posterior draws,
    in example order, so the chunking does not change the numbers. ``on_rows(n)`` is called
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
    generators: list[torch.Generator] = []
    share = distributed.world().size
    for chunk in source.chunks:
        if not generators:
            generators = [torch.Generator(device=chunk.x.device).manual_seed(seed + i) for i in range(4)]
        on_batch = None if on_rows is None else _rows_counter(on_rows, share, len(chunk.x))
        scored = score_examples(
            model, [(chunk.x, chunk.y)], kind, k, generator=generators[0], explain=explain,
            explain_generator=generators[1], fast=fast, on_batch=on_batch, keep=True, sharded=True,
        )  # fmt: skip
        if background is not None:
            y = chunk.y if background.conditional else None
            other = score_examples(
                background.model, [(chunk.x.to(background.device), y)], kind, k, generator=generators[2],
                explain=explain, explain_generator=generators[3], fast=fast, keep=True, sharded=True,
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
        if overflowed.any():
            # Values millions of spreads from the training data overflow the posterior's float32
            # arithmetic; such an example is as unusual as one with an unseen category.
            shown = ", ".join(str(i) for i in chunk.ids[overflowed][:5])
            warnings.warn(VaekitWarning(
                f"{int(overflowed.sum())} example(s) ({source.id_name} {shown}{', ...' if overflowed.sum() > 5 else ''}) "
                "lie so far outside the training data that their score overflows float32; they are scored inf "
                "(the most unusual): check those examples' values"
            ), stacklevel=2)  # fmt: skip
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
        )  # fmt: skip


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
    return concatenate_scores(parts, kind, check_score_kind(vae.model, kind, k), source)


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
        input_shape=first.input_shape,
    )  # fmt: skip


# --- thresholds -----------------------------------------------------------------------------


def run_calibration(vae: TrainedVAE) -> Calibration | None:
    """Return the threshold stored in ``vae``'s run folder, or None."""
    return load_calibration(vae.run_dir) if vae.run_dir is not None else None


# --- writing --------------------------------------------------------------------------------


def score_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` after checking it names a score file (.csv, .tsv, .parquet or .npy)
    whose folder is (or can be) a folder."""
    path = Path(path)
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(f"--out {path}: {above} is a file, not a folder; write the scores somewhere else")
    if path.suffix.lower() not in SCORE_SUFFIXES:
        raise ConfigError(f"--out {path}: scores are written as {', '.join(SCORE_SUFFIXES)}; name the file with one of them")
    if path.is_dir():
        raise ConfigError(f"--out {path} is a folder; name a file such as {path / 'scores.csv'}")
    return path


class ScoreWriter:
    """Writes score rows chunk by chunk into a temporary file beside ``path`` and moves it into
    place at :meth:`close`, so a failure never leaves a half-written file (nor removes an old one).

    ``.csv``/``.tsv`` and ``.parquet`` get a table of ids, scores (and flags, p-values,
    contributions); ``.npy`` gets the scores alone (float64 ``[N]``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from vaekit.runtime.atomic import current_umask, write_errors

        self.path = score_path(path)
        with write_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            os.fchmod(fd, 0o666 & ~current_umask())  # as every file vaekit writes (mkstemp makes 0600)
            os.close(fd)
        self.tmp = Path(tmp)
        self.suffix = self.path.suffix.lower()
        self._parquet: Any = None
        self._scores: list[np.ndarray] = []
        self._header = True
        self.rows = 0

    def write(self, frame: Any) -> None:
        """Append the rows of ``frame`` (a DataFrame with a ``score`` column)."""
        from vaekit.runtime.atomic import write_errors

        with write_errors(self.path):
            self._write(frame)

    def _write(self, frame: Any) -> None:
        self.rows += len(frame)
        if self.suffix == ".npy":
            self._scores.append(frame["score"].to_numpy(dtype=np.float64))
        elif self.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            elif table.schema != self._parquet.schema:
                # A chunk's ids may come as float (a gap) or null-typed where the first were integers.
                try:
                    table = table.cast(self._parquet.schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                    raise DataError(
                        f"the columns' types change between chunks ({exc}); write the scores as .csv, or give "
                        "--id-column a column of one type"
                    ) from None
            self._parquet.write_table(table)
        else:
            sep = "\t" if self.suffix == ".tsv" else ","
            frame.to_csv(self.tmp, sep=sep, index=False, header=self._header, mode="w" if self._header else "a")
            self._header = False

    def close(self) -> Path:
        """Move the finished file into place; return its path."""
        from vaekit.runtime.atomic import write_errors

        with write_errors(self.path):
            return self._close()

    def _close(self) -> Path:
        if self.suffix == ".npy":
            np.save(self.tmp, np.concatenate(self._scores) if self._scores else np.zeros(0), allow_pickle=False)
            written = self.tmp.with_name(self.tmp.name + ".npy")  # np.save adds the suffix to a name without it
            if written.exists():
                written.replace(self.tmp)
        elif self._parquet is not None:
            self._parquet.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        return self.path

    def abandon(self) -> None:
        """Remove the temporary file (after a failure)."""
        if self._parquet is not None:
            try:
                self._parquet.close()
            except Exception:  # noqa: BLE001 - the file goes anyway
                pass
        self.tmp.unlink(missing_ok=True)
        self.tmp.with_name(self.tmp.name + ".npy").unlink(missing_ok=True)
