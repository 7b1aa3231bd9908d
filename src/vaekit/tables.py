"""Tables end to end: synthetic rows (with exact or rejection-sampled conditions), multiple
imputation, per-row log-likelihoods in nats and latent means of a run trained on a table, and
:class:`TableVAE`, the scikit-learn-style estimator that takes and returns pandas DataFrames.

Every function takes a loaded run (``vaekit.load(run)``) whose config holds the table's codec:
the schema (names, kinds, categories, ranges) and the fitted column transforms.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.api import TrainedVAE, check_temperature, training_data_hint
from vaekit.data.table_bundle import TABLE_SUFFIXES
from vaekit.runtime.errors import ConfigError, DataError
from vaekit.runtime.estimator_params import EstimatorParams
from vaekit.runtime.names import did_you_mean

#: rows decoded per pass when sampling, so memory stays bounded for any ``n``
SAMPLE_BATCH = 10_000
#: importance samples of a per-row log-likelihood unless asked otherwise
DEFAULT_SCORE_K = 100
#: the smallest share of draws that may match a rejection-sampled condition
DEFAULT_MIN_ACCEPTANCE = 0.01
#: kinds a rejection-sampled ``where`` may name: equality on a continuous value is never met
MATCHABLE_KINDS = ("binary", "categorical", "count", "integer")


def codec_of(vae: TrainedVAE) -> Any:
    """Return the run's ``TableCodec``; ``ConfigError`` when the run was not trained on a table."""
    from vaekit.data.tables import TableCodec

    if vae.config.table is None:
        raise ConfigError(
            f"{vae.run_dir or 'this model'} was trained on {vae.config.data.name!r}, not on a table "
            "(.csv/.tsv/.parquet or a DataFrame); this command needs a table run"
        )
    return TableCodec.from_dict(vae.config.table)


def read_rows(data: Any, codec: Any = None) -> Any:
    """Return ``data`` (a DataFrame or a .csv/.tsv/.parquet path) as a DataFrame, read the way
    the training table was read: with ``codec`` (a run's ``TableCodec``), the whole-number
    columns of a text file typed as its schema has them (codes such as 01067 as text, or
    numbers for a run saved before codes kept their leading zeros)."""
    from vaekit.data.tables import read_table
    from vaekit.data.tables.read import conform_digits, saved_as_text

    as_text = {} if codec is None else saved_as_text(codec.schema)
    source = data if not isinstance(data, os.PathLike) else Path(data)
    if isinstance(source, (str, Path)):
        frame = read_table(source, text_columns=[name for name, text in as_text.items() if text])
    else:
        frame = read_table(source)
    return conform_digits(frame, as_text)


def parse_where(text: str | Mapping[str, Any] | None) -> dict[str, str]:
    """Return ``"species=Gentoo,sex=female"`` as ``{"species": "Gentoo", "sex": "female"}``
    (a mapping is returned with its values as text); ``DataError`` on a malformed item."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k): str(v) for k, v in text.items()}
    where: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DataError(f"--where takes COLUMN=VALUE pairs separated by commas, e.g. species=Gentoo; got {item!r}")
        if name.strip() in where:
            raise DataError(f"--where names column {name.strip()!r} twice; give each column once")
        where[name.strip()] = value.strip()
    return where


@dataclass
class SampledTable:
    """Synthetic rows and how they were drawn: ``acceptance`` is the share of draws that met
    the rejection-sampled part of ``where`` (None when nothing was rejection-sampled) and
    ``draws`` the number of rows decoded to get them."""

    frame: Any
    acceptance: float | None
    draws: int


def _kinds(codec: Any) -> dict[str, str]:
    return {c.name: c.kind for c in codec.schema.columns}


def _split_where(codec: Any, where: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return ``(exact, rejected)``: the conditions on the model's condition columns and the rest,
    after checking every named column exists and can be matched."""
    kinds = _kinds(codec)
    exact, rejected = {}, {}
    for name, value in where.items():
        if name not in kinds:
            raise DataError(
                f"--where names column {name!r}, which the table does not have{did_you_mean(name, kinds)}; "
                f"its columns: {', '.join(kinds)}"
            )
        if name in codec.condition_on:
            exact[name] = value
        elif kinds[name] == "ignore":
            raise DataError(f"--where names column {name!r}, which the model ignores (not modelled, not in samples)")
        elif kinds[name] not in MATCHABLE_KINDS:
            raise DataError(
                f"--where {name}={value}: {name!r} is {kinds[name]}, and a draw never equals a continuous value "
                "exactly; condition on categorical, binary, count or integer columns"
            )
        else:
            rejected[name] = value
    return exact, rejected


