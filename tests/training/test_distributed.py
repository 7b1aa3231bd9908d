"""Distributed training on CPUs: gloo processes on 127.0.0.1, launched through torchrun.

Each test starts real processes (``vaekit train --nproc N`` runs torchrun's own launcher), so
what is checked is what a user gets: the same training as one process, a killed rank that stops
the job with a message and a resume that continues it bit for bit, sharded evaluation, two
torchrun agents meeting as two "machines", and the launch errors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

#: every launch is bounded: a hang fails the test instead of stalling the suite
LAUNCH_TIMEOUT_S = 180
#: small, quick runs on the bundled digits (1,293 training images after the validation split)
BASE = ["--data", "digits", "--limit", "400", "--latent", "4", "--encoder", "32", "-q"]


def vaekit(*args: str, timeout: float = LAUNCH_TIMEOUT_S, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m vaekit ARGS``; return the finished process (text output)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "vaekit", *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_close_weights(a: Path, b: Path, atol: float) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    worst = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    assert worst <= atol, f"largest weight difference {worst:.3g} > {atol}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: one process, global batch 50, dynamic binarisation (noise per batch)."""
    run = tmp_path_factory.mktemp("one") / "run"
    ok(vaekit("train", *BASE, "--binarize", "dynamic", "--epochs", "3", "--batch-size", "50", "--out", str(run)))
    return run


