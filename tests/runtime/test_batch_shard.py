"""Noise drawn for a shard of a batch equals the rows of one draw for the whole batch."""

from __future__ import annotations

import pytest
import torch

from vaekit.runtime.batch_shard import current_rows, rows_of_batch, standard_normal


@pytest.mark.parametrize("shape", [(10, 4), (3, 10, 4)])
def test_a_shard_gets_its_rows_of_the_whole_draw(shape: tuple[int, ...]) -> None:
    like = torch.zeros(1)
    torch.manual_seed(5)
    whole = torch.randn(shape)
    after_whole = torch.randn(3)
    for start, stop in [(0, 4), (4, 10)]:
        torch.manual_seed(5)
        with rows_of_batch(10, start, stop):
            part = standard_normal((*shape[:-2], stop - start, shape[-1]), like)
        assert torch.equal(part, whole[..., start:stop, :])
        assert torch.equal(torch.randn(3), after_whole)  # the generator moved on as for the whole batch


def test_outside_a_shard_a_draw_is_plain_randn() -> None:
    torch.manual_seed(1)
    expected = torch.randn(6, 2)
    torch.manual_seed(1)
    assert torch.equal(standard_normal((6, 2), torch.zeros(1)), expected)
    assert current_rows() is None


def test_rows_are_restored_after_the_body_and_checked() -> None:
    with rows_of_batch(8, 0, 4):
        with rows_of_batch(6, 3, 6):
            assert current_rows() == (6, 3, 6)
        assert current_rows() == (8, 0, 4)
    assert current_rows() is None
    with pytest.raises(ValueError, match="not within a batch of 4"):
        with rows_of_batch(4, 2, 5):
            pass
