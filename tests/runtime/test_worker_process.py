"""A torchrun worker ends with its command's exit code and its output flushed, without the
interpreter's teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vaekit.runtime.worker_process import first_to_say, launched_by_torchrun


def run_worker_script(body: str) -> subprocess.CompletedProcess:
    """Run ``body`` as the command of ``run_as_worker`` in a fresh interpreter (its output to pipes)."""
    script = textwrap.dedent(
        """
        import atexit, sys
        from vaekit.runtime.worker_process import run_as_worker
        atexit.register(lambda: print("teardown ran"))

        def command():
        """
    ) + textwrap.indent(textwrap.dedent(body), "    ") + "\nrun_as_worker(command)\nprint('not reached')\n"
    # Buffered as a user's worker is, so an output not flushed before os._exit would be lost.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("body", ["print('trained')\n", "print('trained')\nsys.exit(0)\n", "print('trained')\nsys.exit(None)\n"])
def test_a_success_keeps_its_buffered_output_and_skips_the_teardown(body: str) -> None:
    result = run_worker_script(body)
    assert result.returncode == 0
    # stdout to a pipe is block-buffered: without the flush before os._exit this line is lost
    assert result.stdout == "trained\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    "body, code, err",
    [("print('failed')\nsys.exit(3)\n", 3, ""), ("print('failed')\nsys.exit('error: the reason')\n", 1, "error: the reason\n")],
)
def test_a_failure_exits_with_its_code_through_the_usual_teardown(body: str, code: int, err: str) -> None:
    # Its peers are stopped by torchrun as soon as it exits: it leaves no sooner than before.
    result = run_worker_script(body)
    assert result.returncode == code
    assert result.stdout == "failed\nteardown ran\n"
    assert result.stderr == err


def test_an_uncaught_exception_is_reported_as_python_reports_it() -> None:
    result = run_worker_script("raise RuntimeError('boom')\n")
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    assert "not reached" not in result.stdout


@pytest.mark.parametrize(
    "env, expected",
    [({}, False), ({"WORLD_SIZE": "1", "RANK": "0"}, False), ({"WORLD_SIZE": "2"}, False), ({"WORLD_SIZE": "2", "RANK": "1"}, True)],
)
def test_launched_by_torchrun_reads_the_workers_variables(monkeypatch: pytest.MonkeyPatch, env: dict, expected: bool) -> None:
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert launched_by_torchrun() is expected


def test_python_m_vaekit_as_a_worker_exits_with_the_commands_code() -> None:
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1"}
    good = subprocess.run([sys.executable, "-m", "vaekit", "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert good.returncode == 0 and good.stdout.strip()
    bad = subprocess.run([sys.executable, "-m", "vaekit", "no-such-command"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr


def test_a_fatal_signal_in_a_worker_prints_where_each_thread_was() -> None:
    result = run_worker_script("import os, signal\nos.kill(os.getpid(), signal.SIGABRT)\n")
    assert result.returncode == -6
    assert "Fatal Python error: Aborted" in result.stderr and "in command" in result.stderr


def test_the_launcher_prints_where_it_was_on_a_fatal_signal_too() -> None:
    # vaekit's --nproc launcher switches the same stacks on before it starts torchrun.
    script = textwrap.dedent(
        """
        import os, signal
        from vaekit.runtime.worker_process import stacks_on_fatal_signal

        def rendezvous():
            os.kill(os.getpid(), signal.SIGSEGV)

        stacks_on_fatal_signal()
        stacks_on_fatal_signal()  # a second call changes nothing
        rendezvous()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -11
    assert "Fatal Python error: Segmentation fault" in result.stderr and "in rendezvous" in result.stderr


def test_a_line_is_said_once_per_attempt_of_a_torchrun_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "attempt_0" / "1" / "error.json"))
    (tmp_path / "attempt_0" / "1").mkdir(parents=True)
    assert first_to_say("error: x") and not first_to_say("error: x")  # the other worker's turn
    assert first_to_say("error: y")  # another line is printed
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "attempt_1" / "1" / "error.json"))
    (tmp_path / "attempt_1" / "1").mkdir(parents=True)
    assert first_to_say("error: x")  # a restarted attempt says it again
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", "")  # torchrun kept no logs: every worker prints
    assert first_to_say("error: x") and first_to_say("error: x")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "attempt_0" / "1" / "error.json"))
    assert first_to_say("error: x")  # one process: always
