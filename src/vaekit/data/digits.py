"""scikit-learn's bundled 8x8 handwritten digits, with a split fixed for every user."""

from __future__ import annotations

import numpy as np

from vaekit.data.bundle import DataBundle, bundle_from_arrays
from vaekit.data.options import LoadOptions
from vaekit.data.validate import as_grey_levels, as_labels, check_test_fraction

DIGITS_LEVELS = 17  # the grey levels of sklearn's digits are the integers 0..16
SPLIT_RANDOM_STATE = 0  # fixed, not the user's seed: everyone gets the same test set


def read_digits(options: LoadOptions) -> DataBundle:
    """Return the 1797 sklearn digits: shape ``(1, 8, 8)``, uint8 grey levels 0..16 (17
    levels; /16 gives [0, 1]), labels 0..9, and a stratified train/test split with
    ``random_state=0`` (the same for every ``seed``, so results are comparable across users
    and runs)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_fraction = check_test_fraction(options.test_fraction)
    x, y = load_digits(return_X_y=True)
    source = "sklearn digits"
    x = as_grey_levels(x, DIGITS_LEVELS, source)
    y = as_labels(y, x.shape[0], source)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=SPLIT_RANDOM_STATE, stratify=y
    )
    return bundle_from_arrays(
        "digits",
        x_train,
        x_test,
        shape=(1, 8, 8),
        kind="image",
        value_range="unit",
        train_labels=np.asarray(y_train),
        test_labels=np.asarray(y_test),
        levels=DIGITS_LEVELS,
    )
