"""One registry mapping model names to classes: ``create("vae", ...)``, ``--model vae``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vaekit.runtime.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from vaekit.config import RunConfig

MODELS: dict[str, type[nn.Module]] = {}


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a model class to the registry under ``name``."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in MODELS:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name].__name__}")
        MODELS[name] = cls
        cls.registry_name = name
        return cls

    return add


def available_models() -> list[str]:
    """Return the registered model names, sorted."""
    return sorted(MODELS)


def create(config: RunConfig) -> nn.Module:
    """Build the model that ``config.model.name`` names, sized by ``config.input_shape``."""
    try:
        cls = MODELS[config.model.name]
    except KeyError:
        raise ConfigError(f"unknown model {config.model.name!r}; choose one of {available_models()}") from None
    return cls.from_config(config)
