"""Conditional VAE (Sohn et al. 2015): encoder q(z|x, y) and decoder p(x|z, y)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaekit.models.build import DataFacts
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.runtime.errors import ConfigError, DataError


@register("cvae")
class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both take a condition ``y``: class labels ``[B]``
    (one-hot encoded over the data's classes) or any vectors ``[B, C]`` of the same width C
    (e.g. soft mixtures of classes). The prior stays N(0, I)."""

    conditional = True

    @classmethod
    def condition_dim(cls, facts: DataFacts) -> int:
        if not facts.num_classes:
            raise ConfigError(
                f"model cvae needs labelled data, but {facts.data_name!r} has no labels; "
                "use a labelled dataset (digits, mnist, fashion-mnist, labelled npz/csv) or another model"
            )
        return facts.num_classes

    def condition(self, y: torch.Tensor | None) -> torch.Tensor:
        """Return ``[B, C]`` condition vectors: one-hot for integer labels, ``y`` itself for vectors."""
        if y is None:
            raise DataError("the cvae model needs labels y (class numbers or [N, C] vectors)")
        if y.ndim == 1:
            if y.is_floating_point() and not torch.equal(y, y.round()):
                raise DataError("labels y must be whole class numbers, or [N, C] vectors")
            y = y.long()
            # Training labels on a GPU were checked when the data were read; checking them again
            # would make the host wait for the device at every step.
            checked = self.training and y.device.type != "cpu"
            if len(y) and not checked and (y.min() < 0 or y.max() >= self.cond_dim):
                raise DataError(f"labels must be in 0..{self.cond_dim - 1}, got {y.min().item()}..{y.max().item()}")
            return F.one_hot(y, self.cond_dim).float()
        if y.ndim != 2 or y.shape[-1] != self.cond_dim:
            raise DataError(f"condition vectors y must be [N, {self.cond_dim}], got shape {tuple(y.shape)}")
        return y.float()
