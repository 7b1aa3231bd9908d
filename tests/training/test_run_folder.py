"""Run folders under failure: ``--force`` keeps the old run until the new one has a checkpoint,
one writer at a time (two real processes), a failed resume writes nothing, a full disk and a
read-only folder give one line, and interrupted writes' temporaries are cleaned up."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vaekit
from vaekit.cli import main
from vaekit.runtime import atomic
from vaekit.runtime.errors import CheckpointError, DiskFullError, NotWritableError, RunFolderError, VaekitError
from vaekit.runtime.lock import LOCK_FILE
from vaekit.training import loop
from vaekit.training.run_dir import MOVING, PREVIOUS, open_run_folder

SMALL = {"data": "digits", "encoder": [16], "latent_dim": 2, "batch_size": 128, "progress": "quiet"}
SMALL_FLAGS = ["--data", "digits", "--encoder", "16", "--latent", "2", "--batch-size", "128", "-q"]


def fingerprint(folder: Path) -> dict[str, str]:
    """Each file of ``folder`` (recursively, hidden ones too) with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def full_disk_at(monkeypatch, name: str, from_write: int = 1) -> None:
    """Make atomic writes of the file ``name`` fail with ENOSPC, from its ``from_write``-th on."""
    real_mkstemp, real_fsync = atomic.tempfile.mkstemp, atomic.os.fsync
    doomed: set[int] = set()
    writes = [0]

    def mkstemp(*args, **kwargs):
        fd, tmp = real_mkstemp(*args, **kwargs)
        if kwargs.get("prefix") == f".{name}.":
            writes[0] += 1
            if writes[0] >= from_write:
                doomed.add(fd)
        return fd, tmp

    def fsync(fd):
        if fd in doomed:
            doomed.discard(fd)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(atomic.os, "fsync", fsync)


def interrupt_at_epoch(monkeypatch, epoch: int) -> None:
    """Make training raise KeyboardInterrupt (Ctrl+C) when epoch ``epoch`` starts."""
    real = loop.run_epoch

    def run_epoch(run, e):
        if e == epoch:
            raise KeyboardInterrupt
        return real(run, e)

    monkeypatch.setattr(loop, "run_epoch", run_epoch)


