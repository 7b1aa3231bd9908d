"""Crash-safe file writes: write to a temporary name in the same folder, fsync, rename.

The temporary file is ``.<name>.<random>_<host>_<pid>.tmp`` next to ``<name>``: ``<host>`` (8 hex
digits) names the machine and PID namespace of the writer, ``<pid>`` its process. A kill during the
write can leave it behind: the next write of ``<name>`` deletes those whose writer, on this machine,
has ended, and those whose writer cannot be checked (another machine's, or an earlier vaekit's
``.<name>.<random>.tmp``) once untouched for :data:`STALE_AFTER` seconds
(:func:`remove_stale_temporaries`); :func:`remove_temporaries` clears those of a folder's known
files. A temporary never has the name or suffix of a real file, so no reader mistakes one for it.
The new file gets the mode an ordinary ``open(path, "w")`` would give it: ``0666`` less the
process's umask.

A full disk or a folder that cannot be written is reported as one line naming the file
(:class:`~vaekit.runtime.errors.DiskFullError`, :class:`~vaekit.runtime.errors.NotWritableError`),
and so is a path through a file (``afile/x.png``) or onto a folder
(:class:`~vaekit.runtime.errors.ConfigError`), instead of an ``OSError`` traceback; the file's
earlier version, if any, is left as it was.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vaekit.runtime.errors import ConfigError, DiskFullError, NotWritableError, WriteError

#: errno values of a full disk (or quota) and of a folder or file system that refuses writes
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}
#: errno values of making a folder, or a file in it, where a file of that name stands
_THROUGH_A_FILE = {errno.EEXIST, errno.ENOTDIR}
#: seconds after its last change that a temporary whose writer cannot be checked (another
#: machine's, an earlier vaekit's) counts as abandoned: a live writer changes it far more often
STALE_AFTER = 24 * 3600.0
#: seconds a group of renames waits for another process's group in the same folder
_GROUP_WAIT = 10.0

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    with write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temporary(path)
    try:
        with write_errors(path), os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        move_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def make_temporary(path: Path) -> tuple[int, Path]:
    """Create an empty temporary file for ``path`` in its (existing) folder, named as the module's
    description says and with the mode ``open()`` would give it, after deleting the temporaries of
    ``path`` that ended writers left; return its open descriptor and its path."""
    path = Path(path)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"_{_writer_tag()}_{os.getpid()}.tmp", dir=path.parent)
    _chmod_as_umask(fd)
    return fd, Path(tmp)


def fsync_file(path: Path) -> None:
    """Flush the file at ``path`` to disk (one written through a memory map or by a library)."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished, fsynced temporary file ``tmp`` to ``path`` durably; a ``tmp`` that
    someone deleted meanwhile is reported as one line."""
    with write_errors(path):
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            if Path(path).parent.is_dir():
                raise WriteError(
                    f"could not write {path}: its temporary file {tmp} was deleted while it was written "
                    "(by another program?); run the command again"
                ) from None
            raise
    _fsync_dir(Path(path).parent)


def move_group_into_place(moves: Iterable[tuple[Path, Path]]) -> None:
    """Rename each finished temporary ``tmp`` of ``moves`` (all in one folder) to its ``path``,
    as :func:`move_into_place` does, while no other vaekit process renames a group in that
    folder: two commands that write the same pair of files (scores and their maps) at the same
    moment leave both files of one of them, never one file of each. Returns None."""
    moves = [(Path(tmp), Path(path)) for tmp, path in moves]
    if not moves:
        return
    with _folder_renames(moves[0][1].parent):
        for tmp, path in moves:
            move_into_place(tmp, path)


@contextmanager
def _folder_renames(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` itself for the block (no file is made), waiting
    up to ``_GROUP_WAIT`` seconds for another holder; go on without it where the platform or file
    system has no such lock, or a holder keeps it that long (stopped mid-rename)."""
    fd = _open_folder(folder) if fcntl is not None else None
    try:
        if fd is not None and not _lock_within(fd, _GROUP_WAIT):
            os.close(fd)
            fd = None
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock


def _open_folder(folder: Path) -> int | None:
    """Return a read-only descriptor of ``folder``, or None where it cannot be opened."""
    try:
        return os.open(folder, os.O_RDONLY)
    except OSError:
        return None