def test_two_processes_train_as_one(one_process: Path, tmp_path: Path) -> None:
    # Float tolerance: the two shards' gradient sums add in another order than one batch's.
    run = tmp_path / "two"
    out = ok(vaekit("train", *BASE, "--binarize", "dynamic", "--epochs", "3", "--batch-size", "50",
                    "--out", str(run), "--nproc", "2"))  # fmt: skip
    assert "test ELBO" in out.stdout  # rank 0 printed the summary, once
    assert out.stdout.count("run folder:") == 1
    assert_close_weights(run, one_process, atol=1e-4)
    for mine, theirs in zip(metrics(run), metrics(one_process), strict=True):
        assert mine["step"] == theirs["step"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
    assert (run / "samples.png").exists()


@pytest.mark.parametrize("fast, step", [("off", "autograd"), ("auto", "fused")])
def test_uneven_shards_and_importance_samples(tmp_path: Path, fast: str, step: str) -> None:
    # Batch 7 over 2 processes (3 and 4 rows), an IWAE's [K, B, L] draws, through either step.
    args = [*BASE, "--model", "iwae", "--set", "objective.k=3", "--fast", fast, "--epochs", "2",
            "--batch-size", "7", "--limit", "120", "--binarize", "dynamic"]  # fmt: skip
    ok(vaekit("train", *args, "--out", str(tmp_path / "one")))
    ok(vaekit("train", *args, "--out", str(tmp_path / "two"), "--nproc", "2"))
    assert_close_weights(tmp_path / "two", tmp_path / "one", atol=1e-4)
    assert {record["training_step"] for record in metrics(tmp_path / "two")} == {step}


@pytest.mark.parametrize(
    "fast, step, start",
    [("off", "autograd", []), ("auto", "fused", ["--init", "glorot-uniform", "--output-bias", "marginals"])],
)
def test_two_stochastic_layers_train_as_one_with_each_layers_kl(tmp_path: Path, fast: str, step: str, start: list) -> None:
    # The hierarchy draws noise for both layers and an IWAE's k draws: all through the batch's rows.
    # Each process starts the same way, from torch's layers or from Glorot's draws and the pixel means.
    args = [*BASE, "--model", "hvae", "--set", "model.upper_latents=[3]", "--set", "model.upper_hidden=[[16]]",
            "--objective", "iwae", "--set", "objective.k=3", "--binarize", "dynamic", "--epochs", "2",
            "--batch-size", "50", "--limit", "200", "--fast", fast, *start]  # fmt: skip
    ok(vaekit("train", *args, "--out", str(tmp_path / "one")))
    ok(vaekit("train", *args, "--out", str(tmp_path / "two"), "--nproc", "2"))
    assert_close_weights(tmp_path / "two", tmp_path / "one", atol=1e-4)
    assert {record["training_step"] for record in metrics(tmp_path / "two")} == {step}
    for mine, theirs in zip(metrics(tmp_path / "two"), metrics(tmp_path / "one"), strict=True):
        assert mine["train_kl_layers"] == pytest.approx(theirs["train_kl_layers"], rel=1e-5)
        assert mine["val_kl_layers"] == pytest.approx(theirs["val_kl_layers"], rel=1e-5)


@pytest.mark.parametrize("model", ["iwae", "hvae"])
def test_the_roulette_leaves_out_the_draws_one_process_would(tmp_path: Path, model: str) -> None:
    # --min-backward-weight's roulette draws a uniform per draw: each rank must draw its rows' as
    # one process does, or the draws left out (and so the weights) differ with the process count.
    args = [*BASE, "--model", model, "--objective", "iwae", "--set", "objective.k=5", "--min-backward-weight", "0.15",
            "--epochs", "2", "--batch-size", "7", "--limit", "120", "--binarize", "dynamic"]  # fmt: skip
    if model == "hvae":
        args += ["--set", "model.upper_latents=[3]", "--set", "model.upper_hidden=[[16]]"]
    ok(vaekit("train", *args, "--out", str(tmp_path / "one")))
    ok(vaekit("train", *args, "--out", str(tmp_path / "two"), "--nproc", "2"))
    assert_close_weights(tmp_path / "two", tmp_path / "one", atol=1e-4)
    assert {record["min_backward_weight"] for record in metrics(tmp_path / "two")} == {0.15}


def _rank_pid(rank: int, parent: int) -> int | None:
    """The PID of torchrun worker ``rank`` among ``parent``'s descendants, read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"TORCHELASTIC_RUN_ID" in b"".join(environ):
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                return int(entry.name)
    return None


def test_killed_rank_stops_the_job_and_resume_continues_bit_for_bit(tmp_path: Path) -> None:
    args = [*BASE, "--epochs", "30", "--batch-size", "8", "--limit", "240"]
    ok(vaekit("train", *args, "--out", str(tmp_path / "whole"), "--nproc", "2"))

    run = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen([sys.executable, "-m", "vaekit", "train", *args, "--out", str(run), "--nproc", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = run / "metrics.jsonl"
            if log.exists() and len(log.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        pid = _rank_pid(1, job.pid)
        assert pid is not None, "rank 1 not found"
        os.kill(pid, signal.SIGKILL)
        _, stderr = job.communicate(timeout=60)  # no hang: torchrun stops rank 0
    finally:
        job.kill()
    assert job.returncode != 0
    assert "rank 1 was killed by SIGKILL" in stderr
    assert f"vaekit resume {run} --nproc 2" in stderr
    # the cause alone: rank 0's lost contact followed from it, and no timeout played a part
    assert "lost contact" not in stderr and "VAEKIT_DIST_TIMEOUT" not in stderr
    done = len(metrics(run))
    assert 3 <= done < 30, "the kill should fall mid-run"

    ok(vaekit("resume", str(run), "--nproc", "2"))
    whole, resumed = weights(tmp_path / "whole"), weights(run)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert [m["train_loss"] for m in metrics(run)] == [m["train_loss"] for m in metrics(tmp_path / "whole")]


def test_resume_at_another_world_size_says_so(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ok(vaekit("train", *BASE, "--epochs", "1", "--batch-size", "50", "--out", str(run), "--nproc", "2"))
    out = ok(vaekit("resume", str(run), "--epochs", "2"))
    assert "resumed by 1" in out.stderr + out.stdout and "float tolerance" in out.stderr + out.stdout
    assert len(metrics(run)) == 2


def test_sharded_evaluation_equals_one_process(one_process: Path) -> None:
    args = ["evaluate", str(one_process), "--k", "20", "--batch-size", "40", "--no-probe", "--json", "-q"]
    alone = json.loads(ok(vaekit(*args)).stdout)
    sharded = ok(vaekit(*args, "--nproc", "2"))
    report = json.loads(sharded.stdout)
    assert report["nll"] == alone["nll"]  # the same draws for every example: the same number
    assert report.get("nll_se") == alone.get("nll_se")


def test_sharded_scores_equal_one_processs(one_process: Path, tmp_path: Path) -> None:
    args = ["score", str(one_process), "--data", "digits", "--split", "test", "--explain", "--chunk-rows", "150", "-q"]
    ok(vaekit(*args, "--out", str(tmp_path / "one.csv")))
    out = ok(vaekit(*args, "--out", str(tmp_path / "two.csv"), "--nproc", "2"))
    assert out.stdout.count("wrote") == 1  # rank 0 writes and reports
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert (tmp_path / "two-maps.npy").read_bytes() == (tmp_path / "one-maps.npy").read_bytes()


def test_two_torchrun_agents_meet_as_two_machines(one_process: Path, tmp_path: Path) -> None:
    run = tmp_path / "nodes"
    endpoint = f"127.0.0.1:{free_port()}"
    args = [sys.executable, "-m", "vaekit", "train", *BASE, "--binarize", "dynamic", "--epochs", "3",
            "--batch-size", "50", "--out", str(run), "--nproc", "1", "--nnodes", "2", "--rdzv-endpoint", endpoint,
            "--rdzv-timeout", "60"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    agents = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        outputs = [agent.communicate(timeout=LAUNCH_TIMEOUT_S) for agent in agents]
    finally:
        for agent in agents:
            agent.kill()
    assert [a.returncode for a in agents] == [0, 0], [e[-2000:] for _, e in outputs]
    assert_close_weights(run, one_process, atol=1e-4)


def test_configs_that_differ_between_machines_are_refused(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    common = [sys.executable, "-m", "vaekit", "train", *BASE, "--epochs", "1", "--out", str(tmp_path / "run"),
              "--nproc", "1", "--nnodes", "2", "--rdzv-endpoint", endpoint, "--rdzv-timeout", "60"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    agents = [
        subprocess.Popen([*common, "--lr", lr], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for lr in ("0.001", "0.01")
    ]
    outputs = [agent.communicate(timeout=LAUNCH_TIMEOUT_S) for agent in agents]
    assert all(agent.returncode != 0 for agent in agents)
    stderr = "".join(e for _, e in outputs)
    assert "differs between ranks" in stderr and "train.lr" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "run").exists()


def test_a_missing_machine_ends_the_wait_with_a_message(tmp_path: Path) -> None:
    started = time.monotonic()
    result = vaekit("train", *BASE, "--epochs", "1", "--out", str(tmp_path / "run"), "--nproc", "1",
                    "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--rdzv-timeout", "3")  # fmt: skip
    assert result.returncode != 0
    assert "not all 2 machines joined" in result.stderr and "--rdzv-timeout" in result.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "run").exists()


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = vaekit("train", *BASE, "--out", str(tmp_path / "run"), "--nproc", "2",
                        "--rdzv-endpoint", f"127.0.0.1:{port}")  # fmt: skip
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "net.normalization=batch"], "batch normalisation"),
        (["--batch-size", "1"], "cannot be split over 2 processes"),
        (["--model", "lvae"], "normalises its batches (batch normalisation), and each of 2 processes would normalise its "
         "own rows, which is not the one-process training; choose layer normalisation (--set model.normalization=layer)"),
    ],
)
def test_runs_two_processes_cannot_train_as_one_are_refused(tmp_path: Path, extra: list[str], message: str) -> None:
    result = vaekit("train", *BASE, "--epochs", "1", "--out", str(tmp_path / "run"), "--nproc", "2", *extra)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_ladder_vaes_named_fix_trains_in_two_processes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ok(vaekit("train", *BASE, "--model", "lvae", "--set", "model.normalization=layer", "--epochs", "1", "--out", str(run),
              "--nproc", "2"))  # fmt: skip
    assert len(metrics(run)) == 1


def test_the_time_limit_says_to_resume_in_as_many_processes(tmp_path: Path) -> None:
    # Resumed in one process, the run would continue to float tolerance only, not bit for bit.
    run = tmp_path / "run"
    loud = [arg for arg in BASE if arg != "-q"]  # the stop's line is progress output, which -q leaves out
    out = ok(vaekit("train", *loud, "--epochs", "50", "--batch-size", "50", "--time-limit", "0.01", "--out", str(run),
                    "--nproc", "2"))  # fmt: skip
    assert f"`vaekit resume {run} --nproc 2` continues it for another 0.01 s" in out.stdout + out.stderr
    assert len(metrics(run)) == 1


@pytest.mark.slow
def test_a_hung_rank_times_out_instead_of_hanging(tmp_path: Path) -> None:
    run = tmp_path / "hung"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VAEKIT_DIST_TIMEOUT": "5"}
    job = subprocess.Popen([sys.executable, "-m", "vaekit", "train", *BASE, "--epochs", "200", "--batch-size", "8",
                            "--out", str(run), "--nproc", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = _rank_pid(1, job.pid)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        _, stderr = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode != 0
    assert "lost contact with the other processes" in stderr and "did not answer within VAEKIT_DIST_TIMEOUT=5" in stderr
    # torchrun's cleanup killed the stopped rank; that is not what stopped the job
    assert "rank 1 stopped answering" in stderr and "was killed by SIGKILL" not in stderr
    assert f"vaekit resume {run} --nproc 2" in stderr
