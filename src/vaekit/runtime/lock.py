"""One writer per run folder: an OS file lock on ``RUN/.vaekit.lock``.

``train``, ``resume`` and ``evaluate`` (for its report) hold the lock while they write a run
folder; a second writer is refused at once with an error naming the holder's PID, which the
lock file holds. The lock is ``flock(2)``: the operating system drops it when its process ends,
however it ends (``kill -9`` included), so a crashed run never leaves the folder locked. The
file itself is removed on a normal release; one left by a killed process is stale and simply
taken over.

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
    (or thread) holds it, and ``NotWritableError`` when the lock file cannot be created (a
    read-only folder)."""
    key = os.path.realpath(folder)
    me = threading.get_ident()
    with _guard:
        held = _held.get(key)
        if held is not None:
            if held.thread != me:
                raise RunFolderLockedError(_locked_message(folder, held.info, "another thread of this process"))
            held.count += 1
    if held is not None:
        try:
            yield
        finally:
            with _guard:
                held.count -= 1
        return
    fd, info = _acquire(Path(folder), command)
    with _guard:
        _held[key] = _Held(fd, me, 1, info)
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        _release(Path(folder), fd)


def _acquire(folder: Path, command: str) -> tuple[int, dict]:
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
            raise RunFolderLockedError(_locked_message(folder, _wait_for_holder(folder))) from None
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
