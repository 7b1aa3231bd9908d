"""The loaded model object of the Python API: a trained VAE with its config, for encode, decode and sample."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import RunConfig
from vaekit.data.units import check_unit_range
from vaekit.data.views import Splits
from vaekit.runtime.errors import ConfigError, DataError


def check_temperature(temperature: Any) -> None:
    """Raise ``ConfigError`` unless ``temperature`` (the factor on the prior's standard
    deviation when sampling) is a finite number >= 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 <= temperature < math.inf:
        raise ConfigError(
            "temperature must be a finite number >= 0 (the prior's standard deviation is scaled by it; 1 draws "
            f"from the prior itself), got {temperature!r}"
        )


class TrainedVAE:
    """A trained model with its config, ready for inference: encode, decode, sample.

    Inputs are examples as float arrays or tensors, ``[N, D]`` or ``[N, *input_shape]``, in model
    units (grey levels in [0, 1] for images: ``bundle.as_float("test")`` of a loaded dataset,
    whose images are stored as uint8; uint8 inputs are refused rather than read as 0..255).
    Outputs are tensors on CPU unless the model was moved; decoded examples come back as
    ``[N, *input_shape]``.
    """

    def __init__(self, model: torch.nn.Module, config: RunConfig, run_dir: Path | None = None) -> None:
        self.model = model.eval()
        self.config = config
        self.run_dir = run_dir
        #: which weights of the run folder these are: "last" or "best" (``load(which=...)``)
        self.weights = "last"
        #: the optimizer step and the epoch those weights were saved at (None when not loaded
        #: from a run folder)
        self.weights_step: int | None = None
        self.weights_epoch: int | None = None
        #: the first test examples and labels as the model sees them, kept by ``train`` and
        #: ``resume`` so that ``vaekit.viz.write_run_pictures`` need not load the data again
        self.test_preview: tuple[torch.Tensor, torch.Tensor | None] | None = None
        #: the run's test split as stored, kept by ``train`` and ``resume`` so that evaluating
        #: it right after training need not read the dataset again
        self.test_splits: Splits | None = None

    @property
    def device(self) -> torch.device:
        """The device the weights live on."""
        return next(self.model.parameters()).device

    @property
    def latent_dim(self) -> int:
        """Number of latent dimensions L."""
        return self.config.model.latent_dim

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 8, 8)`` or ``(5,)``."""
        return tuple(self.config.input_shape or ())

    @property
    def is_image(self) -> bool:
        """True when examples are images (C, H, W)."""
        return len(self.input_shape) == 3

    def to(self, device: str | torch.device) -> TrainedVAE:
        """Move the model to ``device``; returns self."""
        self.model.to(device)
        return self

    def _as_batch(self, x: Any, dim: int, what: str) -> torch.Tensor:
        if isinstance(x, str | os.PathLike):
            raise DataError(
                f"{what} are arrays, not a path ({x!r}): read the file first (numpy.load; for a run's data, "
                "vaekit.api.resolve_eval_data(vae, path, None))"
            )
        if not torch.is_tensor(x):
            x = np.asarray(x)
            if x.dtype.kind not in "biuf":
                raise DataError(f"{what} must be numbers, got an array of {x.dtype}; give a numeric array")
            if not x.flags.writeable:  # a DataFrame's or memory map's values: torch warns on read-only arrays
                x = x.copy()
        t = torch.as_tensor(x)
        if t.dtype == torch.uint8:
            raise DataError(
                f"{what} are uint8 (grey levels 0..levels-1, as datasets store images); convert them "
                "to model units first: bundle.as_float('test') or vaekit.data.to_model_units(x, levels)"
            )
        t = t.to(torch.float32)
        shape = self.input_shape if what == "inputs" else ()
        if len(shape) > 1 and tuple(t.shape) in (shape, shape[1:] if shape[0] == 1 else None):
            t = t.reshape(1, *shape)  # one image (a grey one may leave its channel out)
        elif len(shape) == 3 and shape[0] == 1 and t.ndim == 3 and tuple(t.shape[1:]) == shape[1:]:
            t = t.unsqueeze(1)  # grey images [N, H, W]: their one channel left out
        if t.ndim > 2 and len(shape) > 1 and tuple(t.shape[1:]) != shape:
            raise DataError(f"{what} are shaped {tuple(t.shape[1:])} each; this model expects {shape} (or rows of {dim} values)")
        if t.ndim > 1 and len(t) == 0:
            raise DataError(f"no {what}: give at least one row")
        t = t.reshape(len(t), -1) if t.ndim > 1 else t.reshape(1, -1)
        if t.shape[1] != dim:
            raise DataError(f"{what} have {t.shape[1]} values per row; this model expects {dim}")
        if not torch.isfinite(t).all():
            raise DataError(f"{what} contain NaN or inf")
        if what == "inputs":
            check_unit_range(t, self.config.value_range, what)
        return t.to(self.device)

    @property
    def conditional(self) -> bool:
        """True for conditional models (cvae), whose calls take ``labels``."""
        return bool(getattr(self.model, "conditional", False))

    def _condition_args(self, labels: Any, n: int) -> tuple[torch.Tensor, ...]:
        """Return the model's extra arguments for ``n`` rows: ``(y,)`` for conditional models.

        ``labels`` is one class number or name (used for every row), ``[N]`` class numbers or
        names (an image folder's class sub-folders) or ``[N, C]`` condition vectors. Raises ``ConfigError`` if labels are missing or not applicable."""
        if not self.conditional:
            if labels is not None:
                raise ConfigError(f"model {self.config.model.name!r} is not conditional: it takes no labels")
            return ()
        if labels is None:
            raise ConfigError(
                f"model {self.config.model.name!r} is conditional: pass labels= (one class number, or one per "
                "example; on the command line --label 3)"
            )
        if isinstance(labels, np.ndarray) and labels.dtype.kind in "UO":
            labels = labels.tolist()  # names, as a list of them is taken
        if isinstance(labels, str) or (isinstance(labels, list | tuple) and any(isinstance(v, str) for v in labels)):
            from vaekit.data.classes import class_number

            names = self.config.class_names
            labels = class_number(labels, names) if isinstance(labels, str) else [class_number(v, names) for v in labels]
        array = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
        if array.dtype.kind not in "biuf":
            raise DataError(f"labels must be class numbers (or [N, C] condition vectors), got {array.dtype} values")
        y = torch.as_tensor(array)
        if y.ndim == 0:
            y = y.repeat(n)
        if len(y) != n:
            raise DataError(f"got {len(y)} labels for {n} examples")
        if y.ndim == 2 and y.is_floating_point():
            return (y.float().to(self.device),)
        if y.is_floating_point() and not bool((y == y.round()).all()):
            raise DataError("labels must be whole class numbers; got fractions (give [N, C] vectors for soft conditions)")
        return (y.long().to(self.device),)

    @torch.inference_mode()
    def encode(self, x: Any, sample: bool = False, labels: Any = None) -> torch.Tensor:
        """Return latent codes ``[N, L]``: posterior means (through a flow: its image of the
        base mean), or one draw from q(z|x) with ``sample``. Conditional models need the
        ``labels`` of the examples."""
        if not sample:
            return self.encode_distribution(x, labels=labels)[0]
        batch, condition = self._encoder_inputs(x, labels)
        return self.model.sample_posterior(batch, *condition)

    @torch.inference_mode()
    def encode_distribution(self, x: Any, labels: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior's ``(mu, logvar)``, each ``[N, L]``. A table run also takes a
        DataFrame of rows (encoded with its schema)."""
        batch, condition = self._encoder_inputs(x, labels)
        return self.model.encode(batch, *condition)

    def _encoder_inputs(self, x: Any, labels: Any) -> tuple[torch.Tensor, tuple[Any, ...]]:
        """Return the examples ``x`` as a model batch ``[N, D]`` and the condition arguments
        of their ``labels`` (a table run's DataFrame encoded with its schema, its labels taken
        from its condition columns when not given)."""
        if self.config.table is not None and type(x).__name__ == "DataFrame":
            from vaekit.data.tables import TableCodec

            codec = TableCodec.from_dict(self.config.table)
            if labels is None and codec.labels(x) is not None:
                labels = codec.labels(x)
            x = codec.encode(x)
        batch = self._as_batch(x, self.config.input_dim, "inputs")
        return batch, self._condition_args(labels, len(batch))

    @torch.inference_mode()
    def decode(self, z: Any, mean: bool = True, labels: Any = None) -> torch.Tensor:
        """Decode latent codes ``[N, L]`` to examples ``[N, *input_shape]``: the likelihood's
        mean (e.g. pixel probabilities), or a draw from it with ``mean=False``. Conditional
        models decode under ``labels`` (one class number, ``[N]`` numbers or ``[N, C]`` vectors)."""
        codes = self._as_batch(z, self.latent_dim, "latent codes")
        params = self.model.decode(codes, *self._condition_args(labels, len(codes)))
        lik = self.model.likelihood
        x = lik.mean(params) if mean else lik.sample(params)
        return x.reshape(len(x), *self.input_shape)

    @torch.inference_mode()
    def sample(self, n: int = 64, temperature: float = 1.0, mean: bool = True, labels: Any = None) -> torch.Tensor:
        """Draw ``n`` codes from the prior (std scaled by ``temperature``) and decode them.

        Conditional models decode under ``labels``; by default the classes in turn (0, 1, ...)."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError(f"number of samples must be an integer >= 1, got {n!r}")
        check_temperature(temperature)
        from vaekit.runtime.memory import require_memory

        # The samples, their codes and the decoder's widest layer, in float32 (a rough floor).
        widest = max([self.config.input_dim, *(self.config.model.net.get("encoder") or [])])
        require_memory(int(n) * 4 * (2 * self.config.input_dim + self.latent_dim + widest), f"{n:,} samples",
                       device=self.device, advice="draw fewer at a time (several calls with different seeds)")  # fmt: skip
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.model.cond_dim
        z = self.model.prior.sample(n, device=self.device, temperature=temperature)
        return self.decode(z, mean=mean, labels=labels)

    @torch.inference_mode()
    def reconstruct(self, x: Any, labels: Any = None) -> torch.Tensor:
        """Return decode(encode(x)) with posterior means, ``[N, *input_shape]``."""
        return self.decode(self.encode(x, labels=labels), labels=labels)

    def score(
        self, x: Any, kind: str = "nll", k: int | None = None, *, seed: int = 0, labels: Any = None
    ) -> np.ndarray:
        """Return the anomaly score of each example of ``x``: float64 ``[N]`` in nats, higher is
        more unusual. ``kind`` is ``"nll"`` (minus the ``k``-sample importance-weighted bound on
        log p(x); K = 100 by default), ``"elbo"`` (minus the ELBO, mean of ``k`` draws; 10) or
        ``"recon"`` (minus log p(x|z) at the posterior mean). ``x`` is an array of examples
        (model units, or uint8 grey levels), a data file, or for a table run a DataFrame
        (scores in the columns' own units, missing cells' values left out). uint8 arrays are
        refused (as ``encode`` refuses them; a ``.npy`` file of 8-bit pixels is read as such).
        A binarising or dequantising run sees ``x`` as evaluation does (a fixed seeded draw). A
        conditional model needs the examples' class numbers, ``labels`` ``[N]``. See
        :mod:`vaekit.scoring` for explanations, thresholds and the detector."""
        from vaekit.scoring import score_data

        return score_data(self, x, kind=kind, k=k, seed=seed, labels=labels).scores

    def explain(
        self, x: Any, kind: str = "nll", k: int | None = None, *, seed: int = 0, labels: Any = None
    ) -> Any:
        """Return :meth:`score`'s scores with each example's per-feature contributions (a
        :class:`vaekit.scoring.Scores`: ``.contributions`` ``[N, F]`` nats, ``.maps()`` for
        images, ``.frame()`` a DataFrame with one column per table column)."""
        from vaekit.scoring import score_data

        return score_data(self, x, kind=kind, k=k, seed=seed, explain=True, labels=labels)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)
