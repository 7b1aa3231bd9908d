"""A CSV/TSV table converted once to Parquet, so that it can be read by row groups.

A text table has no row groups and no types: reading row 5,000,000 means parsing every line
before it. So ``--data-loading disk`` converts it, once, into a Parquet file of row groups of
``block_rows_for(columns)`` rows, with each column in the type ``read_table`` gives the whole
file (a first pass over the file decides the types, a second converts; one chunk in memory at
a time). The file goes into the cache folder (``$VAEKIT_CACHE_DIR``, else
``~/.cache/vaekit``), under ``converted/``, named after the text file, its fingerprint and the
version of the text reader, and is used again while both are unchanged. The conversion is a
function of the text (and that version) alone, so a run resumed after the cache was cleared
converts it again to the same row groups.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

from vaekit.data.disk.blocks import block_rows_for
from vaekit.data.disk.npy import sampled_fingerprint
from vaekit.runtime.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: suffixes of the text tables the disk path converts (compressed ones too: pandas reads them)
TEXT_SUFFIXES = (".csv", ".tsv")


def cache_dir() -> Path:
    """Return the folder converted tables go into: ``$VAEKIT_CACHE_DIR/converted`` or
    ``~/.cache/vaekit/converted``."""
    root = os.environ.get("VAEKIT_CACHE_DIR") or Path.home() / ".cache" / "vaekit"
    return Path(root).expanduser() / "converted"


def text_columns(path: Path) -> int:
    """Return the number of columns of the text table ``path`` (from its first line)."""
    from vaekit.data.tables.read import iter_table_chunks

    chunks = iter_table_chunks(path, 1)
    try:
        first = next(chunks, None)
    finally:
        chunks.close()  # the rest of the file is not read: closed now, not when collected
    if first is None:
        raise DataError(f"{path}: the file is empty; it needs a header line (optional) and rows of data")
    return first.shape[1]


def converted_path(path: Path, fingerprint: str) -> Path:
    """Return where the Parquet copy of the text table ``path`` with ``fingerprint`` goes: a
    name of the text file's, its fingerprint's and the text reader's version."""
    from vaekit.data.tables.read import TEXT_READER_VERSION

    # The copy holds the cells as the reader typed them, so an unchanged text file read by a
    # changed reader needs a new copy: one made earlier (e.g. with 01067 read as 1067) is not reused.
    return cache_dir() / f"{path.name}-{fingerprint[:16]}-r{TEXT_READER_VERSION}.parquet"


def _whole_parquet(path: Path) -> bool:
    """True when ``path`` starts and ends as a Parquet file does ("PAR1", and a footer length
    that fits the file): a copy cut short (a full disk, a crash of another program) does not."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(max(0, size - 8))
            tail = f.read(8)
    except OSError:
        return False
    footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 else size
    return size >= 12 and head == b"PAR1" and tail[4:] == b"PAR1" and footer + 12 <= size


def converted_parquet(path: Path, *, say: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """Return ``(parquet_path, fingerprint)``: the Parquet copy of the text table ``path``
    (converted now, or earlier if the text is unchanged; a damaged copy is made again) and the
    text file's fingerprint (a SHA-256 of its size and sampled bytes). See :func:`parquet_copy`."""
    copy = parquet_copy(path, say=say)
    return copy.path, copy.fingerprint


class ParquetCopy(NamedTuple):
    """The Parquet copy of a text table: where it is, the text file's fingerprint, and whether
    this call made it (a copy made earlier, or by another process meanwhile, was not)."""

    path: Path
    fingerprint: str
    made: bool


def parquet_copy(path: Path, *, say: Callable[[str], None] | None = None) -> ParquetCopy:
    """Return the Parquet copy of the text table ``path`` (a :class:`ParquetCopy`): made now,
    or earlier while the text is unchanged; a damaged copy is made again. One process at a
    time converts a file: the others (the processes of ``--nproc``, or another ``vaekit``)
    wait for it under a lock next to the copy and then read its copy. ``say`` receives one
    line saying where the copy is and why (default: printed to stderr). Raises ``DataError``
    naming ``VAEKIT_CACHE_DIR`` when the copy cannot be written."""
    say = say or (lambda line: print(line, file=sys.stderr))
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fingerprint = sampled_fingerprint(path)
    target = converted_path(path, fingerprint)
    why = "--data-loading disk reads tables by row groups, which a text file lacks"
    if _whole_parquet(target):
        say(f"reading {path} from its Parquet copy {target} ({why}; converted earlier)")
        return ParquetCopy(target, fingerprint, False)
    rows = block_rows_for(text_columns(path))
    _make_folder(path, target.parent)
    with _conversion_lock(path, target):
        if _whole_parquet(target):  # another process converted it while this one waited
            say(f"reading {path} from its Parquet copy {target} ({why}; converted by another process just now)")
            return ParquetCopy(target, fingerprint, False)
        again = "; its earlier copy there was damaged" if target.exists() else ""
        _convert(path, target, rows)
    say(f"converted {path} to {target} ({why}; done once, reused while {path.name} is unchanged{again})")
    return ParquetCopy(target, fingerprint, True)


def _make_folder(path: Path, folder: Path) -> None:
    """Make the cache folder ``folder`` for the copy of ``path`` (``DataError`` if it cannot be)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"{path}: cannot make the folder for its Parquet copy, {folder} ({exc.strerror or exc}); "
            "--data-loading disk converts a text table there: set VAEKIT_CACHE_DIR to a folder that can be written"
        ) from None


def lock_path(target: Path) -> Path:
    """Return the lock file held while the copy ``target`` is being made (hidden, beside it)."""
    return target.with_name(f".{target.name}.lock")


@contextmanager
def _conversion_lock(path: Path, target: Path) -> Iterator[None]:
    """Hold the exclusive lock of the copy ``target`` of ``path`` for the block, waiting while
    another process holds it. The lock is ``flock(2)``, which the system drops when its holder
    dies however it dies, so a killed converter never keeps the others waiting. The lock file
    is removed on release; a lock taken on a file removed meanwhile is taken again on the new
    one, so two processes never both hold it. Without ``fcntl`` (Windows) nothing is locked."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    lock = lock_path(target)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(
                f"{path}: cannot make the lock file {lock} for its Parquet copy ({exc.strerror or exc}); "
                "set VAEKIT_CACHE_DIR to a folder that can be written"
            ) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _same_file(fd, lock):
            break
        os.close(fd)  # its holder removed the file on release: lock the one there now
    try:
        yield
    finally:
        with suppress(OSError):
            lock.unlink()
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    """True when the open file ``fd`` is the file at ``path`` (not one removed since)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _convert(path: Path, target: Path, rows: int) -> None:
    """Write the Parquet copy ``target`` of the text table ``path``, in row groups of ``rows``
    rows, through a temporary file renamed into place (a copy is whole or not there). Returns
    nothing; raises ``DataError`` naming ``VAEKIT_CACHE_DIR`` when it cannot be written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vaekit.data.tables.read import typed_text_chunks

    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    writer = None
    try:
        for frame in typed_text_chunks(path, rows):
            table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            else:
                table = table.cast(writer.schema)  # a chunk's all-missing column may have read as another type
            writer.write_table(table, row_group_size=rows)
        if writer is not None:
            writer.close()
            writer = None
        os.replace(partial, target)
    except OSError as exc:
        raise DataError(
            f"{path}: could not write its Parquet copy {target} ({exc}); set VAEKIT_CACHE_DIR to a folder with space "
            "that can be written"
        ) from None
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