def _matches(frame: Any, conditions: dict[str, Any], codec: Any) -> np.ndarray:
    """Return a boolean mask of the rows of ``frame`` that meet every condition: a category by
    the codec's own matching (``_wanted_values``), a number by value."""
    from vaekit.data.tables.cells import match_category

    keep = np.ones(len(frame), dtype=bool)
    for name, wanted in conditions.items():
        column = frame[name]
        if isinstance(wanted, float):
            keep &= column.astype("float64").to_numpy() == wanted
        else:
            keep &= np.array([v is not None and match_category(v, [wanted]) == 0 for v in column], dtype=bool)
    return keep


def _wanted_values(codec: Any, rejected: dict[str, str]) -> dict[str, Any]:
    """Return the value each rejection-sampled condition asks for: a category as the training
    table holds it (matched as ``--condition-on`` columns are: "true" finds True, "1" finds 1.0),
    a number as a float; ``DataError`` for a category never seen or a number that is not one."""
    from vaekit.data.tables.cells import match_category

    wanted: dict[str, Any] = {}
    for column in codec.schema.columns:
        if column.name not in rejected:
            continue
        value = rejected[column.name]
        if column.categories is not None:
            index = match_category(value, column.categories)
            if index is None:
                seen = ", ".join(str(c) for c in column.categories)
                raise DataError(
                    f"--where {column.name}={value}: column {column.name!r} has no value {value!r}; seen: {seen}"
                )
            wanted[column.name] = column.categories[index]
        else:
            try:
                wanted[column.name] = float(value)
            except ValueError:
                raise DataError(f"--where {column.name}={value}: {column.name!r} holds numbers; give a number") from None
    return wanted


def _decode_draws(
    vae: TrainedVAE, codec: Any, labels: np.ndarray | None, n: int, temperature: float, clip: bool, missing: bool
) -> Any:
    model = vae.model
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=vae.device)
    z = model.prior.sample(n, device=vae.device, temperature=temperature)
    params = model.decode(z, y) if y is not None else model.decode(z)
    x = model.likelihood.sample(params).cpu().numpy()
    return codec.decode(x, clip=clip, labels=labels, missing=missing)