def _lock_within(fd: int, seconds: float) -> bool:
    """Take an exclusive ``flock`` on ``fd`` within ``seconds``; return whether it was taken
    (False too where the file system refuses such locks)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        except OSError:
            return False


def check_writable_path(path: Path) -> None:
    """Raise the ``ConfigError`` that writing ``path`` would meet when a file stands where one of
    its folders must be (``afile/x.png``), before the work that makes its contents is done."""
    path = Path(path)
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(f"cannot write {path}: {above} is a file, not a folder; write it somewhere else")


def write_error(path: Path, exc: OSError) -> Exception:
    """Return the user-facing error for ``exc``, met while writing ``path``: a
    ``DiskFullError`` or ``NotWritableError`` naming the file, a ``ConfigError`` naming the file
    that stands where a folder must be (or the folder where the file must be), else ``exc``."""
    path = Path(path)
    if exc.errno in _FULL:
        return DiskFullError(f"disk full: could not write {path} (no space left on device)")
    if exc.errno in _REFUSED:
        return NotWritableError(
            f"cannot write {path}: {exc.strerror or 'permission denied'} (is the folder read-only?)"
        )
    if exc.errno in _THROUGH_A_FILE:
        try:
            check_writable_path(path)
        except ConfigError as through_a_file:
            return through_a_file
    if exc.errno == errno.EISDIR and path.is_dir():
        return ConfigError(f"cannot write {path}: a folder of that name is in the way; move that folder away, or write elsewhere")
    return exc


@contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Raise an ``OSError`` met inside the block as the one-line error :func:`write_error` makes
    of it (a full disk, a refused write, a file or folder in the way), others as they are."""
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
            try:
                child.unlink(missing_ok=True)
            except OSError:
                continue  # one this user may not delete: harmless where it is, never read
            removed.append(child)
    return removed


def is_temporary_of(name: str, names: Iterable[str]) -> bool:
    """Return whether the file name ``name`` is a temporary :func:`atomic_write_bytes` makes (or an
    earlier vaekit made) for one of ``names`` (see :func:`temporary_name_pattern`)."""
    return temporary_name_pattern(names).fullmatch(name) is not None


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of ``path`` that are surely abandoned; return those deleted.
    That is those whose writer was a process of this machine that has ended (killed mid-write),
    and those whose writer cannot be checked (another machine's in a shared folder, or an earlier
    vaekit's, with no PID in the name) once untouched for :data:`STALE_AFTER` seconds. Those of
    live writers of this machine, and fresh ones of unknown writers, are kept."""
    path = Path(path)
    name = re.escape(path.name)
    ours = re.compile(rf"\.{name}\.[A-Za-z0-9_]{{8}}_{_writer_tag()}_([0-9]{{1,10}})\.tmp")
    anyone = re.compile(rf"\.{name}\.[A-Za-z0-9_]{{8}}(?:_[0-9a-f]{{8}}_[0-9]{{1,10}})?\.tmp")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []  # the write itself reports a folder it cannot use
    removed = []
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match:
            stale = _writer_ended(int(match[1]))
        else:
            stale = anyone.fullmatch(entry.name) is not None and _untouched_for(entry, STALE_AFTER)
        if stale and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except OSError:
                continue  # another writer removed it first, or the folder refuses: not this write's concern
            removed.append(Path(entry.path))
    return removed


def _untouched_for(entry: os.DirEntry[str], seconds: float) -> bool:
    """Return whether the file ``entry`` was last changed more than ``seconds`` ago (False when
    it cannot be told)."""
    try:
        changed = entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return time.time() - changed > seconds


def _writer_ended(pid: int) -> bool:
    """Return True when no process ``pid`` runs in this PID namespace (False whenever unsure)."""
    # On Windows os.kill(pid, 0) terminates the process rather than probing it.
    if os.name != "posix" or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False  # EPERM: alive, another user's
    return False


@functools.cache
def _writer_tag() -> str:
    """Return 8 hex digits naming this machine and PID namespace: a temporary file's PID tells
    whether its writer is alive only where the tag is the same."""
    import hashlib
    import socket

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""  # no /proc: the host name alone
    return hashlib.sha256(f"{socket.gethostname()}\n{namespace}".encode()).hexdigest()[:8]


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
