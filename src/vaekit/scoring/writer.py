"""Writing scores to a file chunk by chunk, atomically: CSV, TSV, Parquet or ``.npy``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vaekit.runtime.errors import ConfigError, DataError
from vaekit.scoring.records import SCORE_SUFFIXES


def score_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` after checking it names a score file (.csv, .tsv, .parquet or .npy)
    whose folder is (or can be) a folder."""
    from vaekit.runtime.atomic import check_writable_path

    path = Path(path)
    check_writable_path(path)
    if path.suffix.lower() not in SCORE_SUFFIXES:
        raise ConfigError(f"--out {path}: scores are written as {', '.join(SCORE_SUFFIXES)}; name the file with one of them")
    if path.is_dir():
        raise ConfigError(f"--out {path} is a folder; name a file such as {path / 'scores.csv'}")
    return path


class ScoreWriter:
    """Writes score rows chunk by chunk into a temporary file beside ``path`` and moves it into
    place at :meth:`close`, so a failure never leaves a half-written file (nor removes an old one).

    ``.csv``/``.tsv`` and ``.parquet`` get a table of ids, scores (and flags, p-values,
    contributions); ``.npy`` gets the scores alone (float64 ``[N]``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from vaekit.runtime.atomic import make_temporary, write_errors

        self.path = score_path(path)
        with write_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = make_temporary(self.path)  # named by its writer: a later scoring clears it once that ends
            os.close(fd)
        self.suffix = self.path.suffix.lower()
        self._parquet: Any = None
        self._scores: list[np.ndarray] = []
        self._header = True
        self.rows = 0

    def write(self, frame: Any) -> None:
        """Append the rows of ``frame`` (a DataFrame with a ``score`` column)."""
        from vaekit.runtime.atomic import write_errors

        with write_errors(self.path):
            self._write(frame)

    def _write(self, frame: Any) -> None:
        self.rows += len(frame)
        if self.suffix == ".npy":
            self._scores.append(frame["score"].to_numpy(dtype=np.float64))
        elif self.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            elif table.schema != self._parquet.schema:
                # A chunk's ids may come as float (a gap) or null-typed where the first were integers.
                try:
                    table = table.cast(self._parquet.schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                    raise DataError(
                        f"the columns' types change between chunks ({exc}); write the scores as .csv, or give "
                        "--id-column a column of one type"
                    ) from None
            self._parquet.write_table(table)
        else:
            sep = "\t" if self.suffix == ".tsv" else ","
            frame.to_csv(self.tmp, sep=sep, index=False, header=self._header, mode="w" if self._header else "a")
            self._header = False

    def close(self) -> Path:
        """Move the finished file into place; return its path."""
        from vaekit.runtime.atomic import move_into_place

        move_into_place(*self.finish())
        return self.path

    def finish(self) -> tuple[Path, Path]:
        """Complete the temporary file and flush it to disk, for the caller to move into place
        (with other files, ``vaekit.runtime.atomic.move_group_into_place``); return
        ``(temporary, path)``."""
        from vaekit.runtime.atomic import write_errors

        with write_errors(self.path):
            self._finish()
        return self.tmp, self.path

    def _finish(self) -> None:
        if self.suffix == ".npy":
            # Into the open file: np.save given a name adds ".npy" to it, a file no cleanup knows.
            with open(self.tmp, "wb") as f:
                np.save(f, np.concatenate(self._scores) if self._scores else np.zeros(0), allow_pickle=False)
        elif self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())

    def abandon(self) -> None:
        """Remove the temporary file (after a failure)."""
        if self._parquet is not None:
            try:
                self._parquet.close()
            except Exception:  # noqa: BLE001 - the file goes anyway
                pass
        self.tmp.unlink(missing_ok=True)