@torch.inference_mode()
def sample_table(
    vae: TrainedVAE,
    n: int,
    *,
    where: str | Mapping[str, Any] | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    clip: bool = True,
    min_acceptance: float = DEFAULT_MIN_ACCEPTANCE,
    missing: bool = True,
) -> SampledTable:
    """Return ``n`` synthetic rows with the training table's schema (names, order, dtypes,
    category labels, whole numbers rounded; numbers kept within the training range unless
    ``clip=False``), drawn from the prior and the likelihood (draws, not means). Columns that
    had missing cells in training get missing cells as the model draws them (at the learned
    rate, with the learned pattern); ``missing=False`` gives complete rows.

    ``where`` ("species=Gentoo,sex=female" or a mapping) fixes columns: exactly, through the
    model's condition, for columns the run was trained to condition on (``condition_on``); by
    rejection sampling for other categorical, binary, count or integer columns, refused with
    ``DataError`` when fewer than ``min_acceptance`` of the draws match. Condition columns not
    named in ``where`` follow their joint training frequencies (given the named ones)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"the number of rows must be a positive integer, got {n!r}")
    check_temperature(temperature)
    if not 0 < min_acceptance <= 1:
        raise DataError(f"min_acceptance must be in (0, 1], got {min_acceptance}")
    codec = codec_of(vae)
    _require_rows_memory(n, codec, f"{n:,} synthetic rows", "ask for fewer rows (several calls with different seeds give more)")
    exact, rejected = _split_where(codec, parse_where(where))
    wanted = _wanted_values(codec, rejected)
    rng = np.random.default_rng(seed)
    indices = weights = None
    if codec.condition_on:
        indices, weights = codec.condition_index(exact)
        weights = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    parts, kept, drawn = [], 0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        while kept < n:
            size = SAMPLE_BATCH if rejected else min(SAMPLE_BATCH, n - kept)
            labels = None if indices is None else rng.choice(indices, size=size, p=weights)
            frame = _decode_draws(vae, codec, labels, size, temperature, clip, missing)
            drawn += size
            if rejected:
                frame = frame[_matches(frame, wanted, codec)]
                acceptance = (kept + len(frame)) / drawn
                if acceptance < min_acceptance:
                    kinds = _kinds(codec)
                    categories = [k for k in rejected if kinds[k] in ("binary", "categorical")]
                    exact_fix = f"train with --condition-on {','.join(categories)} to sample it exactly, or " if categories else ""
                    raise DataError(
                        f"only {acceptance:.2%} of {drawn:,} draws match --where "
                        f"{','.join(f'{k}={v}' for k, v in rejected.items())} (at least {min_acceptance:.0%} needed); "
                        f"{exact_fix}lower --min-acceptance"
                    )
            parts.append(frame)
            kept += len(frame)
    import pandas as pd

    result = pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)
    return SampledTable(result, kept / drawn if rejected else None, drawn)


def _fill_missing(observed: Any, drawn: Any, columns: list[str]) -> Any:
    """Return ``observed`` with its missing cells in ``columns`` taken from ``drawn``; observed
    cells and other columns untouched; a column that is complete afterwards gets the drawn
    column's dtype (a whole-number column read as float because of its gaps becomes whole)."""
    result = observed.copy()
    for name in columns:
        gaps = result[name].isna().to_numpy()
        if not gaps.any():
            continue
        column = result[name].astype(object)
        column[gaps] = drawn[name].to_numpy(dtype=object)[gaps]
        try:
            result[name] = column.astype(drawn[name].dtype)
        except (TypeError, ValueError):
            result[name] = column
    return result


