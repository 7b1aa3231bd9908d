"""The ``--nproc`` launcher's checks and messages, most without starting processes; the few
that start two (tiny data) check what a user sees of a user error and of Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vaekit.cli import main
from vaekit.cli.launch import (
    MESSAGES_ENV,
    check_processes,
    failure_message,
    failure_report,
    interrupt_message,
    refuse_one_process_command,
    tell_launcher,
    torchrun_arguments,
    wants_launch,
)
from vaekit.runtime.errors import ConfigError
from vaekit.training.checkpoint import checkpoint_epoch


@dataclass
class Failure:
    exitcode: int

    def signal_name(self) -> str:
        return signal.Signals(-self.exitcode).name


def test_the_first_cause_is_named_not_the_ranks_torchrun_stopped(tmp_path: Path) -> None:
    failures = {0: Failure(-signal.SIGTERM), 1: Failure(-signal.SIGKILL)}
    (tmp_path / "begun").mkdir()
    (tmp_path / "begun" / "config.json").write_text("{}")
    text = failure_message(failures, str(tmp_path / "begun"), " --nproc 2")
    assert text.startswith("rank 1 was killed by SIGKILL")
    assert "has no complete checkpoint" in text
    # no folder (or an empty one): nothing to say about it, and no --force to suggest
    assert failure_message(failures, str(tmp_path / "none"), " --nproc 2").endswith("stopped the other processes")
    failures = {0: Failure(2), 1: Failure(-signal.SIGTERM)}
    assert failure_message(failures, None, "").startswith("rank 0 exited with code 2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nnodes": 2, "rdzv_endpoint": None}, "needs --rdzv-endpoint"),
        ({"rdzv_endpoint": "nohost"}, "must be HOST:PORT"),
        ({"rdzv_endpoint": "h:70000"}, "must be HOST:PORT"),
        ({"nnodes": 0}, "--nnodes must be at least 1"),
        ({"rdzv_timeout": 0}, "--rdzv-timeout must be at least 1"),
    ],
)
def test_rendezvous_that_cannot_work_is_refused(kwargs: dict, message: str) -> None:
    args = {"nproc": 2, "nnodes": 1, "rdzv_endpoint": None, "rdzv_id": "j", "rdzv_timeout": 10, **kwargs}
    with pytest.raises(ConfigError, match=message):
        torchrun_arguments(**args)


def test_a_free_port_is_chosen_on_one_machine() -> None:
    args = torchrun_arguments(3, 1, None, "job", 10)
    assert "--nproc-per-node=3" in args and args[-2:] == ["-m", "vaekit"]
    endpoint = next(a for a in args if a.startswith("--rdzv-endpoint="))
    assert endpoint.startswith("--rdzv-endpoint=127.0.0.1:")


def test_workers_do_not_launch_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    assert wants_launch(2) and not wants_launch(None)
    with pytest.raises(ConfigError, match="--nproc must be at least 1"):
        wants_launch(0)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not wants_launch(2)


def test_a_user_error_is_reported_once_with_its_code_and_nothing_added(tmp_path: Path) -> None:
    failures = {0: Failure(2), 1: Failure(-signal.SIGTERM)}
    told = {
        0: {"line": "error: run folder r is in use by PID 7", "code": 2, "fault": False},
        1: {"line": "error: rank 1 lost contact with the other processes", "code": 2, "fault": True},
    }
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    assert failure_report(failures, told, str(tmp_path / "run"), " --nproc 2") == (2, [told[0]["line"]])
    # a lost peer alone is a fault: its line, then which rank failed and what is left of the run
    code, lines = failure_report({1: Failure(2)}, {1: told[1]}, str(tmp_path / "run"), " --nproc 2")
    assert code == 1 and lines[0] == told[1]["line"]
    assert lines[1].startswith("error: rank 1 exited with code 2") and "has no complete checkpoint" in lines[1]


def test_a_killed_rank_is_the_cause_not_the_lost_contact_it_caused(tmp_path: Path) -> None:
    # rank 1 killed: rank 0's sum fails on the closed connection, and it exits 2 after telling so
    run = tmp_path / "run"
    run.mkdir()
    lost = "error: rank 0 lost contact with the other processes during a sum over the processes (Read error " \
        "[127.0.0.1]:33199: Connection reset by peer); another process stopped, which closed its connection"
    told = {0: {"line": lost, "code": 2, "fault": True}}
    code, lines = failure_report({0: Failure(2), 1: Failure(-signal.SIGKILL)}, told, str(run), " --nproc 2")
    assert code == 1 and lines == [f"error: {failure_message({1: Failure(-signal.SIGKILL)}, str(run), ' --nproc 2')}"]
    assert lines[0].startswith("error: rank 1 was killed by SIGKILL; torchrun stopped the other processes")
    # a rank that exited on its own (a crash's traceback, no line told) is the cause in the same way
    code, lines = failure_report({0: Failure(2), 1: Failure(1)}, told, str(run), " --nproc 2")
    assert lines == ["error: rank 1 exited with code 1; torchrun stopped the other processes"]


def test_a_hung_rank_is_said_to_have_stopped_answering_not_to_have_been_killed(tmp_path: Path) -> None:
    # rank 1 stopped (SIGSTOP): rank 0 times out and exits 2; torchrun's cleanup SIGKILLs rank 1
    timed_out = "error: rank 0 lost contact with the other processes during a sum over the processes (Timed " \
        "out waiting 5000ms for recv operation to complete); another process did not answer within " \
        "VAEKIT_DIST_TIMEOUT=5 s"
    told = {0: {"line": timed_out, "code": 2, "fault": True}}
    code, lines = failure_report({0: Failure(2), 1: Failure(-signal.SIGKILL)}, told, None, " --nproc 2")
    assert code == 1 and lines == [
        timed_out, "error: rank 1 stopped answering; torchrun ended it with SIGKILL after rank 0 gave up"
    ]
    # a hung rank that ended on torchrun's SIGTERM cannot be told from one torchrun stopped
    _, lines = failure_report({0: Failure(2), 1: Failure(-signal.SIGTERM)}, told, None, " --nproc 2")
    assert lines == [timed_out, "error: rank 0 exited with code 2; torchrun stopped the other processes"]


def test_an_interrupt_says_what_one_process_says(tmp_path: Path) -> None:
    line = "interrupted; the last complete checkpoint of r is intact: `vaekit resume r --nproc 2` continues it"
    assert interrupt_message(signal.SIGINT, {0: {"line": line, "code": 130}}, "r", " --nproc 2") == line
    assert interrupt_message(signal.SIGINT, {}, None, " --nproc 2") == "interrupted"
    assert interrupt_message(signal.SIGTERM, {}, str(tmp_path / "none"), " --nproc 2") == "stopped by SIGTERM"


def test_a_worker_leaves_its_line_to_the_launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MESSAGES_ENV, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not tell_launcher("error: x", 2)  # started by torchrun itself: the worker prints
    monkeypatch.setenv(MESSAGES_ENV, str(tmp_path))
    assert tell_launcher("error: x", 2, fault=True)
    assert json.loads((tmp_path / "rank-1.json").read_text()) == {"line": "error: x", "code": 2, "fault": True}


def test_processes_the_machine_cannot_run_are_refused_before_launching(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"--nproc 3 is more processes than this machine's 2 CPU cores.*--nproc 2"):
        check_processes(3, 1, "auto", None)
    with pytest.raises(ConfigError, match="a batch of 3 example.* cannot be split over 4 processes"):
        check_processes(2, 2, "cpu", 3)
    check_processes(2, 2, "cpu", 4)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="--nproc 2 needs 2 GPUs"):
        check_processes(2, 1, "cuda", None)
    check_processes(1, 1, "cuda", None)
    with pytest.raises(ConfigError, match="CPU cores"):
        check_processes(3, 1, "cpu", None)  # a CPU run on a GPU machine counts its cores


def test_the_cli_refuses_before_starting_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    runner = CliRunner()
    cores = os.cpu_count() or 1
    result = runner.invoke(main, ["train", "--data", "digits", "--device", "cpu", "--nproc", str(cores + 1), "-q"])
    assert result.exit_code == 2 and f"this machine's {cores} CPU cores (os.cpu_count())" in result.output
    result = runner.invoke(main, ["train", "--data", "digits", "--nnodes", "2", "-q"])
    assert result.exit_code == 2 and "--nnodes takes effect only with --nproc" in result.output
    result = runner.invoke(main, ["evaluate", "runs/none", "--rdzv-endpoint", "h:1", "--rdzv-timeout", "5"])
    assert result.exit_code == 2 and "--rdzv-endpoint and --rdzv-timeout take effect only with --nproc" in result.output


@pytest.mark.parametrize(("rank", "code"), [("0", 2), ("1", 0)])
def test_a_one_process_command_under_torchrun_is_refused_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, rank: str, code: int
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)
    refuse_one_process_command("train")
    with pytest.raises(SystemExit) as stopped:
        refuse_one_process_command("encode")
    assert stopped.value.code == code
    said = capsys.readouterr().err
    assert ("vaekit encode runs in one process" in said) == (rank == "0")


# --- two processes, tiny data ---------------------------------------------------------------


def vaekit(*args: str, **popen: object) -> subprocess.Popen:
    """Start ``python -m vaekit ARGS`` outside any torchrun job (text output to pipes)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", MESSAGES_ENV):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "vaekit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **popen)  # type: ignore[call-overload]  # fmt: skip


