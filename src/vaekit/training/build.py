"""Turning a run config into its model and objective, through the registries."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from vaekit import objectives
from vaekit.config import RunConfig
from vaekit.models import DataFacts, create


def data_facts(config: RunConfig) -> DataFacts:
    """Return what the model must know of the data a config is bound to (its shape, value
    range, grey levels and label classes)."""
    if config.input_shape is None:
        raise ValueError("the config is not bound to data: input_shape is not set")
    return DataFacts(
        input_shape=tuple(config.input_shape),
        value_range=config.value_range,
        levels=config.levels,
        num_classes=config.num_classes,
        data_name=config.data.name,
    )


def build_model(config: RunConfig) -> nn.Module:
    """Return the model ``config.model`` describes, sized for the data it is bound to."""
    return create(dataclasses.asdict(config.model), data_facts(config))


def build_objective(config: RunConfig, model: nn.Module) -> Any:
    """Return the training objective of a run: ``config.model.objective``, else the family's own."""
    return objectives.create_objective(config.model.objective, model)
