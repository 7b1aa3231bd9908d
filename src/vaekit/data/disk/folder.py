"""A folder of images as a run records it (``config.data_file``), and the check that the
folder a later command finds is still that one.

A run's train/test split is drawn from the folder's images in their sorted order, so an image
added, removed or replaced moves images between the splits: an evaluation would then measure
partly on training images, and a resume would train on another split. The record is cheap for
large folders: the image count and a SHA-256 over the sorted relative paths of the images the
reader uses, each file's size and its first ``SAMPLE_BYTES`` (not modification times, which a
copy changes: an identical copy elsewhere passes).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from vaekit.data.idx import find_idx_files
from vaekit.data.images import list_images
from vaekit.runtime.errors import DataError

#: ``data_file["format"]`` of a folder of images
FOLDER_FORMAT = "image-folder"
#: bytes of each image hashed into the fingerprint (its header and first pixels)
SAMPLE_BYTES = 64 * 1024


def is_image_folder(path: Path) -> bool:
    """True when ``path`` is a folder read as images (not a folder of IDX files)."""
    return path.is_dir() and not find_idx_files(path)


def folder_record(name: str) -> dict[str, Any]:
    """Return what a run records of the image folder ``name`` (as given: relative to the
    current directory, or absolute): the name, where it was read from (absolute), the image
    count and the fingerprints of the image names and of their content. Raises ``DataError``
    as the reader does for a folder holding something other than images."""
    path = Path(name).expanduser()
    files, _ = list_images(path)
    names = hashlib.sha256()
    content = hashlib.sha256()
    for file in files:
        relative = file.relative_to(path).as_posix().encode()
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(SAMPLE_BYTES)
        names.update(relative + b"\0")
        content.update(b"%s\0%d\0%s" % (relative, size, hashlib.sha256(head).digest()))
    return {
        "path": name,
        "format": FOLDER_FORMAT,
        "read_from": os.path.abspath(path),
        "images": len(files),
        "names_sha256": names.hexdigest(),
        "fingerprint": content.hexdigest(),
    }


def recorded_folder(recorded: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """Return ``recorded`` when it is a run's record of the image folder ``name``, else None
    (a run trained before folders were recorded, or on other data)."""
    if recorded is None or recorded.get("format") != FOLDER_FORMAT or recorded.get("path") != name:
        return None
    return recorded


def check_folder(name: str, recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """Raise ``DataError`` when the image folder ``name`` found now is not the one the run
    recorded (``recorded``, when it is a record of this folder), or is not found at all;
    return the folder's record now (None when there is nothing to check)."""
    mine = recorded_folder(recorded, name)
    if mine is None:
        return None
    path = Path(name).expanduser()
    if not path.is_dir():
        raise DataError(
            f"this run's training images {name!r} are not found from here ({Path.cwd()}): the run read them from "
            f"{mine.get('read_from', name)}; run the command from the folder it was trained from, or put the "
            "images back there"
        )
    record = folder_record(name)
    check_folder_unchanged(record, mine)
    return record


def record_folder(name: str, recorded: dict[str, Any] | None) -> dict[str, Any]:
    """Return the record of the image folder ``name`` now (``folder_record``), after checking it
    against the run's (``recorded``, when it is a record of this folder) as ``check_folder_unchanged``."""
    record = folder_record(name)
    check_folder_unchanged(record, recorded_folder(recorded, name))
    return record


def check_folder_unchanged(record: dict[str, Any], recorded: dict[str, Any] | None) -> None:
    """Raise ``DataError`` when the image folder a run recorded (``recorded``) is not the one
    ``record`` describes now, saying what differs (the image count, the names, the content)
    and, when it was found elsewhere, where the run read it from then and where it is now."""
    if recorded is None or recorded.get("fingerprint") == record["fingerprint"]:
        return
    then, now = recorded.get("images"), record["images"]
    if then != now:
        what = f"it had {then:,} image(s), it has {now:,}" if isinstance(then, int) else f"it has {now:,} image(s)"
    elif recorded.get("names_sha256") != record["names_sha256"]:
        what = f"{now:,} images both times, but their file names differ (images renamed, or some replaced by others)"
    else:
        what = f"the same {now:,} file names, but the content of some images differs"
    name, before, here = record["path"], recorded.get("read_from"), record["read_from"]
    where = ""
    if before is not None and before != here:
        relative = ""
        if not Path(name).expanduser().is_absolute():
            relative = f" (a relative path is read from the current directory, {Path.cwd()})"
        where = (
            f"; the run read {name} from {before}, and found it now at {here}{relative}: run the command from the "
            "folder the run was trained from"
        )
    raise DataError(
        f"the image folder {name} is not the one this run was trained on ({what}; fingerprint "
        f"{str(recorded.get('fingerprint', ''))[:12]} then, {record['fingerprint'][:12]} now){where}. The run's "
        "train/test split is drawn from the folder's images, so with other images its test split would hold "
        "training images and a resume would train on another split: put the original images back, or train a new "
        "run on this folder (vaekit train --force)"
    )
