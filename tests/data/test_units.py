"""to_model_units: uint8 grey levels to float32, bit for bit what the float readers produced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data.units import to_model_units
from vaekit.runtime.errors import DataError


def old_reader_units(levels_u8: np.ndarray, levels: int) -> np.ndarray:
    """The arithmetic of the readers before they kept uint8: a float32 copy, then /= levels - 1."""
    x = levels_u8.astype(np.float32)
    x /= levels - 1
    return x


def test_every_grey_level_converts_exactly_as_the_old_readers_did() -> None:
    for levels in range(2, 257):
        grid = np.arange(levels, dtype=np.uint8).reshape(1, -1)
        new = to_model_units(torch.from_numpy(grid), levels)
        assert new.dtype == torch.float32
        assert torch.equal(new, torch.from_numpy(old_reader_units(grid, levels))), levels
        # The digits reader divided by np.float32(16) instead: the same float32 division.
        assert np.array_equal(new.numpy(), grid.astype(np.float32) / np.float32(levels - 1)), levels


def test_a_batch_converts_like_its_rows_of_the_whole_set() -> None:
    pixels = torch.randint(0, 256, (50, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    whole = to_model_units(pixels, 256)
    index = torch.tensor([41, 3, 3, 17])
    assert torch.equal(to_model_units(pixels[index], 256), whole[index])


def test_float32_passes_through_without_a_copy() -> None:
    x = torch.rand(3, 4)
    assert to_model_units(x, None) is x and to_model_units(x, 256) is x


@pytest.mark.parametrize(
    ("x", "levels", "match"),
    [
        (torch.zeros(2, 2, dtype=torch.uint8), None, "need their number of levels"),
        (torch.zeros(2, 2, dtype=torch.uint8), 1, "need their number of levels"),
        (torch.zeros(2, 2, dtype=torch.uint8), 257, "need their number of levels"),
        (torch.zeros(2, 2, dtype=torch.float64), 256, "float32 .* or uint8"),
    ],
)
def test_bad_inputs_are_refused(x: torch.Tensor, levels: int | None, match: str) -> None:
    with pytest.raises(DataError, match=match):
        to_model_units(x, levels)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_conversion_on_cuda_is_bit_identical_to_the_cpu() -> None:
    # CUDA divides by a Python number as a multiplication by its reciprocal; a device divisor must not.
    for levels in (17, 255, 256):
        grid = torch.arange(levels, dtype=torch.uint8).reshape(1, -1)
        assert torch.equal(to_model_units(grid.cuda(), levels).cpu(), to_model_units(grid, levels))
