"""Atomic writes: the umask's file mode, one-line errors for a full disk, a read-only folder or a
file where a folder must be, and the temporaries an interrupted write leaves."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time

import pytest

from vaekit.runtime import atomic
from vaekit.runtime.atomic import atomic_write_text, make_temporary, move_into_place, remove_temporaries, write_errors
from vaekit.runtime.errors import ConfigError, DiskFullError, NotWritableError, WriteError
from vaekit.runtime.lock import LOCK_FILE, run_folder_lock


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


@pytest.mark.parametrize("inside", ["x.png", "sub/x.png"], ids=["in-it", "below-it"])
def test_a_file_where_a_folder_must_be_is_named(tmp_path, inside):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match=r"cannot write .*afile/.*x\.png: .*afile is a file, not a folder; write it somewhere else"):
        atomic_write_text(tmp_path / "afile" / inside, "new")
    assert (tmp_path / "afile").read_text() == "x"


def test_a_folder_made_through_a_file_is_named(tmp_path):
    # as a run folder is made for `vaekit train --out afile/sub`
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match=r"afile is a file, not a folder"), write_errors(tmp_path / "afile" / "sub"):
        (tmp_path / "afile" / "sub").mkdir(parents=True, exist_ok=True)


def test_a_folder_where_the_file_must_be_is_named(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(ConfigError, match=r"cannot write .*x\.json: a folder of that name is in the way"):
        atomic_write_text(tmp_path / "x.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_a_folder_where_the_lock_file_must_be_is_named(tmp_path):
    (tmp_path / LOCK_FILE).mkdir()
    with pytest.raises(ConfigError, match=r"\.vaekit\.lock: a folder of that name is in the way"):
        with run_folder_lock(tmp_path, "resume"):
            pass


def _ended_pid() -> int:
    """Return the PID of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_name_their_writer_and_are_still_cleared_by_name(tmp_path):
    fd, tmp = make_temporary(tmp_path / "config.json")
    os.close(fd)
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".config.json.") and tmp.name.endswith(f"_{atomic._writer_tag()}_{os.getpid()}.tmp")
    assert remove_temporaries(tmp_path, ["config.json"]) == [tmp]


def test_a_write_clears_the_temporaries_its_ended_writers_left_and_no_others(tmp_path):
    tag, ended = atomic._writer_tag(), _ended_pid()
    stale = f".x.png.abcd_fgh_{tag}_{ended}.tmp"
    kept = [
        f".x.png.abcdefgh_{tag}_{os.getppid()}.tmp",  # a live writer
        f".x.png.abcdefgh_{tag}_{os.getpid()}.tmp",  # this process's own
        f".x.png.abcdefgh_{'0' * 8 if tag != '0' * 8 else '1' * 8}_{ended}.tmp",  # another machine's
        ".x.png.abcdefgh.tmp",  # an earlier vaekit's: no writer named
        f".y.png.abcdefgh_{tag}_{ended}.tmp",  # another file's
    ]
    for name in [stale, *kept]:
        (tmp_path / name).write_text("x")
    atomic_write_text(tmp_path / "x.png", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "x.png"])


def test_a_temporary_deleted_before_its_rename_gives_one_line(tmp_path):
    fd, tmp = make_temporary(tmp_path / "s-maps.npy")
    os.close(fd)
    tmp.unlink()
    with pytest.raises(WriteError, match=r"could not write .*s-maps\.npy: its temporary file .* was deleted"):
        move_into_place(tmp, tmp_path / "s-maps.npy")


def test_a_temporary_whose_writer_cannot_be_checked_is_cleared_only_once_long_untouched(tmp_path):
    tag, ended = atomic._writer_tag(), _ended_pid()
    other = "0" * 8 if tag != "0" * 8 else "1" * 8
    unknown = [".x.png.abcdefgh.tmp", f".x.png.abcdefgh_{other}_{ended}.tmp"]  # an earlier vaekit's, another machine's
    live = f".x.png.ijklmnop_{tag}_{os.getppid()}.tmp"
    for name in [*unknown, live]:
        (tmp_path / name).write_text("x")
        long_ago = time.time() - atomic.STALE_AFTER - 60
        os.utime(tmp_path / name, (long_ago, long_ago))
    fresh = ".x.png.qrstuvwx.tmp"
    (tmp_path / fresh).write_text("x")
    atomic_write_text(tmp_path / "x.png", "new")
    # A live writer of this machine keeps its temporary however old (it may write for days).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh, live, "x.png"])


def test_a_temporary_deleted_during_an_atomic_write_gives_one_line(tmp_path, monkeypatch):
    real = atomic.os.fsync

    def fsync_then_lose_it(fd):
        real(fd)
        for child in tmp_path.glob(".x.json.*.tmp"):
            child.unlink()  # as another program cleaning the folder would

    monkeypatch.setattr(atomic.os, "fsync", fsync_then_lose_it)
    with pytest.raises(WriteError, match=r"could not write .*x\.json: its temporary file .* was deleted"):
        atomic_write_text(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_is_temporary_of_knows_every_writers_temporaries_and_no_real_file():
    names = ["config.json", "eval-*.json"]
    assert atomic.is_temporary_of(".config.json.abcdefgh.tmp", names)
    assert atomic.is_temporary_of(f".eval-test-k0.json.abc_efgh_{atomic._writer_tag()}_12.tmp", names)
    assert not atomic.is_temporary_of("config.json", names)
    assert not atomic.is_temporary_of(".samples.png.abcdefgh.tmp", names)
