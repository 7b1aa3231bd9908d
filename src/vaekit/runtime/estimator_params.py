"""scikit-learn's ``get_params``/``set_params`` for vaekit's estimators (``TableVAE``,
``AnomalyDetector``), so that ``sklearn.base.clone`` and grid searches can rebuild them."""

from __future__ import annotations

from typing import Any


class EstimatorParams:
    """Mixin for an estimator whose constructor takes the named arguments ``PARAMS``, kept as
    attributes of those names exactly as given, and any other keyword arguments, kept in
    ``train_options`` (a dict)."""

    #: the constructor's named arguments, in order
    PARAMS: tuple[str, ...] = ()
    train_options: dict[str, Any]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's arguments by name (scikit-learn's ``get_params``); ``deep``
        is unused (no argument is itself an estimator)."""
        return {**{name: getattr(self, name) for name in self.PARAMS}, **self.train_options}

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments by name (scikit-learn's ``set_params``), each checked by
        :meth:`check_param`; returns self. A changed setting applies from the next ``fit``."""
        for name, value in params.items():
            self.check_param(name, value)
            if name in self.PARAMS:
                setattr(self, name, value)
            else:
                self.train_options[name] = value
        return self

    def check_param(self, name: str, value: Any) -> None:
        """Raise ``ConfigError`` for a value ``set_params`` must not take (none here)."""
