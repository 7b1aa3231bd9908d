"""Column moments merged batch by batch: the variance of posterior means over a split on disk."""

from __future__ import annotations

import pytest
import torch

from vaekit.evaluation.diagnostics import ColumnMoments, count_active_units, posterior_mean_variance


@pytest.mark.parametrize("sizes", [[1000], [1, 999], [7, 300, 1, 692], [250] * 4])
def test_moments_merged_over_batches_equal_one_pass(sizes):
    rows = torch.randn(sum(sizes), 5, dtype=torch.float64) * torch.tensor([1e-3, 0.05, 1.0, 30.0, 1.0]) + 1e3
    moments = ColumnMoments()
    for part in rows.split(sizes):
        moments.add(part)
    torch.testing.assert_close(posterior_mean_variance(moments), rows.var(0, unbiased=False), rtol=1e-9, atol=1e-12)
    assert moments.n == len(rows) and moments.width == 5
    assert count_active_units(moments) == count_active_units(rows) == 3  # the 1e-3 and the 0.05 scales: below 0.01


def test_moments_without_rows_refuse_a_variance():
    with pytest.raises(ValueError, match="no rows"):
        ColumnMoments().variance()
