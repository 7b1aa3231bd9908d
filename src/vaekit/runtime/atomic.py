"""Crash-safe file writes: write to a temporary name in the same folder, fsync, rename.

The temporary file is ``.<name>.<random>.tmp`` next to ``<name>``; a kill during the write can
leave it behind (:func:`remove_temporaries` clears those of a folder's known files). The new file
gets the mode an ordinary ``open(path, "w")`` would give it: ``0666`` less the process's umask.

A full disk or a folder that cannot be written is reported as one line naming the file
(:class:`~vaekit.runtime.errors.DiskFullError`, :class:`~vaekit.runtime.errors.NotWritableError`)
instead of an ``OSError`` traceback; the file's earlier version, if any, is left as it was.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vaekit.runtime.errors import DiskFullError, NotWritableError

#: errno values of a full disk (or quota) and of a folder or file system that refuses writes
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    with write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                _chmod_as_umask(f.fileno())
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_error(path: Path, exc: OSError) -> Exception:
    """Return the user-facing error for ``exc``, met while writing ``path``: a
    ``DiskFullError`` or ``NotWritableError`` naming the file, else ``exc`` itself."""
    if exc.errno in _FULL:
        return DiskFullError(f"disk full: could not write {path} (no space left on device)")
    if exc.errno in _REFUSED:
        return NotWritableError(
            f"cannot write {path}: {exc.strerror or 'permission denied'} (is the folder read-only?)"
        )
    return exc


@contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Raise a full disk or a refused write met inside the block as :func:`write_error` does."""
    try:
        yield
    except OSError as exc:
        error = write_error(path, exc)
        if error is exc:
            raise
        raise error from None


def temporary_name_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """Return the pattern of the temporary files :func:`atomic_write_bytes` makes for ``names``
    (each a file name, or a shell-style pattern such as ``eval-*.json``)."""
    import fnmatch

    alternatives = "|".join(fnmatch.translate(n).removeprefix("(?s:").removesuffix(")\\Z") for n in names)
    return re.compile(rf"\.(?:{alternatives})\.[A-Za-z0-9_]+\.tmp")


def remove_temporaries(folder: Path, names: Iterable[str]) -> list[Path]:
    """Delete the temporary files that interrupted atomic writes of ``names`` left in ``folder``
    (top level only); return those deleted. Call it only while no one else writes there."""
    pattern = temporary_name_pattern(names)
    removed = []
    for child in Path(folder).iterdir():
        if pattern.fullmatch(child.name) and child.is_file() and not child.is_symlink():
            child.unlink(missing_ok=True)
            removed.append(child)
    return removed


def current_umask() -> int:
    """Return the process's umask without changing it (read from /proc where it can be)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no other way to read it; set back at once
    os.umask(mask)
    return mask


def _chmod_as_umask(fd: int) -> None:
    # mkstemp creates 0600 whatever the umask; give the file the mode open() would have given it.
    if not hasattr(os, "fchmod"):
        return
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except OSError:
        pass  # a file system without modes (FAT, some network shares)


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk (POSIX); Windows can't open dirs.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
