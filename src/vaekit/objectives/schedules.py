"""KL weight schedules over training steps (warm-up, or "annealing")."""

from __future__ import annotations

WARMUPS = ("none", "linear", "cyclical")
#: fraction of each cycle spent ramping up in the cyclical schedule (Fu et al. 2019 use 0.5)
CYCLICAL_RAMP_FRACTION = 0.5


def kl_weight(step: int, warmup: str, warmup_steps: int) -> float:
    """Return the KL weight in [0, 1] at optimizer step ``step`` (0 = first step).

    - ``none``: always 1;
    - ``linear`` (Bowman et al. 2016, Sonderby et al. 2016): step / warmup_steps, then 1;
    - ``cyclical`` (Fu et al. 2019): cycles of ``warmup_steps`` steps, each ramping linearly
      from 0 to 1 over its first half and holding 1 over its second half.
    """
    if warmup == "none":
        return 1.0
    if warmup == "linear":
        return min(1.0, step / warmup_steps)
    if warmup == "cyclical":
        position = (step % warmup_steps) / warmup_steps
        return min(1.0, position / CYCLICAL_RAMP_FRACTION)
    raise ValueError(f"unknown warmup {warmup!r}; choose one of {list(WARMUPS)}")
