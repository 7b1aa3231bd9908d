"""A Parquet file's footer, held as one row group's metadata at a time.

pyarrow parses a file's whole footer into memory when the file is opened, about 0.9 KB per
column chunk (one per column per row group): a file of many row groups and columns holds
hundreds of MB of metadata, growing with the file. ``RowGroupFooter`` keeps instead where each
row group's entry lies in the footer (two offsets per row group) and the footer's other fields,
and builds, for the row group being read, a footer that describes that row group alone:
pyarrow reads a row group from it exactly as from the whole footer, since a column chunk's
metadata holds absolute file offsets.

The footer is Thrift's compact protocol (the ``FileMetaData`` struct of parquet.thrift). Only
its top level is decoded; each row group's entry is skipped over as bytes, apart from its row
count. A footer this module cannot take apart (encrypted, or not the layout it knows) is left
to pyarrow, which reads the file whole or names its problem.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

#: files whose footer is at least this many bytes (serialized; several times that once parsed)
#: are read through ``RowGroupFooter``; smaller ones are opened by pyarrow whole
LEAN_FOOTER_BYTES = 1 << 20

_MAGIC = b"PAR1"
#: Thrift compact-protocol type codes (parquet.thrift's structs use these)
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
#: FileMetaData's fields: the total row count and the list of row groups
_NUM_ROWS, _ROW_GROUPS = 3, 4
#: RowGroup's field: its row count
_GROUP_ROWS = 3


class FooterFormatError(ValueError):
    """The footer is not the Thrift layout this module takes apart."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """Return the unsigned varint at ``buf[i]`` and the position after it."""
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _varint_bytes(value: int) -> bytes:
    """Return ``value`` (signed, 64 bits) as a zigzag varint."""
    z = ((value << 1) ^ (value >> 63)) & (2**64 - 1)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _skip_value(buf: bytes, i: int, kind: int) -> int:
    """Return the position after the value of type ``kind`` at ``buf[i]`` (any type)."""
    if kind in (_TRUE, _FALSE):
        return i
    if kind == _BYTE:
        return i + 1
    if kind in (_I16, _I32, _I64):
        return _varint(buf, i)[1]
    if kind == _DOUBLE:
        return i + 8
    if kind == _BINARY:
        n, i = _varint(buf, i)
        return i + n
    if kind in (_LIST, _SET):
        header = buf[i]
        n, element = header >> 4, header & 0x0F
        i += 1
        if n == 15:
            n, i = _varint(buf, i)
        if element in (_TRUE, _FALSE):
            return i + n
        if element == _STRUCT:
            return _skip_struct(buf, i, n) if n else i
        for _ in range(n):
            i = _skip_value(buf, i, element)
        return i
    if kind == _MAP:
        n, i = _varint(buf, i)
        if n:
            types = buf[i]
            i += 1
            for _ in range(n):
                i = _skip_value(buf, _skip_value(buf, i, types >> 4), types & 0x0F)
        return i
    if kind == _STRUCT:
        return _skip_struct(buf, i)
    raise FooterFormatError(f"unknown Thrift type {kind}")


def _skip_struct(buf: bytes, i: int, count: int = 1) -> int:
    """Return the position after the ``count`` (at least 1) consecutive structs whose first
    field header is at ``buf[i]`` (a struct, or the elements of a list of structs).

    Written as one loop over a stack of open structs (the count of struct elements still to
    come in the list each is part of), not by recursion: the column chunks of a large footer
    are millions of values, and this is the loop they pass through."""
    # Type codes are literals here (5, 6, 4: i32, i64, i16; 8 binary; 12 struct; 9 list; 1, 2
    # booleans): a global's lookup in this loop would cost more than the rest of it.
    stack = [count - 1]
    while True:
        header = buf[i]
        i += 1
        if header == 0:  # the struct ends: start the next element of its list, if any
            rest = stack.pop()
            if rest:
                stack.append(rest - 1)
            elif not stack:
                return i
            continue
        if header < 0x10:  # the field id is written out in full
            while buf[i] & 0x80:
                i += 1
            i += 1
        kind = header & 0x0F
        if kind == 5 or kind == 6 or kind == 4:
            while buf[i] & 0x80:
                i += 1
            i += 1
        elif kind == 8:
            n = buf[i]
            i += 1
            if n >= 0x80:
                n, i = _varint(buf, i - 1)
            i += n
        elif kind == 12:
            stack.append(0)
        elif kind == 9:
            header = buf[i]
            n, element = header >> 4, header & 0x0F
            i += 1
            if n == 15:
                n, i = _varint(buf, i)
            if element == 12:
                if n:
                    stack.append(n - 1)
            elif element == 8:
                for _ in range(n):
                    size = buf[i]
                    i += 1
                    if size >= 0x80:
                        size, i = _varint(buf, i - 1)
                    i += size
            elif element == 5 or element == 4:
                for _ in range(n):
                    while buf[i] & 0x80:
                        i += 1
                    i += 1
            elif element == 1 or element == 2:
                i += n
            else:
                for _ in range(n):
                    i = _skip_value(buf, i, element)
        elif kind != 1 and kind != 2:
            i = _skip_value(buf, i, kind)


def _field_header(buf: bytes, i: int, field: int) -> tuple[int, int, int]:
    """Return the field id, type and position after the field header at ``buf[i]`` of a
    struct whose previous field was ``field``."""
    header = buf[i]
    i += 1
    if header >> 4:
        return field + (header >> 4), header & 0x0F, i
    z, i = _varint(buf, i)
    return _zigzag(z), header & 0x0F, i


def _row_group_rows(buf: bytes, i: int) -> tuple[int, int]:
    """Return the row count of the RowGroup struct at ``buf[i]`` and the position after it."""
    field, rows = 0, None
    while buf[i]:
        field, kind, i = _field_header(buf, i, field)
        if field == _GROUP_ROWS and kind == _I64:
            z, i = _varint(buf, i)
            rows = _zigzag(z)
        else:
            i = _skip_value(buf, i, kind)
    if rows is None:
        raise FooterFormatError("a row group without a row count")
    return rows, i + 1


class RowGroupFooter:
    """Where each row group's metadata lies in a Parquet file's footer; ``metadata(g)`` returns
    a ``pyarrow.parquet.FileMetaData`` of row group ``g`` alone, read from the file."""

    def __init__(self, path: Path, fields: list[tuple[int, bytes, bytes]], offset: int,
                 starts: np.ndarray, stops: np.ndarray, rows: np.ndarray) -> None:  # fmt: skip
        self.path = path
        #: FileMetaData's fields other than the row groups: (id, header bytes, value bytes)
        self._fields = fields
        #: the footer's first byte in the file, and each row group's entry within the footer
        self._offset, self._starts, self._stops = offset, starts, stops
        #: rows of each row group (int64)
        self.rows = rows

    @classmethod
    def read(cls, path: str | os.PathLike[str], min_bytes: int | None = None) -> RowGroupFooter | None:
        """Return the footer of the Parquet file ``path`` taken apart, or None when it is
        smaller than ``min_bytes`` (``LEAN_FOOTER_BYTES`` by default: pyarrow holds it whole at
        little cost), encrypted, or not readable here (pyarrow then reads it, or names what
        is wrong with the file)."""
        path = Path(path)
        min_bytes = LEAN_FOOTER_BYTES if min_bytes is None else min_bytes
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < 12:
                    return None
                f.seek(size - 8)
                tail = f.read(8)
                length = int.from_bytes(tail[:4], "little")
                if tail[4:] != _MAGIC or length < max(1, min_bytes) or length > size - 12:
                    return None
                offset = size - 8 - length
                f.seek(offset)
                buf = f.read(length)
            return cls._parse(path, buf, offset)
        except (OSError, IndexError, FooterFormatError):
            return None

    @classmethod
    def _parse(cls, path: Path, buf: bytes, offset: int) -> RowGroupFooter:
        fields: list[tuple[int, bytes, bytes]] = []
        starts: list[int] = []
        stops: list[int] = []
        rows: list[int] = []
        i, field = 0, 0
        while buf[i]:
            head = i
            field, kind, i = _field_header(buf, i, field)
            value = i
            if field == _ROW_GROUPS:
                if kind != _LIST or buf[i] & 0x0F != _STRUCT:
                    raise FooterFormatError("row groups that are not a list of structs")
                n, i = buf[i] >> 4, i + 1
                if n == 15:
                    n, i = _varint(buf, i)
                for _ in range(n):
                    count, stop = _row_group_rows(buf, i)
                    starts.append(i)
                    stops.append(stop)
                    rows.append(count)
                    i = stop
                fields.append((field, buf[head:value], b""))
            else:
                i = _skip_value(buf, i, kind)
                fields.append((field, buf[head:value], buf[value:i]))
        if i + 1 != len(buf) or _ROW_GROUPS not in {f for f, _, _ in fields}:
            raise FooterFormatError("a footer that does not end where its length says, or has no row groups")
        return cls(path, fields, offset, np.asarray(starts, np.int64), np.asarray(stops, np.int64),
                   np.asarray(rows, np.int64))  # fmt: skip

    @property
    def num_row_groups(self) -> int:
        """Number of row groups in the file."""
        return len(self.rows)

    def metadata(self, group: int) -> Any:
        """Return a ``pyarrow.parquet.FileMetaData`` describing row group ``group`` alone (the
        file's schema and key-value metadata, that row group's column chunks and row count)."""
        import pyarrow.parquet as pq

        start, stop = int(self._starts[group]), int(self._stops[group])
        with open(self.path, "rb") as f:
            f.seek(self._offset + start)
            entry = f.read(stop - start)
        out = bytearray()
        for field, head, value in self._fields:
            if field == _NUM_ROWS:
                value = _varint_bytes(int(self.rows[group]))
            elif field == _ROW_GROUPS:
                value = bytes([0x10 | _STRUCT]) + entry  # a list of one struct
            out += head + value
        out.append(0)
        footer = bytes(out)
        return pq.read_metadata(io.BytesIO(_MAGIC + footer + len(footer).to_bytes(4, "little") + _MAGIC))

    def open(self, group: int) -> Any:
        """Return a ``pyarrow.parquet.ParquetFile`` of the file that knows only row group
        ``group`` (its row group 0)."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path, metadata=self.metadata(group))
