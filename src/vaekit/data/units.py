"""Model units: the one conversion from stored grey levels to the float32 values a model sees.

A dataset stores its examples either as float32 (already in model units) or, for images with a
known number of grey levels, as uint8 integer levels ``0 .. levels - 1`` (4 x less memory than
float32). A uint8 level ``k`` means the grey value ``k / (levels - 1)`` in [0, 1].
"""

from __future__ import annotations

import torch

from vaekit.runtime.errors import DataError

#: The dtypes a ``DataBundle`` (and a run's splits) may store examples in.
STORAGE_DTYPES = (torch.float32, torch.uint8)
#: The most grey levels a uint8 tensor can hold (0..255).
MAX_UINT8_LEVELS = 256


def to_model_units(x: torch.Tensor, levels: int | None) -> torch.Tensor:
    """Return the examples ``x`` as float32 model units, on ``x``'s device.

    A uint8 tensor holds grey levels ``0 .. levels - 1``: it is converted to float32 and divided
    by ``levels - 1`` (so values lie in [0, 1]). The division is a true IEEE float32 division on
    every device (the divisor is a device tensor: CUDA would turn a division by a Python number
    into a multiplication by its reciprocal, which can differ in the last bit), so the result
    equals numpy's ``x.astype(np.float32) / (levels - 1)``, the values the readers produced
    before they kept uint8. A float32 tensor is already in model units and is returned as is
    (no copy). Raises ``DataError`` for other dtypes, or for uint8 without ``levels``.
    """
    if x.dtype == torch.float32:
        return x
    if x.dtype != torch.uint8:
        raise DataError(f"examples must be float32 (model units) or uint8 (grey levels), got {x.dtype}")
    if levels is None or not 2 <= levels <= MAX_UINT8_LEVELS:
        raise DataError(
            f"uint8 examples are grey levels and need their number of levels (2..{MAX_UINT8_LEVELS}), got {levels!r}"
        )
    divisor = torch.full((), levels - 1, dtype=torch.float32, device=x.device)
    return x.to(torch.float32).div_(divisor)


def check_unit_range(
    x: torch.Tensor, value_range: str | None, what: str = "the examples", levels: int | None = None
) -> None:
    """Raise ``DataError`` when float examples ``x`` of a run whose data are grey levels in
    [0, 1] (``value_range`` ``unit`` or ``binary``) hold values outside [0, 1], as 8-bit pixels
    not yet divided by 255 do (or grey levels ``0 .. levels - 1`` not divided by ``levels - 1``,
    the fix named when the run's data had ``levels`` other than 256 and the values fit them)."""
    if value_range in ("unit", "binary") and len(x) and (x.min() < 0 or x.max() > 1):
        fix = "divide 8-bit pixels by 255"
        if levels is not None and levels != MAX_UINT8_LEVELS and float(x.max()) <= levels - 1:
            fix = f"divide its grey levels (0..{levels - 1}) by {levels - 1}"
        raise DataError(
            f"{what} have values outside [0, 1] ({float(x.min()):g} .. {float(x.max()):g}); this run's data "
            f"are grey levels in [0, 1]: {fix}"
        )
