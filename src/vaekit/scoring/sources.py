"""Reading data as the model sees it, in chunks: arrays and ``.npy`` files memory-mapped, tables by row blocks, image folders."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vaekit.runtime.errors import ConfigError, DataError
from vaekit.scoring.records import CHUNK_ROWS, INFINITE_SHOWN, ScoreChunk, ScoreSource

if TYPE_CHECKING:
    from vaekit.api import TrainedVAE


def table_codec(vae: TrainedVAE) -> Any:
    """Return the table codec of a table run (its config's ``table``)."""
    from vaekit.data.tables import TableCodec

    if vae.config.table is None:
        raise ConfigError(f"{vae.run_dir or 'this model'} was not trained on a table; this needs a table run")
    return TableCodec.from_dict(vae.config.table)


def _model_view(vae: TrainedVAE, x: torch.Tensor) -> torch.Tensor:
    """Return float32 examples ``x`` (model units) as the model sees them at evaluation: the
    run's fixed binarisation or dequantisation, each example's drawn from a generator seeded by
    the example's values, so that an example is seen the same wherever it is in the file."""
    from vaekit.data.units import check_unit_range
    from vaekit.data.views import EVAL_BINARIZE_SEED, dequantize_uniform
    from vaekit.evaluation.scores import example_generators

    cfg = vae.config
    check_unit_range(x, cfg.value_range)
    binarize = cfg.data.binarize != "none"
    if not len(x) or not binarize and not (cfg.data.dequantize == "uniform" and cfg.levels is not None):
        return x
    generators = example_generators(x, EVAL_BINARIZE_SEED)
    if binarize:
        return torch.stack([torch.bernoulli(row, generator=g) for row, g in zip(x, generators, strict=True)])
    return torch.stack([dequantize_uniform(row, cfg.levels, g) for row, g in zip(x, generators, strict=True)])


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

    cfg = vae.config
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
        x = (tensor if viewed else _model_view(vae, tensor)).to(vae.device)
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
        _refuse_huge_numbers(rows, codec, position)
        emptied, unseen = _without_unseen_categories(rows, codec)
        named = {} if unseen is None else _unseen_cells(rows, codec, unseen)
        rows = emptied
        x = torch.as_tensor(codec.encode(rows), dtype=torch.float32, device=vae.device)
        y_codes = codec.labels(rows)
        y = None if y_codes is None else torch.as_tensor(y_codes, dtype=torch.long, device=vae.device)
        yield ScoreChunk(x=x, y=y, ids=ids, offset=-codec.log_jacobian(rows), labels=labels, unseen=unseen,
                         unseen_cells=named)  # fmt: skip
        position += len(frame)


def _refuse_huge_numbers(rows: Any, codec: Any, position: int) -> None:
    """Raise ``DataError`` naming the cells of a numeric column beyond float32's range (by their
    1-based data row, ``rows`` starting at row ``position + 1``): the model computes in float32,
    and whether such a value overflows depends on the column's transform (a log transform
    brings 1e300 down to 690), so every numeric column refuses them alike."""
    import pandas as pd

    from vaekit.data.tables.cells import SHOWN, source_name
    from vaekit.data.tables.infer import FLOAT32_MAX
    from vaekit.data.tables.schema import NUMBER_KINDS

    for column in codec.schema.columns:
        if column.kind not in NUMBER_KINDS or column.name not in rows.columns:
            continue
        numbers = pd.to_numeric(rows[column.name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            huge = np.flatnonzero(np.abs(numbers) > FLOAT32_MAX)
        if len(huge):
            cells = ", ".join(f"{numbers[i]:g} (row {position + i + 1})" for i in huge[:SHOWN])
            more = f" and {len(huge) - SHOWN} more" if len(huge) > SHOWN else ""
            raise DataError(
                f"{source_name(rows)}column {column.name!r} has cells too large to encode (beyond float32's range, "
                f"about 3.4e38): {cells}{more}; fix those cells or leave them empty"
            )


def _unseen_cells(rows: Any, codec: Any, unseen: np.ndarray) -> dict[int, str]:
    """Return the first rows (at most ``INFINITE_SHOWN``) with a category never seen in
    training, by position in ``rows``: the column and the value as the file has it
    ("species 'Emperor'", "flag 2"), several joined by commas."""
    from vaekit.data.tables.cells import json_scalar

    modelled = [c.name for c in codec.schema.columns if c.kind != "ignore"]
    named = {}
    for i in np.flatnonzero(unseen.any(1))[:INFINITE_SHOWN]:
        cells = []
        for j in np.flatnonzero(unseen[i]):
            value = json_scalar(rows[modelled[j]].iloc[i])
            cells.append(f"{modelled[j]} {value!r}" if isinstance(value, str) else f"{modelled[j]} {value:g}")
        named[int(i)] = ", ".join(cells)
    return named


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
