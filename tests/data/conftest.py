"""Fixtures shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``~`` at an empty folder and unset VAEKIT_DATA_DIR, so no test sees real caches.
    The folder lies outside ``tmp_path``, which tests use as an empty dataset folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("VAEKIT_DATA_DIR", raising=False)
    return home