def test_a_user_error_in_the_workers_is_printed_once(tmp_path: Path) -> None:
    job = vaekit("train", "--data", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "run"), "--nproc", "2", "-q")
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 2, stderr
    assert stderr.count("error:") == 1 and "missing.npy" in stderr
    assert "torchrun" not in stderr and "--force" not in stderr
    assert not (tmp_path / "run").exists()


def test_plain_torchrun_prints_a_user_error_and_a_usage_error_once(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", MESSAGES_ENV):
        env.pop(name, None)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", "-m", "vaekit", "train"]
    for args, said in ((["--data", str(tmp_path / "missing.npy")], "error: "), (["--epochs", "abc"], "Error: Invalid value for '--epochs'")):
        job = subprocess.run([*torchrun, *args, "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
        assert job.returncode != 0
        assert job.stderr.count(said) == 1, job.stderr
    assert not (tmp_path / "run").exists()


def test_ctrl_c_stops_every_process_with_one_line(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", (np.random.default_rng(0).random((2000, 8)) > 0.5).astype("f4"))
    run = tmp_path / "run"
    job = vaekit("train", "--data", str(tmp_path / "x.npy"), "--encoder", "8", "--latent", "2", "--batch-size", "8",
                 "--epochs", "500", "--out", str(run), "--nproc", "2", "-q")  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while checkpoint_epoch(run) is None:
            assert time.monotonic() < deadline and job.poll() is None, job.stderr.read() if job.stderr else ""
            time.sleep(0.05)
        job.send_signal(signal.SIGINT)
        _, stderr = job.communicate(timeout=60)
    finally:
        job.kill()
    assert job.returncode == 130, stderr
    assert "Traceback" not in stderr
    # the advice resumes in the same processes: in one, the run would not continue bit for bit
    assert stderr.strip().splitlines() == [
        f"interrupted; the last complete checkpoint of {run} is intact: `vaekit resume {run} --nproc 2` continues it"
    ]


def test_threads_sets_torchs_threads_here_and_for_the_workers_nproc_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # restored after the test, as torch's own count below
    before = torch.get_num_threads()
    try:
        result = CliRunner().invoke(main, ["train", "--data", "digits", "--encoder", "8", "--latent", "2", "--epochs", "1",
                                           "--out", str(tmp_path / "r"), "--quiet", "--threads", "1"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("command", ["train", "resume", "evaluate", "score"])
def test_threads_below_one_are_refused_naming_the_option(command: str, tmp_path: Path) -> None:
    args = [command, *([] if command == "train" else [str(tmp_path)]), "--threads", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Invalid value for '--threads': must be at least 1, got 0" in result.output


# --- workers started the way the launcher was, so that plugins register in them ---------------

PLUGIN_LAUNCHER = '''
from vaekit.distributions.likelihoods import GaussianLikelihood, register_likelihood


@register_likelihood("my-gaussian")
class MyGaussian(GaussianLikelihood):
    """The gaussian likelihood under a name that only this launcher registers."""
'''


@pytest.mark.parametrize("started", ["script", "-c"])
def test_workers_of_a_plugin_launcher_register_its_pieces(started: str, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((64, 5)).astype("f4"))
    code = PLUGIN_LAUNCHER + "\nfrom vaekit.cli import main\nmain()\n"
    (tmp_path / "my_vaekit.py").write_text(code)
    start = [str(tmp_path / "my_vaekit.py")] if started == "script" else ["-c", code]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", MESSAGES_ENV):
        env.pop(name, None)
    args = ["train", "--data", str(tmp_path / "x.npy"), "--likelihood", "my-gaussian", "--encoder", "4",
            "--latent", "2", "--epochs", "1", "--out", str(tmp_path / "run"), "--nproc", "2", "-q"]  # fmt: skip
    job = subprocess.run([sys.executable, *start, *args], capture_output=True, text=True, env=env, timeout=180)
    assert job.returncode == 0, job.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["likelihood"]["name"] == "my-gaussian"


@pytest.mark.parametrize("worker", [True, False])
def test_main_called_by_a_plugin_script_ends_a_worker_without_the_interpreters_teardown(worker: bool) -> None:
    # The teardown with torch's gloo threads alive can abort a worker whose command succeeded.
    code = "import atexit\natexit.register(lambda: print('teardown ran'))\nfrom vaekit.cli import main\nmain()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", MESSAGES_ENV)}
    if worker:
        env.update(RANK="1", WORLD_SIZE="2", LOCAL_RANK="1")
    job = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert job.returncode == 0, job.stderr
    assert job.stdout.startswith("vaekit, version ")
    assert ("teardown ran" in job.stdout) is not worker
    failed = subprocess.run([sys.executable, "-c", code, "train", "--data", "/no/such.npy"], capture_output=True, text=True,
                            env=env, timeout=60)  # fmt: skip
    assert failed.returncode != 0 and "teardown ran" in failed.stdout  # a failure cleans up as usual


def test_workers_start_as_the_launcher_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import ModuleType

    from vaekit.cli.launch import worker_entry

    script = tmp_path / "my_vaekit.py"
    script.write_text("")
    monkeypatch.setitem(sys.modules, "__main__", ModuleType("__main__"))  # a script's __main__ has no __spec__
    monkeypatch.setattr(sys, "argv", [str(script), "train"])
    assert worker_entry() == [str(script.resolve())]
    monkeypatch.setattr(sys, "argv", ["-c", "train"])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-c", "import p; main()", "train"])
    assert worker_entry() == ["--no-python", sys.executable, "-u", "-c", "import p; main()"]
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "bin" / "vaekit"), "train"])  # the console script
    assert worker_entry() == ["-m", "vaekit"]