@torch.inference_mode()
def impute_table(vae: TrainedVAE, data: Any, *, draws: int = 1, seed: int = 0) -> list[Any]:
    """Return ``draws`` completed copies of the table ``data`` (DataFrame or file): each fills
    the missing cells with one draw from the model given the row's observed cells (posterior
    draw of z, then a draw of the cells; multiple imputation when ``draws`` > 1); observed cells,
    ignored columns and the row order are left as they were."""
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise DataError(f"draws must be a positive integer, got {draws!r}")
    codec = codec_of(vae)
    frame = read_rows(data, codec)
    _require_rows_memory(draws * len(frame), codec, f"{draws:,} imputations of {len(frame):,} rows", "ask for fewer --draws")
    x = torch.as_tensor(codec.encode(frame), dtype=torch.float32, device=vae.device)
    labels = codec.labels(frame)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=vae.device)
    model = vae.model
    mu, logvar = model.encode(x, y) if y is not None else model.encode(x)
    modelled = [c.name for c in codec.schema.columns if c.kind != "ignore" and c.name not in codec.condition_on]
    completed = []
    generator = torch.Generator(device=vae.device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(draws):
            eps = torch.randn(mu.shape, generator=generator, device=vae.device)
            z = mu + torch.exp(0.5 * logvar) * eps
            _refuse_overflowed_rows(frame, z)
            params = model.decode(z, y) if y is not None else model.decode(z)
            drawn = codec.decode(model.likelihood.sample(params).cpu().numpy(), labels=labels)
            completed.append(_fill_missing(frame, drawn, modelled))
    return completed


def _require_rows_memory(rows: int, codec: Any, what: str, advice: str) -> None:
    """Raise ``DataError`` when ``rows`` rows of ``codec``'s table would not fit in the free
    memory: their float32 encoding, draws and likelihood parameters, and the DataFrame of them
    (a rough floor, text cells counted at 64 bytes)."""
    from vaekit.runtime.memory import require_memory

    per_row = 3 * 4 * codec.width + 64 * len(codec.schema.columns)
    require_memory(rows * per_row, what, advice=advice, error=DataError)


def _refuse_overflowed_rows(frame: Any, z: torch.Tensor) -> None:
    """Raise ``DataError`` naming the rows whose latent draws ``z`` are not finite: values so far
    outside the training data that the encoder's float32 arithmetic overflowed."""
    bad = (~torch.isfinite(z).all(1)).nonzero().flatten().tolist()
    if bad:
        shown = ", ".join(str(frame.index[i]) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise DataError(
            f"{len(bad)} row(s) (index {shown}) lie so far outside the training data that the model's float32 "
            "arithmetic overflows on them; check those rows' values (`vaekit score` ranks them as the most unusual)"
        )


def score_table(vae: TrainedVAE, data: Any, *, k: int = DEFAULT_SCORE_K, seed: int = 0) -> np.ndarray:
    """Return the K-sample importance-weighted bound on log p(row) of every row of ``data``
    (DataFrame or file), float64 nats per row in the data's own units (the column transforms'
    change of variables included). The values of missing cells are left out; whether a cell
    is missing is scored (for the columns that had gaps in training). Higher is more typical;
    ``-score`` is the row's NLL estimate."""
    from vaekit.evaluation.iwae import log_likelihood_bounds

    codec = codec_of(vae)
    frame = read_rows(data, codec)
    x = torch.as_tensor(codec.encode(frame), dtype=torch.float32, device=vae.device)
    labels = codec.labels(frame)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=vae.device)
    bound = log_likelihood_bounds(vae.model, x, k, y=y, seed=seed).numpy()
    return bound + codec.log_jacobian(frame)


@torch.inference_mode()
def latent_means(vae: TrainedVAE, data: Any) -> Any:
    """Return the posterior means of the rows of ``data`` as a DataFrame ``z1..zL`` with the
    input's index."""
    import pandas as pd

    codec = codec_of(vae)
    frame = read_rows(data, codec)
    x = torch.as_tensor(codec.encode(frame), dtype=torch.float32, device=vae.device)
    labels = codec.labels(frame)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=vae.device)
    mu, _ = vae.model.encode(x, y) if y is not None else vae.model.encode(x)
    names = [f"z{i + 1}" for i in range(mu.shape[1])]
    return pd.DataFrame(mu.cpu().numpy(), columns=names, index=frame.index)


def run_frames(vae: TrainedVAE) -> tuple[Any, Any]:
    """Return the run's own training and held-out rows as read (DataFrames), split as in training;
    ``DataError`` when the run's file changed since it was trained (other rows would be judged)."""
    from vaekit.data.disk.bundle import check_recorded_file
    from vaekit.training.run_data import load_bundle

    with training_data_hint(vae.config, own_data=True):
        # Checked before reading: a changed file could also fail to read as the run's table.
        check_recorded_file(vae.config.data.name, vae.config.data_file)
        bundle = load_bundle(vae.config, lazy=False)  # the quality report compares rows as read, in memory
    assert bundle.frames is not None  # a table run's data is a table
    return bundle.frames


@dataclass
class TableEvaluation:
    """A table run's quality report and the rows it compared: ``holdout`` (real rows the model
    never saw) and ``synthetic`` (drawn for the report), DataFrames of the modelled columns."""

    report: dict[str, Any]
    holdout: Any
    synthetic: Any
    kinds: dict[str, str]


#: importance samples of the held-out log-likelihood in a table's quality report
TABLE_EVAL_K = 1000


