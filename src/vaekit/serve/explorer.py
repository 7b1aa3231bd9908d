"""What the explorer computes, apart from HTTP: decode a code, encode an upload, sample,
interpolate, and the 2-D map of the test set. Every method takes and returns plain values
(lists, numbers, base64 PNG strings) and raises ``DataError`` for input the model cannot take.

Conditional models (cvae) decode and encode under a class ``label`` that every such call takes
(checked by :meth:`Explorer.check_label`); their map shows the test means encoded under each
example's own label. Where the classes have names (a typed table's condition values, or the
class folders of an image run) ``info`` gives them, for the page to label classes with.

A run on a typed table (one with a table codec: a .csv/.tsv/.parquet file or a DataFrame) also
answers in rows: each decoded item carries ``row``, the decoded row in data units with column
names (the codec's decoding, as ``vaekit decode`` writes it), and :meth:`Explorer.encode_row`
takes one row of cells, checked and encoded by the codec (``rows.py``).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit import objectives
from vaekit.api import TrainedVAE, load, resolve_eval_data
from vaekit.runtime.errors import DataError, VaekitError
from vaekit.serve.latent_map import LatentMap, fit_latent_map
from vaekit.serve.limits import ServeLimits
from vaekit.serve.rows import columns_info, condition_class_names, frame_rows, input_row
from vaekit.viz.grid import image_grid, png_bytes

#: The anomaly score averages this many posterior draws, made with this seed, so that the same
#: upload always gets the same number.
SCORE_DRAWS = 16
SCORE_SEED = 0
#: Examples per forward pass when summarising the test split at start-up.
BATCH = 2048
#: Decimal places of raw values sent as JSON (float32 holds about 7 significant digits).
DECIMALS = 6


def _png_base64(example: np.ndarray, shape: tuple[int, ...]) -> str:
    """Return one example ``[C*H*W]`` in [0, 1] as a base64 PNG at its own resolution."""
    picture = image_grid(example.reshape(1, *shape), ncol=1, pad=0)
    return base64.b64encode(png_bytes(picture)).decode("ascii")


def _rounded(values: np.ndarray) -> list[float]:
    """Return ``values`` flattened as plain floats with ``DECIMALS`` decimal places."""
    return [round(float(v), DECIMALS) for v in np.asarray(values).reshape(-1)]


class Explorer:
    """A loaded model and the summary of its test split that the page shows.

    Built once per server by :meth:`from_run`; its methods are safe to call from several threads
    (inference runs under ``torch.inference_mode``; draws from the global RNG hold a lock).
    """

    def __init__(
        self,
        vae: TrainedVAE,
        limits: ServeLimits,
        test_x: torch.Tensor | None,
        test_labels: torch.Tensor | None,
        data_note: str | None = None,
    ) -> None:
        self.vae = vae
        self.limits = limits
        self.variational = bool(getattr(vae.model, "variational", True))
        #: conditional models (cvae) decode under a class label, one of ``num_classes``
        self.conditional = bool(getattr(vae.model, "conditional", False))
        self.num_classes = int(vae.model.cond_dim) if self.conditional else None
        #: the table codec of a run on a typed table (rows in and out), else None
        self.codec = _table_codec(vae)
        #: the names of the class numbers (the labels of the map and of a conditional model), or None
        self.class_names = self._class_names()
        if self.conditional and test_x is not None and test_labels is None:
            test_x, data_note = None, "the run's test data has no labels, which this conditional model needs; the map is empty"
        self.data_note = data_note
        self._rng_lock = threading.Lock()
        self.means, kl_per_dim = self._summarise(test_x, test_labels)
        self.labels = None if test_labels is None or self.means is None else test_labels.cpu().numpy().astype(int)
        self.map: LatentMap = fit_latent_map(self.means, vae.latent_dim)
        self.dimension_scores, self.order_by = self._dimension_scores(kl_per_dim)

    @classmethod
    def from_run(cls, run_dir: str | Path, limits: ServeLimits | None = None, which: str = "last") -> Explorer:
        """Load the run folder's weights (``which``: ``"last"`` or ``"best"``) and summarise its test split.

        When the run's data cannot be read here (e.g. a run folder copied from another machine),
        the explorer still starts, with an empty map and a note saying why.
        """
        vae = load(run_dir, which=which)
        note = None
        try:
            test_x, test_labels = resolve_eval_data(vae, None, "test")
        except VaekitError as exc:
            test_x, test_labels, note = None, None, f"the run's test data could not be read ({exc}); the map is empty"
        return cls(vae, limits or ServeLimits(), test_x, test_labels, note)

    def _class_names(self) -> list[str] | None:
        """Return the name of each class number: a typed table's condition values (``species=Gentoo``)
        for a run trained with ``condition_on``, the class folders' names for a run on them, else
        None (the page then shows the numbers)."""
        if self.codec is not None:
            names = condition_class_names(self.codec)
        else:
            names = self.vae.config.class_names
        if not names or (self.conditional and len(names) != self.num_classes):
            return None  # names that do not cover the classes would misname them; numbers are safe
        return [str(name) for name in names]

    # ---- start-up summaries -------------------------------------------------------------

    @torch.inference_mode()
    def _summarise(
        self, x: torch.Tensor | None, labels: torch.Tensor | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Return the posterior means ``[N, L]`` of ``x`` and the mean KL per dimension ``[L]``
        (nats), or ``(None, None)`` without data. A conditional model encodes each example
        under its own label."""
        if x is None or len(x) == 0:
            return None, None
        model = self.vae.model
        means, kls = [], []
        with self._seeded(SCORE_SEED):
            for start in range(0, len(x), BATCH):
                cond = (labels[start : start + BATCH].to(self.vae.device),) if self.conditional else ()
                out = model(x[start : start + BATCH].to(self.vae.device), *cond)
                means.append(out.mu.cpu())
                if self.variational:  # a deterministic model's output has no meaningful KL
                    kls.append(out.kl_per_dim.sum(0).cpu())
        kl = (torch.stack(kls).sum(0) / len(x)).numpy() if kls else None
        return torch.cat(means).numpy(), kl

    def _dimension_scores(self, kl_per_dim: np.ndarray | None) -> tuple[np.ndarray | None, str]:
        """Return each dimension's score for ordering the sliders and what the score is."""
        if self.means is None:
            return None, "index"
        if self.variational and kl_per_dim is not None:
            return kl_per_dim, "kl"
        # A deterministic autoencoder has no KL; how much a dimension varies over the data stands in.
        return self.means.var(axis=0), "variance"

    def _slider_range(self, dim: int) -> tuple[float, float]:
        """Return the slider's ends for ``dim``: [-3, 3] (the prior's bulk) widened to the data's."""
        lo, hi = -3.0, 3.0
        if self.means is not None:
            q_lo, q_hi = np.quantile(self.means[:, dim], [0.005, 0.995])
            lo, hi = min(lo, float(np.floor(q_lo * 2) / 2)), max(hi, float(np.ceil(q_hi * 2) / 2))
        bound = self.limits.max_abs_latent
        return max(lo, -bound), min(hi, bound)

    @contextlib.contextmanager
    def _seeded(self, seed: int) -> Iterator[None]:
        """Draw from the global RNG with ``seed`` inside the block and restore it afterwards; the
        lock keeps concurrent requests from sharing (and shifting) one seeded stream."""
        devices = [self.vae.device] if self.vae.device.type == "cuda" else []
        with self._rng_lock, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # ---- what the page asks -------------------------------------------------------------

    @property
    def is_image(self) -> bool:
        """True when examples are images (C, H, W)."""
        return self.vae.is_image

    def score_description(self) -> str:
        """Say what the anomaly score is, in words, with its units."""
        if not self.variational:
            text = "-log p(x|z) at the code z = encode(x), nats per example (a deterministic model has no ELBO)"
        else:
            text = (
                f"-ELBO, nats per example (higher = more unusual): KL plus the reconstruction term averaged "
                f"over {SCORE_DRAWS} posterior draws with the fixed seed {SCORE_SEED}, so an upload always gets the same number"
            )
        if self.codec is not None:
            text += (
                "; in the data's own units (the column transforms' change of variables included, as in vaekit "
                "evaluate's held-out NLL), the values of missing cells left out"
            )
        return text

    def info(self) -> dict[str, Any]:
        """Return the model's description, the sliders (ordered by score, highest first) and the limits."""
        cfg = self.vae.config
        latent_dim = self.vae.latent_dim
        order = list(range(latent_dim))
        if self.dimension_scores is not None:
            order = sorted(order, key=lambda d: -float(self.dimension_scores[d]))
        sliders = []
        for dim in order:
            lo, hi = self._slider_range(dim)
            score = None if self.dimension_scores is None else round(float(self.dimension_scores[dim]), 4)
            sliders.append({"dim": dim, "score": score, "min": lo, "max": hi})
        start = self.map.to_latent(np.zeros((1, 2)))[0]
        return {
            "run": Path(self.vae.run_dir).name if self.vae.run_dir else None,
            "model": cfg.model.name,
            "data": cfg.data.name,
            "kind": "image" if self.is_image else "table",
            "input_shape": list(self.vae.input_shape),
            "input_dim": cfg.input_dim,
            "latent_dim": latent_dim,
            "likelihood": self.vae.model.likelihood.name,
            "columns": None if self.codec is None else columns_info(self.codec),
            "variational": self.variational,
            "conditional": self.conditional,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "map_method": self.map.method,
            "explained_variance_ratio": self.map.explained_variance_ratio,
            "slider_order_by": self.order_by,
            "sliders": sliders,
            "start": _rounded(start),
            "score": self.score_description(),
            "data_note": self.data_note,
            "limits": {
                "max_upload_bytes": self.limits.max_upload_bytes,
                "max_samples": self.limits.max_samples,
                "max_steps": self.limits.max_steps,
                "max_abs_latent": self.limits.max_abs_latent,
            },
        }

    def latents(self) -> dict[str, Any]:
        """Return the map points of the test split's posterior means (a fixed subset past
        ``max_map_points``), their labels when the data has them, and the map method."""
        if self.means is None:
            return {"method": self.map.method, "points": [], "labels": None, "total": 0, "note": self.data_note}
        index = np.arange(len(self.means))
        if len(index) > self.limits.max_map_points:
            index = np.sort(np.random.default_rng(0).choice(index, self.limits.max_map_points, replace=False))
        points = self.map.to_map(self.means[index])
        return {
            "method": self.map.method,
            "points": [[round(float(a), 4), round(float(b), 4)] for a, b in points],
            "labels": None if self.labels is None else [int(v) for v in self.labels[index]],
            "total": int(len(self.means)),
            "note": self.data_note,
        }

    def check_latent(self, z: list[float] | np.ndarray, what: str = "z") -> np.ndarray:
        """Return ``z`` as float32 ``[L]`` after checking its length, finiteness and size."""
        arr = np.asarray(z, dtype=np.float64).reshape(-1)
        if arr.shape[0] != self.vae.latent_dim:
            raise DataError(f"{what}: has {arr.shape[0]} values; this model's latent space has {self.vae.latent_dim}")
        if not np.isfinite(arr).all():
            raise DataError(f"{what}: contains NaN or inf")
        bound = self.limits.max_abs_latent
        if np.abs(arr).max(initial=0.0) > bound:
            raise DataError(f"{what}: values must lie within +-{bound:g} (the prior is N(0, I))")
        return arr.astype(np.float32)

    def check_label(self, label: int | None) -> int | None:
        """Return the class ``label`` to decode under: required by conditional models (a class
        number ``0..num_classes-1``), refused by the others (``None`` passes)."""
        if not self.conditional:
            if label is not None:
                raise DataError(f"label: model {self.vae.config.model.name!r} is not conditional; send no label")
            return None
        last = self.num_classes - 1
        if label is None:
            raise DataError(
                f"label: this model is conditional ({self.vae.config.model.name}): send label, a class number 0..{last}"
            )
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label <= last:
            raise DataError(f"label: must be a class number 0..{last}, got {label!r}")
        return int(label)

    def _cond(self, label: int | None, n: int) -> tuple[torch.Tensor, ...]:
        """Return the model's extra arguments for ``n`` rows under ``label``: ``(y,)`` or ``()``."""
        if not self.conditional:
            return ()
        return (torch.full((n,), int(label), dtype=torch.long, device=self.vae.device),)

    def latent_from_point(self, point: list[float]) -> np.ndarray:
        """Return the latent code ``[L]`` that a 2-D map point stands for."""
        arr = np.asarray(point, dtype=np.float64).reshape(-1)
        if arr.shape[0] != 2:
            raise DataError(f"point: has {arr.shape[0]} values; a map point has 2 (x, y)")
        if not np.isfinite(arr).all():
            raise DataError("point: contains NaN or inf")
        return self.check_latent(self.map.to_latent(arr[None])[0], "point")

    @torch.inference_mode()
    def _render(self, z: np.ndarray, label: int | None = None) -> list[dict[str, Any]]:
        """Decode codes ``[N, L]`` (likelihood means; under ``label`` for a conditional model)
        into items with z, label, map point, PNG and values."""
        label = self.check_label(label)
        x = self.vae.decode(torch.as_tensor(z, dtype=torch.float32), labels=label).cpu().numpy().reshape(len(z), -1)
        if not np.isfinite(x).all():
            raise DataError("z: decoding gave non-finite values; choose a code nearer the prior N(0, I)")
        points = self.map.to_map(z)
        rows = self._rows(x, label)
        return [self._item(z[i], points[i], x[i], label, rows[i]) for i in range(len(z))]

    def _rows(self, x: np.ndarray, label: int | None) -> list[dict[str, Any] | None]:
        """Return the decoded rows of likelihood means ``x`` ``[N, D]`` as JSON objects (column ->
        value, in data units), or ``None`` for each when the run is not on a typed table.

        The codec decodes them as ``vaekit decode`` does (most likely category, the mean number
        through the column's transform, rounded as the column is); a cell whose missingness the
        model learned comes back null where it is more likely missing than not."""
        if self.codec is None:
            return [None] * len(x)
        labels = None if label is None else np.full(len(x), label, dtype=np.int64)
        return frame_rows(self.codec.decode(x, labels=labels, missing=True))

    def _item(
        self, z: np.ndarray, point: np.ndarray, x: np.ndarray, label: int | None, row: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Return one decoded item: its code, label, map point, PNG (images), slot values and row (tables)."""
        return {
            "z": _rounded(z),
            "label": label,
            "point": _rounded(point),
            "image": _png_base64(x, self.vae.input_shape) if self.is_image else None,
            "values": _rounded(x),
            "row": row,
        }

    def decode(self, z: np.ndarray, label: int | None = None) -> dict[str, Any]:
        """Return the decoded example of one checked code ``z`` ``[L]`` (under ``label``: cvae)."""
        return self._render(z[None], label)[0]

    def sample(
        self, n: int, temperature: float = 1.0, seed: int | None = None, label: int | None = None
    ) -> dict[str, Any]:
        """Return ``n`` prior draws (std scaled by ``temperature``) decoded (under ``label``: cvae),
        and the seed used."""
        label = self.check_label(label)
        if not 1 <= n <= self.limits.max_samples:
            raise DataError(f"n: must be between 1 and {self.limits.max_samples} samples per request, got {n}")
        seed = secrets.randbelow(2**31) if seed is None else seed
        with torch.inference_mode(), self._seeded(seed):
            z = self.vae.model.prior.sample(n, device=self.vae.device, temperature=temperature)
        z = z.cpu().numpy().reshape(n, -1).astype(np.float32)
        np.clip(z, -self.limits.max_abs_latent, self.limits.max_abs_latent, out=z)
        return {"seed": seed, "temperature": temperature, "items": self._render(z, label)}

    def interpolate(self, start: np.ndarray, end: np.ndarray, steps: int, label: int | None = None) -> dict[str, Any]:
        """Return ``steps`` codes evenly spaced on the line from ``start`` to ``end``, decoded
        (under ``label``: cvae)."""
        label = self.check_label(label)
        if not 2 <= steps <= self.limits.max_steps:
            raise DataError(f"steps: must be between 2 and {self.limits.max_steps}, got {steps}")
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return {"items": self._render((1.0 - t) * start[None] + t * end[None], label)}

    def check_example(self, values: list[float] | np.ndarray) -> np.ndarray:
        """Return one example as float32 ``[D]`` after checking its length and finiteness; a run
        on a typed table takes rows instead (:meth:`encode_row`), and refuses numbers."""
        if self.codec is not None:
            raise DataError(
                f"values: this model was trained on the typed table {Path(self.vae.config.data.name).name}; send row "
                f"(a JSON object column -> value) or csv (one line of cells in the order {', '.join(self.codec.columns)})"
            )
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        dim = self.vae.config.input_dim
        if x.shape[0] != dim:
            raise DataError(f"values: has {x.shape[0]} numbers; this model's examples have {dim}")
        if not np.isfinite(x).all():
            raise DataError("values: contains NaN or inf")
        return x.astype(np.float32)

    def check_no_row(self, what: str) -> None:
        """Raise ``DataError`` when a row (``what``: ``row`` or ``csv``) is sent to a run that is not on a typed table."""
        if self.codec is None:
            kind = "images" if self.is_image else "plain numbers with no table schema"
            fix = "send image (a base64 file)" if self.is_image else "send values (a row of numbers)"
            raise DataError(f"{what}: this model was trained on {kind} ({self.vae.config.data.name}); {fix}")

    def table_label(self, frame: Any, label: int | None) -> int | None:
        """Return the class a row of a typed table is encoded under: the joint value of its
        condition columns for a run trained with ``condition_on`` (a ``label`` sent beside it must
        agree), else ``label`` as :meth:`check_label` takes it."""
        labels = self.codec.labels(frame)
        if labels is None:
            return self.check_label(label)
        own = int(labels[0])
        if label is not None and label != own:
            named = ", ".join(f"{name}={frame[name].iloc[0]}" for name in self.codec.condition_on)
            raise DataError(f"label: the row's condition columns ({named}) are class {own}; send label {own} or none")
        return own

    @torch.inference_mode()
    def encode_row(self, frame: Any, label: int | None = None, what: str = "row") -> dict[str, Any]:
        """Encode one row of a typed table (a one-row DataFrame, ``what`` names the request field
        it came from) as :meth:`encode` does, with the row as the model read it and the
        reconstruction as a row. The codec checks it, with the messages the command line gives
        for a table file (columns missing or unknown, categories never seen, text for numbers)."""
        try:
            x = self.codec.encode(frame)
            shown = input_row(frame, self.codec)
        except DataError as exc:
            raise DataError(f"{what}: {exc}") from None
        label = self.table_label(frame, label)
        result = self.encode(x[0], label, log_jacobian=float(self.codec.log_jacobian(frame)[0]), what=what)
        result["input"]["row"] = shown
        return result

    @torch.inference_mode()
    def anomaly_score(self, x: torch.Tensor, label: int | None = None) -> float:
        """Return the anomaly score of one example ``x`` ``[1, D]`` in nats (see :meth:`score_description`),
        under ``label`` for a conditional model."""
        model = self.vae.model
        if not self.variational:
            mu, _ = model.encode(x, *self._cond(label, 1))
            return float(-model.likelihood.log_prob(x, model.decode(mu, *self._cond(label, 1))).item())
        with self._seeded(SCORE_SEED):
            out = model(x.expand(SCORE_DRAWS, -1), *self._cond(label, SCORE_DRAWS))
        return float(-objectives.elbo(out).mean().item())

    @torch.inference_mode()
    def encode(
        self, example: np.ndarray, label: int | None = None, log_jacobian: float = 0.0, what: str = "values"
    ) -> dict[str, Any]:
        """Encode one checked example ``[D]``: its posterior mean, map point, the input as the model
        sees it, its reconstruction and its anomaly score (nats per example; ``log_jacobian``, the
        log |Jacobian| of a table row's column transforms, is taken off it, so that it is in the
        data's own units; ``what`` names the request field in errors). A conditional model encodes,
        reconstructs and scores it as an example of class ``label``."""
        label = self.check_label(label)
        x = torch.as_tensor(example[None], dtype=torch.float32, device=self.vae.device)
        mu, _ = self.vae.encode_distribution(x, labels=label)
        z = mu.cpu().numpy().astype(np.float32)
        if not np.isfinite(z).all():
            raise DataError(f"{what}: encoding gave non-finite values; the example is far outside the training data")
        score = self.anomaly_score(x, label) - log_jacobian
        if not np.isfinite(score):
            raise DataError(f"{what}: the anomaly score is not finite; the example is far outside the training data")
        reconstruction = self._render(np.clip(z, -self.limits.max_abs_latent, self.limits.max_abs_latent), label)[0]
        return {
            "z": reconstruction["z"],
            "label": label,
            "point": reconstruction["point"],
            "input": {
                "image": _png_base64(example, self.vae.input_shape) if self.is_image else None,
                "values": _rounded(example),
                "row": None,
            },
            "reconstruction": {
                "image": reconstruction["image"],
                "values": reconstruction["values"],
                "row": reconstruction["row"],
            },
            "anomaly_score": round(score, 4),
            "score": self.score_description(),
        }


def _table_codec(vae: TrainedVAE) -> Any:
    """Return the run's table codec when it was trained on a typed table, else None."""
    if vae.config.table is None:
        return None
    from vaekit.tables import codec_of

    return codec_of(vae)
