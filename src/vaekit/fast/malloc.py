"""Keeping freed memory for reuse while training on a CPU under glibc.

torch's CPU allocator hands every tensor's memory to ``malloc`` and back to ``free``, with no
cache of its own. glibc serves a large block (a [1000, 784] float32 activation is 3 MB) with a
fresh ``mmap``, or from the heap once its dynamic threshold has risen, and gives the heap's free
top back to the system when it passes the trim threshold; either way the next step's tensors of
the same sizes fault their pages in again, and the kernel zeroes each page first. A training
step allocates the same sizes every time, so keeping freed memory in the heap
(``mallopt``: a fixed mmap threshold of :data:`MMAP_THRESHOLD_BYTES` and a trim threshold of
:data:`TRIM_THRESHOLD_BYTES`) removes that work. Blocks above the mmap threshold (a whole
dataset) are still mapped and unmapped as before.

The thresholds are process-wide and glibc cannot return to its dynamic adjustment, so they are
set once, the first time a run trains on the CPU under ``fast="auto"``, and kept:
the process's resident memory then stays near its peak, as it does under torch's GPU caching
allocator. ``VAEKIT_KEEP_FREED_MEMORY=0`` in the environment turns this off (so does ``fast="off"``),
and a ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` there is the user's own choice
and is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from functools import cache
from typing import Any

#: blocks below this many bytes come from the heap, and their memory stays there when freed
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
#: free memory at the heap's top kept for reuse, bytes (beyond it the heap is trimmed)
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
#: environment variables through which a user sets glibc's thresholds themselves
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
#: the environment variable that turns keeping freed memory off ("0")
OFF_SWITCH = "VAEKIT_KEEP_FREED_MEMORY"

# mallopt's parameter numbers, from glibc's malloc.h
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _glibc_mallopt() -> Any:
    """Return glibc's ``mallopt``, or None on another C library or system."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


@cache
def keep_freed_memory() -> bool:
    """Set glibc's thresholds so that freed blocks below :data:`MMAP_THRESHOLD_BYTES` stay in
    the heap for reuse, once per process; return whether they are set (by this call or an
    earlier one). False on another C library, or where the environment sets them or turns this
    off (:data:`OFF_SWITCH`)."""
    user_choice = os.environ.get(OFF_SWITCH) == "0" or any(name in os.environ for name in USER_SETTINGS)
    mallopt = None if user_choice else _glibc_mallopt()
    return (
        mallopt is not None
        and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    )