def evaluate_table(
    vae: TrainedVAE,
    *,
    data: Any = None,
    train: Any = None,
    n: int | None = None,
    k: int = TABLE_EVAL_K,
    target: str | None = None,
    seed: int = 0,
) -> TableEvaluation:
    """Return the quality report of a table run: ``n`` synthetic rows (default: as many as the
    held-out rows) against the held-out real rows (column shapes, pair trends, detection AUC,
    machine-learning efficacy on ``target``, distance to the closest training record, see
    :func:`vaekit.evaluation.table_quality.table_quality_report`) and the held-out
    log-likelihood per row in nats (``k`` importance samples; 0 skips it): the values of
    missing cells are left out, whether a cell is missing is scored.

    ``data`` (a table of the same schema) replaces the held-out rows, ``train`` the training
    rows (needed for a run trained on a DataFrame, whose rows are not stored)."""
    from vaekit.evaluation.table_quality import table_quality_report

    codec = codec_of(vae)
    source = vae.config.data.name if data is None else (str(data) if not hasattr(data, "columns") else "a DataFrame")
    if train is None or data is None:
        from vaekit.training.run_data import DATA_FRAME

        if vae.config.data.name == DATA_FRAME:
            raise DataError(
                "this run was trained on a pandas DataFrame, which the run folder does not keep; pass the "
                "training rows and rows it did not see: evaluate_table(vae, train=frame, data=holdout)"
            )
        own_train, own_holdout = run_frames(vae)
        train = own_train if train is None else train
        data = own_holdout if data is None else data
    if hasattr(data, "columns") and len(data) == 0:
        raise DataError(
            "the run holds out no rows (test_fraction 0), so there is nothing to compare synthetic rows with; "
            "pass rows it did not train on (--data FILE, or data= in Python)"
        )
    train_rows, holdout = read_rows(train, codec), read_rows(data, codec)
    codec.encode(holdout)  # the same columns and categories as training, or a DataError naming them
    synthetic = sample_table(vae, n or len(holdout), seed=seed).frame
    kinds = {c.name: c.kind for c in codec.schema.columns if c.kind != "ignore"}
    columns = list(kinds)
    holdout, synthetic = holdout[columns], synthetic[columns]
    report = table_quality_report(train_rows[columns], holdout, synthetic, kinds, target=target, seed=seed)
    if k > 0:
        scores = score_table(vae, holdout, k=k, seed=seed)
        caveat = (
            "; with --continuous modes the density is sub-normalised, so this is an upper bound on the NLL"
            if codec.continuous == "modes"
            else ""
        )
        report["heldout_log_likelihood"] = {
            "nll": float(-np.mean(scores)),
            "stderr": float(np.std(scores, ddof=1) / math.sqrt(len(scores))) if len(scores) > 1 else None,
            "k": k,
            "rows": len(scores),
            "unit": "nats per row",
            "note": "-log p(row) by the K-sample importance-weighted bound, in the data's own units (column "
            "transforms' change of variables included); the values of missing cells are left out, whether a "
            "cell is missing is scored" + caveat,
        }
    report["data"] = source
    return TableEvaluation(report, holdout, synthetic, kinds)


#: where a table run's quality report is saved
TABLE_REPORT_FILE = "eval-table.json"


def save_table_evaluation(vae: TrainedVAE, result: TableEvaluation, *, own_data: bool = True) -> list[Path]:
    """Write the quality report into the run folder (``eval-table.json``, or
    ``eval-table-other.json`` for other data than the run's own), atomically and under the
    run's lock; returns the paths written."""
    import json

    from vaekit.runtime.atomic import atomic_write_text
    from vaekit.runtime.lock import run_folder_lock

    if vae.run_dir is None:
        return []
    name = TABLE_REPORT_FILE if own_data else TABLE_REPORT_FILE.replace(".json", "-other.json")
    path = Path(vae.run_dir) / name
    with run_folder_lock(Path(vae.run_dir), "evaluate"):
        atomic_write_text(path, json.dumps(result.report, indent=2) + "\n")
    return [path]


#: the estimator's training objective: the reconstruction term weighted twice the KL term
TABLE_OBJECTIVE: dict[str, Any] = {"name": "beta-elbo", "beta": 0.5}


