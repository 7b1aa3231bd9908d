"""One writer per run folder: an OS file lock on ``RUN/.vaekit.lock``.

``train``, ``resume`` and ``evaluate`` (for its report) hold the lock while they write a run
folder; a second writer is refused with an error naming the holder's PID, which the lock file
holds: at once while a training holds it, and after up to :data:`BRIEF_WAIT` seconds while a
command that holds it only to write a report or pictures does (:data:`BRIEF_COMMANDS`), so that
two evaluations finishing at the same moment both save their reports. The lock is ``flock(2)``:
the operating system drops it when its process ends, however it ends (``kill -9`` included), so
a crashed run never leaves the folder locked. The file itself is removed on a normal release;
one left by a killed process is stale and simply taken over.

Within one process the lock is re-entrant for the thread that holds it (the CLI may take it
around an API call that takes it too); another thread is refused like another process.
On platforms without ``fcntl`` (Windows) the lock is not enforced.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vaekit.runtime.atomic import write_error
from vaekit.runtime.errors import NotWritableError, RunFolderLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".vaekit.lock"
#: the commands that hold a run folder's lock only for the moment of writing a few files
BRIEF_COMMANDS = frozenset({"evaluate", "pictures"})
#: seconds a writer waits for a brief holder (see :data:`BRIEF_COMMANDS`) before it is refused
BRIEF_WAIT = 30.0
#: seconds between two tries while waiting
_POLL = 0.05


@dataclass
class _Held:
    fd: int
    thread: int
    count: int
    info: dict


_held: dict[str, _Held] = {}
_guard = threading.Lock()


def lock_path(folder: Path) -> Path:
    """Return the lock file of run folder ``folder``."""
    return Path(folder) / LOCK_FILE


def holder(folder: Path) -> dict | None:
    """Return what the lock file of ``folder`` says about its holder (``pid``, ``command``,
    ``since``), or None when there is no readable lock file. It may be stale: only a failed
    :func:`run_folder_lock` proves the holder alive."""
    try:
        text = lock_path(folder).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        return None
    return info if isinstance(info, dict) else None


@contextmanager
def run_folder_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold the lock of the existing folder ``folder`` for the block, as ``command`` (e.g.
    ``"train"``). Raises ``RunFolderLockedError`` naming the holder's PID when another process
    (or thread) holds it: at once, or once it has held it :data:`BRIEF_WAIT` seconds more when it
    is one of :data:`BRIEF_COMMANDS`; and ``NotWritableError`` when the lock file cannot be
    created (a read-only folder)."""
    key = os.path.realpath(folder)
    me = threading.get_ident()
    deadline = time.monotonic() + BRIEF_WAIT
    held = _join_own_hold(Path(folder), key, me, deadline)
    if held is not None:
        try:
            yield
        finally:
            with _guard:
                held.count -= 1
        return
    fd, info = _acquire(Path(folder), command, deadline)
    with _guard:
        _held[key] = _Held(fd, me, 1, info)
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        _release(Path(folder), fd)


def _join_own_hold(folder: Path, key: str, me: int, deadline: float) -> _Held | None:
    """Return this process's hold of ``folder`` (key ``key``) with one more user when thread
    ``me`` holds it, or None when no thread of this process does; while another thread holds it
    briefly (:data:`BRIEF_COMMANDS`), wait for it until ``deadline`` (``time.monotonic``). Raises
    ``RunFolderLockedError`` when another thread holds it otherwise or past the deadline."""
    while True:
        with _guard:
            held = _held.get(key)
            if held is None:
                return None
            if held.thread == me:
                held.count += 1
                return held
            info = held.info
        if not _worth_waiting(info, deadline):
            raise RunFolderLockedError(_locked_message(folder, info, "another thread of this process"))
        time.sleep(_POLL)


def _worth_waiting(info: dict | None, deadline: float) -> bool:
    """Return whether a writer refused by the holder ``info`` should try again: the holder
    writes only a few files (:data:`BRIEF_COMMANDS`) and ``deadline`` (``time.monotonic``) has
    not passed. A holder that has not said who it is is not waited for."""
    brief = info is not None and info.get("command") in BRIEF_COMMANDS
    return brief and time.monotonic() < deadline


def _acquire(folder: Path, command: str, deadline: float) -> tuple[int, dict]:
    path = lock_path(folder)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            error = write_error(path, exc)
            if error is exc:
                raise
            if isinstance(error, NotWritableError):
                error = NotWritableError(
                    f"run folder {folder} is not writable ({exc.strerror or 'permission denied'}; is it read-only?)"
                )
            raise error from None
        if fcntl is None:  # pragma: no cover - Windows
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = _wait_for_holder(folder)
            if _worth_waiting(info, deadline):
                time.sleep(_POLL)  # a report's or pictures' writer is done within moments
                continue
            raise RunFolderLockedError(_locked_message(folder, info)) from None
        except BaseException:
            os.close(fd)
            raise
        # A holder that released the lock removes its file: if ours is no longer the one at
        # ``path``, we locked a file nobody else will look at. Try again on the current one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode())
    except OSError:
        pass  # the lock holds without its note (a full disk): the holder's PID will read as unknown
    return fd, info


def _release(folder: Path, fd: int) -> None:
    # Remove the file while still holding the lock, so that no one locks it in between.
    try:
        if os.path.samestat(os.fstat(fd), os.stat(lock_path(folder))):
            os.unlink(lock_path(folder))
    except OSError:
        pass
    finally:
        os.close(fd)


def _wait_for_holder(folder: Path) -> dict | None:
    # The holder writes its PID just after locking: give a holder that has just started a moment.
    for _ in range(20):
        info = holder(folder)
        if info is not None:
            return info
        time.sleep(0.01)
    return None


def _locked_message(folder: Path, info: dict | None, where: str = "") -> str:
    if info is None:
        who = "another process (PID unknown)"
    else:
        details = [f"vaekit {info['command']}"] if info.get("command") else []
        details += [f"since {info['since']}"] if info.get("since") else []
        details += [where] if where else []
        who = f"PID {info.get('pid', 'unknown')}" + (f" ({', '.join(details)})" if details else "")
    return (
        f"run folder {folder} is in use by {who}: only one process may write a run folder at a time; "
        "wait for it to finish (or stop it), or choose another folder"
    )
