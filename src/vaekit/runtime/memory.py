"""How much memory a device has free, and refusing sizes that cannot fit before allocating them.

A model or dataset too large for the machine should end in one line that says how much it needs
and how much there is, not in an allocator traceback, a ``MemoryError`` or the kernel's OOM
killer. Callers estimate what they are about to allocate and call :func:`require_memory` first.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import torch

from vaekit.runtime.errors import ConfigError, VaekitError

#: where Linux reports the memory the kernel can hand out without swapping
MEMINFO = Path("/proc/meminfo")
#: a control group's memory limit and use (cgroup v2, then v1): a container's real ceiling
#: (limit, usage, statistics file, its key of reclaimable page cache) of cgroup v2 and v1
CGROUP_FILES = (
    (
        Path("/sys/fs/cgroup/memory.max"),
        Path("/sys/fs/cgroup/memory.current"),
        Path("/sys/fs/cgroup/memory.stat"),
        "inactive_file",
    ),
    (
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
        Path("/sys/fs/cgroup/memory/memory.stat"),
        "total_inactive_file",
    ),
)
#: a cgroup limit at or above this means "no limit"
UNLIMITED = 1 << 60


def _meminfo_available() -> int | None:
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_available() -> int | None:
    """Return the bytes a container's cgroup limit leaves: the limit less the usage, where the
    usage leaves out the page cache the kernel can reclaim (as docker and the kubelet count it)."""
    for limit_file, usage_file, stat_file, reclaimable_key in CGROUP_FILES:
        try:
            limit = limit_file.read_text().strip()
            if limit == "max" or int(limit) >= UNLIMITED:
                return None
            usage = int(usage_file.read_text().strip())
        except (OSError, ValueError):
            continue
        return max(0, int(limit) - usage + _stat_value(stat_file, reclaimable_key))
    return None


def _stat_value(path: Path, key: str) -> int:
    """Return ``key``'s value in a cgroup ``memory.stat`` file (0 when it cannot be read)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def system_available_bytes() -> int | None:
    """Return the bytes of main memory available to this process now: the kernel's
    ``MemAvailable`` (else ``os.sysconf``), capped by a container's cgroup limit; None when
    unknown."""
    found = [n for n in (_meminfo_available(), _cgroup_available()) if n is not None]
    return min(found) if found else None


def available_bytes(device: torch.device | str = "cpu") -> int | None:
    """Return the free memory of ``device`` in bytes: main memory for a CPU (and for Apple's
    ``mps``, which shares it), the free memory of a CUDA device; None when unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError, ValueError):
            return None
    if device.type in ("cpu", "mps", "meta"):
        return system_available_bytes()
    return None


def format_bytes(n: float) -> str:
    """Return ``n`` bytes in binary units: ``512 B``, ``3.2 MiB``, ``1.5 TiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def device_words(device: torch.device | str) -> str:
    """Return ``device`` as a message names it: ``this machine`` for a CPU, else the device."""
    device = torch.device(device)
    return "this machine" if device.type in ("cpu", "mps", "meta") else f"device {device}"


def require_memory(
    needed: int,
    what: str,
    *,
    device: torch.device | str = "cpu",
    advice: str = "",
    error: type[VaekitError] = ConfigError,
) -> None:
    """Raise ``error`` when ``needed`` bytes (an estimate of ``what``) exceed the free memory of
    ``device``; the message gives both figures and ``advice``. Nothing is raised when the free
    memory is unknown."""
    free = available_bytes(device)
    if free is None or needed <= free:
        return
    message = (
        f"{what} needs about {format_bytes(needed)} of memory, but {device_words(device)} has "
        f"{format_bytes(free)} available"
    )
    raise error(message + (f"; {advice}" if advice else ""))


#: allocations of at least this many bytes are mapped, not carved from the heap, once
#: :func:`map_large_allocations` ran
LARGE_ALLOCATION_BYTES = 1 << 20
#: glibc's ``mallopt`` parameter number of the mmap threshold
_M_MMAP_THRESHOLD = -3


def map_large_allocations(threshold: int = LARGE_ALLOCATION_BYTES) -> bool:
    """Ask the C allocator (glibc's) to map every allocation of ``threshold`` bytes or more
    with its own pages, for the rest of the process; return whether it took the setting
    (False on other C libraries, where nothing changes).

    Why: glibc raises its mapping threshold each time a mapped block is freed, so a process
    that allocates and frees many blocks of megabytes (the batches and blocks of data read
    from a file) ends up carving them from its heap, which fragments and is not given back: its
    resident set grows with the number of blocks read, not with what it holds. The same as
    ``MALLOC_MMAP_THRESHOLD_=1048576`` in the environment."""
    mallopt = _libc_function("mallopt")
    if mallopt is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False  # not glibc-like, or the user chose a threshold
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))


def release_free_heap() -> bool:
    """Give the C allocator's free heap pages back to the system (glibc's ``malloc_trim``);
    return whether it could (False on other C libraries).

    Why: reading a split from disk block by block allocates and frees many blocks smaller than
    the mapping threshold (row numbers, masks, a table's columns), which leave free pages
    scattered through the heap; glibc gives back only the heap's free top on its own, so the
    resident set would creep with the blocks read. Called once per block read, it keeps the
    resident set at what the process holds."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _libc_function(name: str) -> Any:
    """Return the C library's function ``name`` (ctypes), or None where there is none; looked
    up once (finding the library runs ``ldconfig``)."""
    import ctypes
    import ctypes.util

    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        return None
