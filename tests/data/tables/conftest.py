"""Tiny mixed-type tables made in the tests, and the real tables when this machine has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "tables"


def mixed_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Return a table with one column of each kind, a few missing cells, and its dtypes as
    ``read_table`` gives them: text, Int64 (whole numbers with missing cells), float64, bool,
    int64 codes, int64 counts."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n)
    sex = pd.Series(rng.choice(["female", "male"], n), dtype="str")
    sex[[3, 7]] = np.nan
    mass = rng.integers(2700, 6300, n)
    mass_missing = np.zeros(n, dtype=bool)
    mass_missing[[1, 5]] = True
    bill = np.round(rng.normal(44.0, 5.0, n), 1)
    bill[[2]] = np.nan
    return pd.DataFrame(
        {
            "species": pd.Series(species, dtype="str"),
            "body_mass_g": pd.Series(pd.arrays.IntegerArray(mass, mass_missing)),
            "bill_length_mm": bill,
            "sex": sex,
            "adult": rng.random(n) < 0.7,
            "site": rng.integers(1, 5, n),
            "visits": rng.negative_binomial(1, 0.2, n).astype(np.int64),
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return mixed_frame()


def real_table(name: str) -> Path:
    """Return the path of a real table of ../shared/data/tables, or skip the test."""
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    return path
