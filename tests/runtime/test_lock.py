"""The run-folder lock: one writer at a time, across processes, released when its holder dies."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from vaekit.runtime import lock as lock_module
from vaekit.runtime.errors import NotWritableError, RunFolderLockedError
from vaekit.runtime.lock import LOCK_FILE, holder, run_folder_lock

pytestmark = pytest.mark.skipif(lock_module.fcntl is None, reason="no fcntl: the lock is not enforced here")

HOLDER = textwrap.dedent(
    """
    import sys
    from vaekit.runtime.lock import run_folder_lock
    with run_folder_lock(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "train"):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until told (or killed)
    print("released", flush=True)
    """
)


def _start_holder(folder, command="train"):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_is_refused_with_the_holders_pid_until_it_ends(tmp_path):
    proc = _start_holder(tmp_path)
    try:
        with pytest.raises(RunFolderLockedError, match=rf"in use by PID {proc.pid} \(vaekit train, since "):
            with run_folder_lock(tmp_path, "evaluate"):
                pass
        assert holder(tmp_path)["pid"] == proc.pid
    finally:
        proc.communicate("\n", timeout=60)
    assert proc.returncode == 0
    assert not (tmp_path / LOCK_FILE).exists()  # a normal release removes the file
    with run_folder_lock(tmp_path, "evaluate"):
        assert holder(tmp_path) == {"pid": os.getpid(), "command": "evaluate", "since": holder(tmp_path)["since"]}


def test_a_holder_killed_with_sigkill_releases_the_lock(tmp_path):
    proc = _start_holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == proc.pid  # stale: left behind
    with run_folder_lock(tmp_path, "resume"):
        assert holder(tmp_path)["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_the_lock_is_reentrant_in_its_thread_and_refused_to_another(tmp_path):
    errors = []

    def other_thread():
        try:
            with run_folder_lock(tmp_path, "evaluate"):
                pass
        except RunFolderLockedError as exc:
            errors.append(str(exc))

    with run_folder_lock(tmp_path, "train"):
        with run_folder_lock(tmp_path, "evaluate"):
            assert holder(tmp_path)["command"] == "train"
        assert (tmp_path / LOCK_FILE).exists()  # the inner release keeps the outer lock
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(errors) == 1 and f"PID {os.getpid()}" in errors[0] and "another thread" in errors[0]
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_read_only_folder_says_so(tmp_path, monkeypatch):
    real_open = os.open

    def refuse_lock_file(path, flags, *args, **kwargs):
        if str(path).endswith(LOCK_FILE):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(lock_module.os, "open", refuse_lock_file)
    with pytest.raises(
        NotWritableError, match=r"run folder .* is not writable \(Permission denied; is it read-only\?\)"
    ):
        with run_folder_lock(tmp_path, "train"):
            pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_says_so_for_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(NotWritableError, match="is not writable"):
            with run_folder_lock(folder, "train"):
                pass
    finally:
        folder.chmod(0o755)


def _release_after(proc, seconds):
    """Tell the holder ``proc`` to release the lock ``seconds`` from now, from another thread."""
    def release():
        time.sleep(seconds)
        proc.stdin.write("\n")
        proc.stdin.flush()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_a_writer_waits_for_a_holder_that_only_saves_a_report(tmp_path):
    # Two evaluations finishing at the same moment: the second saves its report just after the first.
    proc = _start_holder(tmp_path, "evaluate")
    thread = _release_after(proc, 0.5)
    started = time.monotonic()
    try:
        with run_folder_lock(tmp_path, "evaluate"):
            assert holder(tmp_path)["pid"] == os.getpid()
    finally:
        thread.join()
        proc.communicate(timeout=60)
    assert time.monotonic() - started >= 0.4


def test_a_report_holder_that_keeps_the_lock_too_long_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "BRIEF_WAIT", 0.3)
    proc = _start_holder(tmp_path, "pictures")
    try:
        with pytest.raises(RunFolderLockedError, match=rf"in use by PID {proc.pid} \(vaekit pictures, since "):
            with run_folder_lock(tmp_path, "evaluate"):
                pass
    finally:
        proc.communicate("\n", timeout=60)


def test_a_training_holder_is_not_waited_for(tmp_path, monkeypatch):
    proc = _start_holder(tmp_path, "train")
    started = time.monotonic()
    try:
        with pytest.raises(RunFolderLockedError, match=rf"in use by PID {proc.pid} \(vaekit train, "):
            with run_folder_lock(tmp_path, "evaluate"):
                pass
    finally:
        proc.communicate("\n", timeout=60)
    assert time.monotonic() - started < lock_module.BRIEF_WAIT / 2


def test_another_thread_saving_a_report_is_waited_for(tmp_path):
    holding, done = threading.Event(), []

    def report_writer():
        with run_folder_lock(tmp_path, "evaluate"):
            holding.set()
            time.sleep(0.5)
        done.append(time.monotonic())

    thread = threading.Thread(target=report_writer)
    thread.start()
    holding.wait(timeout=60)
    try:
        with run_folder_lock(tmp_path, "evaluate"):
            assert done, "the lock was taken while the other thread held it"
    finally:
        thread.join()


def test_evaluate_saves_its_report_when_another_evaluation_is_saving_its_own(digits_run, tmp_path):
    from click.testing import CliRunner

    from vaekit.cli import main

    run = Path(shutil.copytree(digits_run, tmp_path / "run"))
    proc = _start_holder(run, "evaluate")
    thread = _release_after(proc, 1.0)
    try:
        result = CliRunner().invoke(main, ["evaluate", str(run), "--k", "0", "--no-probe", "-q"])
    finally:
        thread.join()
        proc.communicate(timeout=60)
    assert result.exit_code == 0, result.output
    assert f"wrote {run / 'eval-test.json'}" in result.output and "not saved" not in result.output
