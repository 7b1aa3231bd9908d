"""Run folders: one writer at a time, and an old run replaced only by a new one that works.

:func:`open_run_folder` brackets a training (or a resume) of one folder:

1. it refuses a file, and a non-empty folder for a new run without ``force``, before anything;
2. it creates the folder if needed and takes its lock (:mod:`vaekit.runtime.lock`), finishes an
   interrupted replacement (below) and removes temporaries left by interrupted writes;
3. the caller checks everything (options, data, device, model) and only then calls
   :meth:`RunFolder.begin`, which, for ``train --force``, moves the old run's files aside into
   ``RUN/.vaekit-previous/``; after that the caller writes;
4. on leaving: the old run is deleted once the new one has written its first complete
   checkpoint (``trainer.safetensors``); if the new run ends (error, Ctrl+C) before that, what it
   wrote is deleted and the old run moved back, and a folder the command created is removed.

A ``kill -9`` can stop step 4 from running; the next ``train`` or ``resume`` of the folder
finishes it the same way (keep the new run if it has a checkpoint, else put the old one back).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from vaekit.runtime.atomic import is_temporary_of, remove_temporaries, write_errors
from vaekit.runtime.distributed import resume_command
from vaekit.runtime.errors import RunFolderError
from vaekit.runtime.lock import LOCK_FILE, run_folder_lock
from vaekit.training import checkpoint as ckpt

#: where ``train --force`` keeps the old run until the new one has a complete checkpoint
PREVIOUS = ".vaekit-previous"
#: the same while the old run is being moved aside or back (see :class:`RunFolder`)
MOVING = ".vaekit-previous.partial"
#: the files written only under the folder's lock, whose interrupted writes' temporaries are
#: removed when a command next takes it (pictures are written by commands that do not lock)
LOCKED_FILES = (
    ckpt.CONFIG_FILE,
    ckpt.SCHEMA_FILE,
    ckpt.MODEL_FILE,
    ckpt.BEST_MODEL_FILE,
    ckpt.TRAINER_FILE,
    ckpt.TRAINER_JSON,
    ckpt.METRICS_FILE,
    "eval-*.json",
)
#: names that are not a run's files: the lock file (a stale one left by a killed process does
#: not make a folder "used"), and an old run set aside
_NOT_CONTENT = {LOCK_FILE, PREVIOUS, MOVING}


class RunFolder:
    """A run folder held for writing (see the module's description).

    The old run is moved aside into ``.vaekit-previous.partial/`` and that folder renamed to
    ``.vaekit-previous/`` once complete; putting it back goes the other way (the new run's files
    deleted, the folder renamed to ``.partial``, its files moved back). So whatever the moment
    of a kill, the folder names say what the files in the run folder are: beside ``.partial``,
    old files only; beside ``.vaekit-previous``, the new run's only.
    """

    def __init__(self, path: Path, *, new: bool, force: bool) -> None:
        self.path = path
        self.new = new
        self.force = force
        #: whether :meth:`begin` was called (the caller may write)
        self.begun = False
        #: whether the folder held an old run when :meth:`begin` was called
        self.replacing = False

    @property
    def previous(self) -> Path:
        """Where the old run waits while a new one replaces it."""
        return self.path / PREVIOUS

    @property
    def moving(self) -> Path:
        """The old run's folder while it is being moved aside or back."""
        return self.path / MOVING

    def begin(self) -> None:
        """Start writing: for a new run, move the folder's old contents aside."""
        self.begun = True
        if not self.new:
            return
        old = self._contents()
        self.replacing = bool(old)
        if old:
            with write_errors(self.moving):
                self.moving.mkdir()
                for child in old:
                    child.rename(self.moving / child.name)
                self.moving.rename(self.previous)

    def _contents(self) -> list[Path]:
        return [p for p in self.path.iterdir() if p.name not in _NOT_CONTENT]

    def settle(self) -> str | None:
        """Finish a replacement of an old run: keep the new run if it has a complete checkpoint,
        else delete it and move the old run back. Return what was done, or None."""
        if self.previous.is_dir():
            if (self.path / ckpt.TRAINER_FILE).exists():
                shutil.rmtree(self.previous)
                return "replaced the previous run"
            self.discard_new_files()
            self.previous.rename(self.moving)
        if not self.moving.is_dir():
            return None
        for child in self.moving.iterdir():
            child.rename(self.path / child.name)
        self.moving.rmdir()
        return "restored the previous run"

    def discard_new_files(self) -> None:
        """Delete the files in the folder (not the old run set aside, nor the lock file)."""
        for child in self._contents():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def set_aside_run(path: Path) -> Path | None:
    """Return the folder where ``train --force`` keeps (or is moving) the old run of run folder
    ``path`` while a new one replaces it, or None when no run is set aside there."""
    return next((path / name for name in (PREVIOUS, MOVING) if (path / name).is_dir()), None)


def check_new_run_dir(path: Path, force: bool) -> None:
    """Refuse ``path`` for a new run when it is a file, a non-empty folder without ``force``, or,
    with ``force``, a non-empty folder that is not a run folder (:func:`check_replaceable`)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"--out {path} is a file, not a folder; choose another --out")
    if not path.is_dir():
        return
    # A kill mid-write leaves a temporary of a run file: no run, and removed once the lock is held.
    contents = sorted(p for p in path.iterdir() if p.name not in _NOT_CONTENT and not is_temporary_of(p.name, LOCKED_FILES))
    if contents and not force:
        # A run killed before its first checkpoint has nothing to resume.
        resumable = (path / ckpt.TRAINER_FILE).exists() or set_aside_run(path) is not None
        also = "`vaekit resume` to continue it, " if resumable else ""
        raise RunFolderError(
            f"run folder {path} is not empty; pass --force (force=True in Python) to overwrite it, "
            f"{also}or choose another --out"
        )
    if contents:
        check_replaceable(path, contents)


def check_replaceable(path: Path, contents: list[Path]) -> None:
    """Raise ``RunFolderError`` unless ``path``, holding ``contents``, is a run folder that
    ``--force`` may replace: it has a run's ``config.json`` (or an old run set aside) and no
    sub-folders, which a run never writes (another run, or a project's files, kept there)."""
    is_run = (path / ckpt.CONFIG_FILE).is_file() or set_aside_run(path) is not None
    folders = [p for p in contents if p.is_dir() and not p.is_symlink()]
    if is_run and not folders:
        return
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in (contents if not is_run else folders)[:5])
    more = len(contents if not is_run else folders) - 5
    shown += f" and {more} more" if more > 0 else ""
    why = f"holds no vaekit run (no {ckpt.CONFIG_FILE}) but {shown}" if not is_run else f"holds folders a run never writes: {shown}"
    raise RunFolderError(
        f"--force replaces only a vaekit run, and {path} {why}; nothing was changed. Choose a new or empty "
        f"--out (e.g. {path / 'run'}), or move those out first"
    )


@contextmanager
def open_run_folder(path: Path, *, new: bool, force: bool = False, command: str | None = None) -> Iterator[RunFolder]:
    """Hold run folder ``path`` for a new run (``new``; ``force`` replaces an old run) or for
    resuming it, as the module's description says. The caller calls ``begin()`` before writing."""
    path = Path(path)
    command = command or ("train" if new else "resume")
    if new:
        check_new_run_dir(path, force)
    elif not path.is_dir():
        raise RunFolderError(f"run folder {path} does not exist")
    created = _missing_parents(path)
    with write_errors(path):
        path.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(path, new=new, force=force)
    try:
        with ExitStack() as stack:
            stack.enter_context(run_folder_lock(path, command))
            folder.settle()
            remove_temporaries(path, LOCKED_FILES)
            if new:
                check_new_run_dir(path, force)  # again, now that no one else can be writing it
            try:
                yield folder
            except BaseException as exc:
                if new and folder.begun:
                    if folder.replacing:
                        if folder.settle() == "restored the previous run":
                            exc.add_note(
                                f"the new run had no checkpoint yet: {path} holds the previous run, as it was; "
                                "start it with `vaekit train` again"
                            )
                    elif not (path / ckpt.TRAINER_FILE).exists():
                        folder.discard_new_files()  # no checkpoint: nothing worth resuming
                        exc.add_note(
                            f"the run stopped before its first checkpoint, so {path} keeps nothing of it; "
                            "start it with `vaekit train` again"
                        )
                if isinstance(exc, KeyboardInterrupt) and not getattr(exc, "__notes__", None):
                    if (path / ckpt.TRAINER_FILE).exists():
                        # In the processes it ran in, or a resume would not continue it bit for bit.
                        exc.add_note(
                            f"the last complete checkpoint of {path} is intact: {resume_command(path)} continues it"
                        )
                raise
            folder.settle()
    finally:
        if new:
            for made in reversed(created):
                try:
                    made.rmdir()  # only if empty: a failed run leaves nothing behind
                except OSError:
                    break


def _missing_parents(path: Path) -> list[Path]:
    """Return ``path`` and those of its parents that do not exist, outermost first."""
    missing = []
    for p in [path, *path.parents]:
        if p.exists():
            break
        missing.append(p)
    return list(reversed(missing))
