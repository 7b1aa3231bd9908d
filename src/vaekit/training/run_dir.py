"""Run folders: refuse to clobber an existing run unless asked to."""

from __future__ import annotations

import shutil
from pathlib import Path

from vaekit.runtime.errors import RunFolderError


def prepare_new_run_dir(path: Path, force: bool) -> Path:
    """Create ``path`` for a new run and return it.

    A non-empty folder is refused unless ``force`` is true, in which case its contents are removed.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"--out {path} is a file, not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise RunFolderError(
                f"run folder {path} is not empty; pass --force to overwrite it, "
                "`vaekit resume` to continue it, or choose another --out"
            )
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path