def read_only(monkeypatch, folder: Path) -> None:
    """Refuse, as a read-only folder does, to create or write files in ``folder`` (chmod does not
    stop root, who runs these tests in CI)."""
    real_open, real_mkdir = os.open, os.mkdir
    inside = os.path.realpath(folder)

    def refused(path) -> bool:
        return os.path.realpath(os.path.dirname(os.path.abspath(path))) == inside

    def fake_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and refused(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if refused(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


FAILURES = {
    # what goes wrong, and the error it raises
    "bad data": ({"data": "nope.csv"}, VaekitError, "nope.csv"),
    "ctrl+c in the first epoch": ({}, KeyboardInterrupt, None),
    "full disk at the first checkpoint": ({}, DiskFullError, "no complete checkpoint yet"),
}


def _fail(monkeypatch, failure: str) -> dict:
    options, _, _ = FAILURES[failure]
    if failure.startswith("ctrl+c"):
        interrupt_at_epoch(monkeypatch, 1)
    if failure.startswith("full disk"):
        full_disk_at(monkeypatch, "trainer.safetensors")
    return options


# --- --force and failed trainings -------------------------------------------------------------


def test_force_refuses_a_folder_that_holds_no_run_and_changes_nothing(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "notes.txt").write_text("important\n")
    (project / "src" / "main.py").write_text("code\n")
    before = fingerprint(project)
    with pytest.raises(RunFolderError, match=r"--force replaces only a vaekit run, and .* holds no vaekit run \(no config.json\) but notes.txt, src/; nothing was changed"):
        vaekit.train(epochs=1, out=project, force=True, **SMALL)
    assert fingerprint(project) == before


def test_force_refuses_a_run_folder_holding_a_sub_folder(tmp_path):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    vaekit.train(epochs=1, out=run / "inner", **SMALL)  # another run kept inside it
    before = fingerprint(run)
    with pytest.raises(RunFolderError, match="holds folders a run never writes: inner/"):
        vaekit.train(epochs=1, out=run, force=True, **SMALL)
    assert fingerprint(run) == before


@pytest.mark.parametrize("failure", FAILURES)
def test_force_keeps_the_old_run_when_the_new_one_fails_before_its_first_checkpoint(tmp_path, monkeypatch, failure):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    before = fingerprint(run)
    options = _fail(monkeypatch, failure)
    _, error, message = FAILURES[failure]
    with pytest.raises(error, match=message):
        vaekit.train(**{**SMALL, "latent_dim": 3, "epochs": 2, **options}, out=run, force=True)
    assert fingerprint(run) == before  # no lock file, no .vaekit-previous, every byte as it was
    monkeypatch.undo()
    assert vaekit.load(run).latent_dim == 2


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failed_new_training_leaves_no_folder_behind(tmp_path, monkeypatch, failure):
    options = _fail(monkeypatch, failure)
    _, error, message = FAILURES[failure]
    with pytest.raises(error, match=message):
        vaekit.train(**{**SMALL, "epochs": 2, **options}, out=tmp_path / "new" / "r")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_training_into_an_empty_folder_leaves_it_empty(tmp_path, monkeypatch):
    (tmp_path / "r").mkdir()
    interrupt_at_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        vaekit.train(epochs=1, out=tmp_path / "r", **SMALL)
    assert list((tmp_path / "r").iterdir()) == []


@pytest.mark.parametrize("force, at_epoch, said", [
    (True, 1, "holds the previous run, as it was; start it with `vaekit train` again"),
    (False, 1, "stopped before its first checkpoint, so"),
    (True, 2, "the last complete checkpoint of {run} is intact: `vaekit resume {run}` continues it"),
])  # fmt: skip
def test_ctrl_c_says_what_the_run_folder_now_holds(tmp_path, monkeypatch, force, at_epoch, said):
    run = tmp_path / "r"
    if force:
        vaekit.train(epochs=1, out=run, **SMALL)
    interrupt_at_epoch(monkeypatch, at_epoch)
    args = ["train", "--data", "synthetic5", "--encoder", "4", "--latent", "3", "--epochs", "3", "--out", str(run), "-q"]
    result = CliRunner().invoke(main, args + (["--force"] if force else []))
    assert result.exit_code == 130 and said.format(run=run) in result.stderr


@pytest.mark.parametrize("env, command", [
    ({}, "`vaekit resume {run}`"),
    ({"VAEKIT_LAUNCH_FLAGS": " --nproc 2"}, "`vaekit resume {run} --nproc 2`"),  # vaekit ... --nproc 2
    ({}, "`torchrun --nproc-per-node 2 -m vaekit resume {run}`"),  # torchrun started by hand
])  # fmt: skip
def test_ctrl_c_of_a_run_in_several_processes_resumes_it_in_as_many(tmp_path, monkeypatch, env, command):
    # Resumed in other processes, the run would continue to float tolerance only, not bit for bit.
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    monkeypatch.delenv("VAEKIT_LAUNCH_FLAGS", raising=False)
    if command.startswith("`vaekit resume {run}`"):
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        for name, value in {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": "0", **env}.items():
            monkeypatch.setenv(name, value)
    with pytest.raises(KeyboardInterrupt) as stopped:
        with open_run_folder(run, new=False):
            raise KeyboardInterrupt
    said = f"the last complete checkpoint of {run} is intact: {command.format(run=run)} continues it"
    assert stopped.value.__notes__ == [said]


def test_force_replaces_the_old_run_once_the_new_one_has_a_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    interrupt_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        vaekit.train(**{**SMALL, "latent_dim": 3}, epochs=3, out=run, force=True)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no lock, no previous
    assert json.loads((run / "trainer.json").read_text())["epoch"] == 1
    monkeypatch.undo()
    assert vaekit.resume(run, progress="quiet").latent_dim == 3
    assert json.loads((run / "trainer.json").read_text())["epoch"] == 3


def test_ctrl_c_while_the_old_run_is_moved_aside_puts_it_back(tmp_path, monkeypatch):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    before = fingerprint(run)
    real, calls = Path.rename, [0]

    def rename(self, target):
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        vaekit.train(epochs=1, out=run, force=True, **SMALL)
    assert calls[0] > 3  # it stopped among the old files, and they were moved back
    assert fingerprint(run) == before


@pytest.mark.parametrize("moment", ["while moving the old run aside or back", "once the old run was aside"])
def test_a_replacement_killed_before_the_new_runs_checkpoint_is_settled_to_the_old_run(tmp_path, moment):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    before = fingerprint(run)
    files = sorted(run.iterdir())
    if moment.startswith("while"):
        (run / MOVING).mkdir()
        for path in files[::2]:
            path.rename(run / MOVING / path.name)
    else:
        (run / PREVIOUS).mkdir()
        for path in files:
            path.rename(run / PREVIOUS / path.name)
        (run / "config.json").write_text("{}")  # what the new run had written
        (run / "metrics.jsonl").write_text("")
        with pytest.raises(CheckpointError, match="is being replaced"):
            vaekit.load(run)
    with open_run_folder(run, new=False):  # as the next resume or train of the folder starts
        pass
    assert fingerprint(run) == before


# --- two processes, kill -9 -------------------------------------------------------------------

RUNNER = textwrap.dedent(
    """
    import os, signal, sys, time
    import torch
    torch.set_num_threads(1)
    import vaekit
    from vaekit.training import loop

    run, latent, epochs, action, at, signals = sys.argv[1:7]
    latent, epochs, at, signals = int(latent), int(epochs), int(at), __import__("pathlib").Path(signals)
    if action == "kill":  # SIGKILL itself at training step ``at``
        real_batch, calls = loop.model_batch, [0]
        def model_batch(*a, **k):
            calls[0] += 1
            if calls[0] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_batch(*a, **k)
        loop.model_batch = model_batch
    elif action == "pause":  # after the checkpoint of epoch ``at``, wait for SIGNALS/go
        real_checkpoint = loop.checkpoint
        def checkpoint(run_, epoch, record):
            real_checkpoint(run_, epoch, record)
            if epoch == at:
                (signals / "paused").touch()
                while not (signals / "go").exists():
                    time.sleep(0.05)
        loop.checkpoint = checkpoint
    vaekit.train(data="digits", encoder=[16], latent_dim=latent, epochs=epochs, batch_size=128,
                 out=run, force=True, progress="quiet")
    """
)


def _runner(tmp_path: Path, run: Path, *, latent: int, epochs: int, action: str, at: int) -> subprocess.Popen:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    args = [sys.executable, str(script), str(run), str(latent), str(epochs), action, str(at), str(tmp_path)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the runner ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "the runner did not get there in time"
        time.sleep(0.05)


def test_a_second_writer_is_refused_with_the_first_ones_pid_while_it_trains(tmp_path):
    run = tmp_path / "r"
    first = _runner(tmp_path, run, latent=2, epochs=3, action="pause", at=1)
    try:
        _wait_for(tmp_path / "paused", first)
        second = subprocess.run(
            [sys.executable, "-m", "vaekit.cli", "train", *SMALL_FLAGS, "--latent", "3", "--epochs", "1",
             "--out", str(run), "--force"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert f"run folder {run} is in use by PID {first.pid} (vaekit train" in second.stderr
        assert "Traceback" not in second.stderr
        resumed = CliRunner().invoke(main, ["resume", str(run), "--epochs", "5", "-q"])
        assert resumed.exit_code == 2 and f"in use by PID {first.pid}" in resumed.output
        # evaluate reads, so it computes and prints; only its report waits for the folder
        evaluated = CliRunner().invoke(main, ["evaluate", str(run), "--no-probe", "-q"])
        assert evaluated.exit_code == 0, evaluated.output
        assert "examples" in evaluated.output
        assert f"warning: the report was not saved: run folder {run} is in use by PID {first.pid}" in evaluated.output
    finally:
        (tmp_path / "go").touch()
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert vaekit.load(run).latent_dim == 2
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 3
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert not list(run.glob("eval-*.json")) and not (run / LOCK_FILE).exists()


@pytest.mark.parametrize("kill_at, kept", [(3, "the old run"), (14, "the new run")])  # 11 steps an epoch
def test_a_force_training_killed_with_sigkill_is_settled_by_the_next_resume(tmp_path, kill_at, kept):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    old = fingerprint(run)
    killed = _runner(tmp_path, run, latent=3, epochs=2, action="kill", at=kill_at)
    killed.communicate(timeout=300)
    assert killed.returncode == -9
    assert (run / PREVIOUS).is_dir() and (run / LOCK_FILE).exists()  # the kill left both behind
    if kept == "the old run":
        said = r"being replaced by a new run that has no checkpoint yet.*puts the previous run back and goes on training it \(`--epochs 1` only puts it back\)"
        with pytest.raises(CheckpointError, match=said):
            vaekit.load(run)
    vae = vaekit.resume(run, progress="quiet")  # takes the stale lock and settles the replacement
    assert not (run / PREVIOUS).exists() and not (run / LOCK_FILE).exists()
    if kept == "the old run":
        assert vae.latent_dim == 2
        now = fingerprint(run)
        assert {k: now[k] for k in ("config.json", "trainer.safetensors")} == {
            k: old[k] for k in ("config.json", "trainer.safetensors")
        }
        assert now.keys() == old.keys()
    else:
        assert vae.latent_dim == 3
        assert json.loads((run / "trainer.json").read_text())["epoch"] == 2


# --- resume -----------------------------------------------------------------------------------


def test_a_resume_whose_data_moved_writes_nothing(tmp_path):
    data = tmp_path / "table.csv"
    rows = np.random.default_rng(0).normal(size=(200, 5))
    data.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in rows) + "\n")
    run = tmp_path / "r"
    vaekit.train(data=str(data), encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    before = fingerprint(run)
    data.rename(tmp_path / "moved.csv")
    result = CliRunner().invoke(main, ["resume", str(run), "--epochs", "2", "-q"])
    assert result.exit_code == 2 and "table.csv" in result.output, result.output
    assert fingerprint(run) == before


def test_temporaries_of_interrupted_writes_are_removed_when_training_starts_again(tmp_path):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    stale = [run / ".trainer.safetensors.k2j_8x1q.tmp", run / ".metrics.jsonl.abcdefgh.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 4096)
    vaekit.resume(run, epochs=2, progress="quiet")
    assert not [p for p in stale if p.exists()]
    assert not list(run.glob(".*.tmp"))


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_a_training_killed_while_writing_its_config_leaves_a_folder_that_takes_a_new_run(tmp_path, force):
    # What a kill -9 in the middle of a new run's first write leaves: its temporary and the lock file.
    run = tmp_path / "r"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / f".config.json.abcdefgh_{atomic._writer_tag()}_{dead.stdout.strip()}.tmp").write_text('{"mod')
    (run / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "command": "train"}))
    result = CliRunner().invoke(main, ["train", *SMALL_FLAGS, "--epochs", "1", "--out", str(run), *(["--force"] * force)])
    assert result.exit_code == 0, result.output
    assert vaekit.load(run).latent_dim == 2
    assert not list(run.glob(".*.tmp"))


def test_temporaries_of_every_age_and_writer_never_break_info_or_resume(tmp_path):
    run = tmp_path / "r"
    vaekit.train(epochs=1, out=run, **SMALL)
    tag = atomic._writer_tag()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    writers = {"old": "abcdefgh", "dead": f"efgh5678_{tag}_{dead.stdout.strip()}", "live": f"ijkl9012_{tag}_{os.getppid()}",
               "other-machine": f"mnop3456_{'0' * 8 if tag != '0' * 8 else '1' * 8}_{dead.stdout.strip()}"}  # fmt: skip
    # A checkpoint's temporary holds a whole checkpoint of another epoch: it must never be read as one.
    body = (run / "trainer.safetensors").read_bytes()[:100]
    names = ["config.json", "trainer.safetensors", "model.safetensors", "trainer.json", "eval-test-k0.json", "schema.json",
             "calibration.json", "samples.png"]  # fmt: skip
    for name in names:
        for writer in writers.values():
            (run / f".{name}.{writer}.tmp").write_bytes(body)
    info = CliRunner().invoke(main, ["info", str(run)])
    assert info.exit_code == 0, info.output
    assert ".tmp" not in info.output and "epochs_trained  1" in info.output
    vaekit.resume(run, epochs=2, progress="quiet")
    assert vaekit.load(run).config.train.epochs == 2
    # The run's own files are written only under its lock, which the resume holds: any temporary
    # of one is abandoned. Those of files written without it wait for their file's next write.
    left = sorted(p.name for p in run.glob(".*.tmp"))
    assert left == sorted(f".{name}.{writer}.tmp" for name in ("calibration.json", "samples.png") for writer in writers.values())


# --- full disk --------------------------------------------------------------------------------


def test_a_full_disk_at_a_checkpoint_gives_one_line_and_keeps_the_last_one(tmp_path, monkeypatch):
    run = tmp_path / "r"
    full_disk_at(monkeypatch, "trainer.safetensors", from_write=2)
    result = CliRunner().invoke(main, ["train", *SMALL_FLAGS, "--epochs", "3", "--out", str(run)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"error: disk full: could not write {run / 'trainer.safetensors'} (no space left on device); "
        f"training stopped; the last complete checkpoint (epoch 1) is intact: free some space, then "
        f"`vaekit resume {run}`"
    ]
    assert not list(run.glob(".*.tmp"))
    assert json.loads((run / "trainer.json").read_text())["epoch"] == 1
    monkeypatch.undo()
    vaekit.resume(run, progress="quiet")
    assert json.loads((run / "trainer.json").read_text())["epoch"] == 3


def test_a_full_disk_after_the_checkpoints_commit_point_names_that_checkpoint_as_kept(tmp_path, monkeypatch):
    # trainer.safetensors (the commit point) of epoch 1 is written, then model.safetensors fails:
    # the run keeps that checkpoint (resume rewrites model.safetensors), and the message says so.
    run = tmp_path / "r"
    full_disk_at(monkeypatch, "model.safetensors", from_write=1)
    result = CliRunner().invoke(main, ["train", *SMALL_FLAGS, "--epochs", "2", "--out", str(run)])
    assert result.exit_code == 2, result.output
    assert "the last complete checkpoint (epoch 1) is intact" in result.output
    assert (run / "trainer.safetensors").exists()
    monkeypatch.undo()
    vaekit.resume(run, progress="quiet")
    assert json.loads((run / "trainer.json").read_text())["epoch"] == 2


def test_divergence_names_the_last_checkpoint_not_the_last_epoch(tmp_path, monkeypatch):
    real = loop.run_epoch

    def diverge_in_epoch_3(run, epoch):
        if epoch == 3:
            for p in run.model.parameters():
                p.data.fill_(float("nan"))
        return real(run, epoch)

    monkeypatch.setattr(loop, "run_epoch", diverge_in_epoch_3)
    run = tmp_path / "r"
    flags = [*SMALL_FLAGS, "--epochs", "4", "--checkpoint-every", "2", "--out", str(run)]
    result = CliRunner().invoke(main, ["train", *flags])
    assert result.exit_code == 2, result.output
    assert "(epoch 3); stopped, the last good checkpoint (epoch 2) is intact" in result.output
    assert "`vaekit resume RUN --lr ... --grad-clip ...` goes on from the checkpoint" in result.output

    # The advice works: resume goes on from epoch 2 with a new rate and clip, saved in config.json.
    monkeypatch.undo()
    before = (run / "config.json").read_text()
    bad = CliRunner().invoke(main, ["resume", str(run), "--lr", "-1", "-q"])
    assert bad.exit_code != 0 and "lr" in bad.output, bad.output
    assert (run / "config.json").read_text() == before
    result = CliRunner().invoke(main, ["resume", str(run), "--lr", "2.5e-4", "--grad-clip", "5", "-q"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert (config["train"]["lr"], config["train"]["grad_clip"]) == (2.5e-4, 5.0)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4] and records[-1]["lr"] == 2.5e-4
    result = CliRunner().invoke(main, ["resume", str(run), "--epochs", "5", "--grad-clip", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["train"]["grad_clip"] is None


# --- read-only run folders --------------------------------------------------------------------


@pytest.fixture
def run_copy(digits_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(digits_run, copy)
    return copy


def test_evaluate_of_a_read_only_run_prints_and_says_the_report_was_not_saved(run_copy, monkeypatch):
    read_only(monkeypatch, run_copy)
    result = CliRunner().invoke(main, ["evaluate", str(run_copy), "--no-probe", "-q"])
    assert result.exit_code == 0, result.output
    assert "examples" in result.output and "KL" in result.output
    assert f"warning: the report was not saved: run folder {run_copy} is not writable" in result.output
    assert not list(run_copy.glob("eval-*"))


@pytest.mark.parametrize(
    "args",
    [["train", *SMALL_FLAGS, "--epochs", "1", "--out", "{run}", "--force"], ["resume", "{run}", "--epochs", "3", "-q"]],
    ids=["train", "resume"],
)
def test_train_and_resume_of_a_read_only_run_give_a_clear_error(run_copy, monkeypatch, args):
    before = fingerprint(run_copy)
    read_only(monkeypatch, run_copy)
    result = CliRunner().invoke(main, [a.format(run=run_copy) for a in args])
    assert result.exit_code == 2, result.output
    assert f"error: run folder {run_copy} is not writable (Permission denied; is it read-only?)" in result.output
    assert fingerprint(run_copy) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_run_folder_made_read_only_with_chmod(run_copy):
    run_copy.chmod(0o555)
    try:
        evaluated = CliRunner().invoke(main, ["evaluate", str(run_copy), "--no-probe", "-q"])
        assert evaluated.exit_code == 0 and "the report was not saved" in evaluated.output
        trained = CliRunner().invoke(main, ["train", *SMALL_FLAGS, "--out", str(run_copy), "--force"])
        assert trained.exit_code == 2 and "is not writable" in trained.output
    finally:
        run_copy.chmod(0o755)


def test_a_folder_that_becomes_read_only_during_training_gives_one_line(tmp_path, monkeypatch):
    run = tmp_path / "r"
    real = loop.checkpoint

    def checkpoint(run_, epoch, record):
        if epoch == 2:
            read_only(monkeypatch, run)
        real(run_, epoch, record)

    monkeypatch.setattr(loop, "checkpoint", checkpoint)
    with pytest.raises(NotWritableError, match=r"the last complete checkpoint \(epoch 1\) is intact"):
        vaekit.train(epochs=3, out=run, **SMALL)
