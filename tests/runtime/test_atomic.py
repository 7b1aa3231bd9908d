"""Atomic writes: the umask's file mode, one-line errors for a full disk or a read-only folder,
and the temporaries an interrupted write leaves."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from vaekit.runtime import atomic
from vaekit.runtime.atomic import atomic_write_text, remove_temporaries
from vaekit.runtime.errors import DiskFullError, NotWritableError


@pytest.fixture
def umask():
    """Set the process umask for a test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=["022", "077", "002"])
def test_atomic_files_get_the_mode_open_gives_under_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    atomic_write_text(tmp_path / "a.json", "{}")
    with open(tmp_path / "plain.txt", "w") as f:  # as metrics.jsonl is written
        f.write("x")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode
    assert atomic.current_umask() == mask


def _fail_fsync_with(code):
    def fsync(fd):
        raise OSError(code, os.strerror(code))

    return fsync


def test_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "trainer.json"
    path.write_text("old")
    monkeypatch.setattr(atomic.os, "fsync", _fail_fsync_with(errno.ENOSPC))
    with pytest.raises(DiskFullError, match=r"disk full: could not write .*trainer\.json \(no space left on device\)"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trainer.json"]  # no temporary left


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.EPERM])
def test_a_folder_that_refuses_writes_gives_one_line(tmp_path, monkeypatch, code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(NotWritableError, match=r"cannot write .*x\.json: .*read-only"):
        atomic_write_text(tmp_path / "x.json", "{}")


def test_other_os_errors_pass_through(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "fsync", _fail_fsync_with(errno.EIO))
    with pytest.raises(OSError) as info:
        atomic_write_text(tmp_path / "x.json", "{}")
    assert info.value.errno == errno.EIO and not isinstance(info.value, DiskFullError)


def test_temporaries_of_the_named_files_are_removed_and_nothing_else(tmp_path):
    names = [
        ".trainer.safetensors.k2j_8x1q.tmp",
        ".config.json.abcdefgh.tmp",
        ".eval-test-k10.json.zz9yy8xx.tmp",
        "trainer.safetensors",
        ".samples.png.abcdefgh.tmp",  # not one of the names asked for
        "notes.tmp",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = remove_temporaries(tmp_path, ["trainer.safetensors", "config.json", "eval-*.json"])
    assert sorted(p.name for p in removed) == sorted(names[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:])