class TableVAE(EstimatorParams):
    """A VAE for a table, scikit-learn style: ``fit`` a DataFrame (or a .csv/.tsv/.parquet
    path), then ``transform`` rows to latent means, ``sample`` synthetic rows, ``impute``
    missing cells and ``score_samples`` rows (log-likelihood in nats per row), all with
    DataFrames in and out.

    Options are those of ``vaekit.train`` (``latent_dim``, ``encoder``, ``epochs``,
    ``batch_size``, ``lr``, ``seed``, ``column_types``, ``ignore``, ``condition_on``,
    ``continuous``, ...). The defaults suit tables of hundreds to tens of thousands of rows: a
    beta-ELBO with beta 0.5 (the reconstruction weighted up, as TVAE does) and a learning rate
    of 3e-3; ``prior="vamp"`` (a mixture prior learned with the model) buys some quality for
    twice the time of a step (docs/tables.md). The held-out NLL stays an honest
    importance-weighted bound whatever the objective and prior. ``out`` is the run folder (a
    temporary one by default, removed with the estimator); a refit replaces the run there
    (``force=False`` refuses to), and a folder holding anything but a vaekit run is refused.
    Every row trains, as scikit-learn estimators do: ``test_fraction`` holds out a share of them
    for the run's own test numbers and ``val_fraction`` a share for choosing the best weights.
    ``get_params`` and ``set_params`` are scikit-learn's.
    """

    PARAMS = ("latent_dim", "encoder", "epochs", "batch_size", "lr", "prior", "objective", "seed",
               "test_fraction", "val_fraction", "out", "progress")  # fmt: skip

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        encoder: tuple[int, ...] | list[int] = (128, 128),
        epochs: int = 300,
        batch_size: int = 500,
        lr: float = 3e-3,
        prior: str | Mapping[str, Any] = "normal",
        objective: str | Mapping[str, Any] = TABLE_OBJECTIVE,
        seed: int = 0,
        test_fraction: float = 0.0,
        val_fraction: float = 0.0,
        out: str | os.PathLike[str] | None = None,
        progress: str = "auto",
        **options: Any,
    ) -> None:
        # Kept as given, for get_params and sklearn.base.clone; fit reads them through options.
        self.latent_dim, self.encoder, self.epochs, self.batch_size, self.lr = latent_dim, encoder, epochs, batch_size, lr
        self.prior, self.objective, self.seed = prior, objective, seed
        self.test_fraction, self.val_fraction = test_fraction, val_fraction
        self.out = out
        self.progress = progress
        self.train_options = options
        self.vae_: TrainedVAE | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments ``fit`` gives ``vaekit.train`` (less ``out`` and ``progress``)."""
        objective = self.objective
        return {
            "latent_dim": self.latent_dim,
            "encoder": list(self.encoder) if isinstance(self.encoder, tuple | list) else self.encoder,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "prior": self.prior,
            "objective": dict(objective) if isinstance(objective, Mapping) else objective,
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "val_fraction": self.val_fraction,
            # Ten checkpoints a fit: a table epoch is short, and writing every epoch would cost more than it.
            "checkpoint_every": max(1, self.epochs // 10) if isinstance(self.epochs, int) else 1,
            **self.train_options,
        }

    def fit(self, X: Any, y: Any = None) -> TableVAE:
        """Train on the table ``X`` (DataFrame or file path); returns self. ``y`` is ignored."""
        from vaekit import api

        if not isinstance(X, str | os.PathLike) and type(X).__name__ != "DataFrame":
            raise DataError(
                f"TableVAE fits a table: a pandas DataFrame or a .csv/.tsv/.parquet path, got {type(X).__name__}; "
                "wrap an array in pandas.DataFrame(X, columns=[...]), or train on arrays with vaekit.train(data=...)"
            )
        if self.out is None:
            self._folder = tempfile.TemporaryDirectory(prefix="vaekit-table-")
            out = Path(self._folder.name) / "run"
        else:
            out = Path(self.out)
        data = X if not isinstance(X, (str, os.PathLike)) else os.fspath(X)
        options = dict(self.options)
        # A refit replaces the estimator's own run, as scikit-learn's fit does; a folder of
        # anything else is refused by train.
        force = options.pop("force", None)
        if force is None:
            force = self.out is None or (out / "config.json").is_file()
        self.vae_ = api.train(data=data, out=out, force=force, progress=self.progress, **options)
        return self

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], *, which: str = "last") -> TableVAE:
        """Return the estimator of a trained table run folder."""
        from vaekit import api

        estimator = cls(out=run_dir)
        estimator.vae_ = api.load(run_dir, which=which)
        codec_of(estimator.vae_)
        return estimator

    @property
    def vae(self) -> TrainedVAE:
        """The trained model; ``ConfigError`` before ``fit``."""
        if self.vae_ is None:
            raise ConfigError("this TableVAE is not fitted yet; call fit(frame) first")
        return self.vae_

    @property
    def schema_(self) -> dict[str, Any]:
        """The table's schema: each column's name, kind, why that kind, categories and range."""
        return codec_of(self.vae).schema.to_dict()

    def transform(self, X: Any) -> Any:
        """Return the latent means of the rows of ``X`` as a DataFrame ``z1..zL``."""
        return latent_means(self.vae, X)

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X``, then return its latent means."""
        return self.fit(X).transform(X)

    def sample(
        self,
        n: int,
        *,
        where: str | Mapping[str, Any] | None = None,
        seed: int = 0,
        clip: bool = True,
        temperature: float = 1.0,
        min_acceptance: float = DEFAULT_MIN_ACCEPTANCE,
        missing: bool = True,
    ) -> Any:
        """Return ``n`` synthetic rows as a DataFrame with the training table's schema (see
        :func:`sample_table` for ``where``, ``clip``, ``min_acceptance`` and ``missing``)."""
        result = sample_table(
            self.vae,
            n,
            where=where,
            seed=seed,
            clip=clip,
            temperature=temperature,
            min_acceptance=min_acceptance,
            missing=missing,
        )
        return result.frame

    def impute(self, X: Any, *, draws: int = 1, seed: int = 0) -> Any:
        """Return ``X`` with its missing cells filled from the model: one DataFrame, or a list of
        ``draws`` DataFrames (multiple imputation) when ``draws`` > 1."""
        completed = impute_table(self.vae, X, draws=draws, seed=seed)
        return completed[0] if draws == 1 else completed

    def score_samples(self, X: Any, *, k: int = DEFAULT_SCORE_K, seed: int = 0) -> np.ndarray:
        """Return log p(row) of every row of ``X``: float64 nats per row (higher = more typical;
        the K-sample bound), ``-inf`` for a row the model cannot encode (a category training
        never saw, a number far outside the training range), as ``vaekit score`` scores it ``inf``
        (docs/scores.md)."""
        from vaekit.scoring import score_data

        return -score_data(self.vae, X, kind="nll", k=k, seed=seed).scores

    def score(self, X: Any, y: Any = None) -> float:
        """Return the mean log-likelihood of the rows of ``X`` in nats per row (higher is better)."""
        return float(np.mean(self.score_samples(X)))


def table_path(path: str | os.PathLike[str], what: str = "a table") -> Path:
    """Return ``path`` if a table can be written there (.csv, .tsv or .parquet, by suffix);
    ``DataError`` naming the suffixes otherwise, so a command can refuse before it works."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"{path}: {what} can be written to {', '.join(TABLE_SUFFIXES)} files, not {path.suffix or 'no suffix'!r}"
        )
    return path


def write_table(frame: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` to ``path`` (.csv, .tsv or .parquet, by suffix) atomically: a reader sees
    the old file or the whole new one, never a half-written table. Returns the path."""
    import io

    from vaekit.runtime.atomic import atomic_write_bytes

    path = table_path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:
        data = frame.to_csv(index=False, sep="," if suffix == ".csv" else "\t").encode("utf-8")
    atomic_write_bytes(path, data)
    return path
