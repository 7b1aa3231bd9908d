"""The process-group helpers in one process (the multi-process paths: tests/training/test_distributed.py)."""

from __future__ import annotations

import pytest
import torch

from vaekit.runtime import distributed
from vaekit.runtime.errors import ConfigError, DistributedError


@pytest.mark.parametrize(("n", "size"), [(10, 2), (7, 2), (5, 3), (2, 2), (100, 7)])
def test_shards_cover_the_rows_once_in_order(n: int, size: int) -> None:
    bounds = [distributed.shard_bounds(n, rank, size) for rank in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_one_process_collectives_are_the_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed.joined(torch.device("cpu")) as world:
        assert not world.distributed and world.writer
        t = torch.ones(3)
        assert distributed.all_reduce_sum(t) is t and torch.equal(t, torch.ones(3))
        assert distributed.all_gather_objects({"a": 1}) == [{"a": 1}]
        distributed.barrier()
        distributed.check_same_everywhere("x", {"a": 1}, "fix")


def test_timeout_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "0")
    with pytest.raises(ConfigError, match="VAEKIT_DIST_TIMEOUT must be a positive number"):
        distributed.timeout_s()
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "2.5")
    assert distributed.timeout_s() == 2.5


def test_writer_process_reads_torchruns_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not distributed.writer_process()
    monkeypatch.setenv("RANK", "0")
    assert distributed.writer_process()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "1")
    assert distributed.writer_process()


class _Gathered(Exception):
    """Raised in place of the gather that ends a sharded computation: the other rank is faked."""


@pytest.fixture
def rank_0_of_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as rank 0 of 2, up to the gather after its share of the work."""
    monkeypatch.setattr(distributed, "_world", distributed.World(rank=0, size=2))

    def gather(value: object) -> list:
        raise _Gathered

    monkeypatch.setattr(distributed, "all_gather_objects", gather)


@pytest.mark.parametrize("batch_size", [7, 100])
def test_rank_0s_nll_progress_counts_each_example_once(digits_run, rank_0_of_2: None, batch_size: int) -> None:
    # 20 examples in batches of 7 (rank 0: batches 0 and 2) or in one batch (rank 0 bounds it alone)
    import vaekit
    from vaekit.evaluation.iwae import log_likelihood_bounds

    vae = vaekit.load(digits_run)
    counted: list[int] = []
    with pytest.raises(_Gathered):
        log_likelihood_bounds(vae.model, torch.rand(20, 64), 3, batch_size=batch_size, on_batch=counted.append,
                              sharded=True)  # fmt: skip
    assert sum(counted) == 20


def test_rank_0s_scoring_progress_counts_each_example_once(digits_run, rank_0_of_2: None) -> None:
    import vaekit
    from vaekit import scoring

    vae = vaekit.load(digits_run)
    counted: list[int] = []
    source = scoring.score_source(vae, torch.rand(30, 64).numpy(), chunk_rows=20)
    with pytest.raises(_Gathered):
        next(scoring.iter_scores(vae, source, on_rows=counted.append))
    assert sum(counted) == 20  # the first chunk's rows, not twice them


@pytest.mark.parametrize(
    ("error", "blames", "not_said"),
    [
        ("[gloo/x.cc:84] Timed out waiting 5000ms for recv operation to complete", "did not answer within", "stopped"),
        ("[gloo/x.cc:9] Read error [127.0.0.1]:33199: Connection reset by peer", "another process stopped", "TIMEOUT"),
        ("Connection closed by peer [127.0.0.1]:5", "closed its connection", "TIMEOUT"),
        ("something else broke", "stopped, or did not answer within", None),
    ],
)
def test_lost_contact_names_a_timeout_only_when_the_collective_timed_out(
    monkeypatch: pytest.MonkeyPatch, error: str, blames: str, not_said: str | None
) -> None:
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "5")
    line = distributed.lost_contact("a sum over the processes", RuntimeError(error))
    assert line.startswith("rank 0 lost contact with the other processes during a sum over the processes (")
    assert "[gloo" not in line and blames in line
    assert not_said is None or not_said not in line.split(")")[-1]


def test_a_collectives_failure_is_one_line_that_blames_no_timeout_for_a_closed_connection() -> None:
    said = r"^rank 0 lost contact .*\(Connection reset by peer\); another process stopped"
    with pytest.raises(DistributedError, match=said) as lost:
        with distributed._collective("a wait for every process"):
            raise RuntimeError("Connection reset by peer")
    assert distributed.TIMEOUT_ENV not in str(lost.value)


def _torchrun_env(monkeypatch: pytest.MonkeyPatch, world_size: int, local: int, flags: str | None) -> None:
    """This process as rank 0 of a torchrun job of ``world_size`` processes, ``local`` per machine,
    launched by ``vaekit ... --nproc`` with ``flags`` (None: by torchrun itself)."""
    monkeypatch.setenv("WORLD_SIZE", str(world_size))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))
    monkeypatch.setenv("RANK", "0")
    if flags is None:
        monkeypatch.delenv(distributed.LAUNCH_FLAGS_ENV, raising=False)
    else:
        monkeypatch.setenv(distributed.LAUNCH_FLAGS_ENV, flags)


@pytest.mark.parametrize(
    ("world_size", "local", "flags", "command"),
    [
        (1, 1, None, "`vaekit resume runs/m`"),
        (2, 2, " --nproc 2", "`vaekit resume runs/m --nproc 2`"),
        (4, 2, " --nproc 2 --nnodes 2 --rdzv-endpoint h:1",
         "`vaekit resume runs/m --nproc 2 --nnodes 2 --rdzv-endpoint h:1`"),
        (2, 2, None, "`torchrun --nproc-per-node 2 -m vaekit resume runs/m`"),
        (4, 2, None, "`torchrun --nproc-per-node 2 --nnodes 2 ... -m vaekit resume runs/m` on each machine"),
    ],
)
def test_the_resume_command_names_the_processes_the_run_trains_in(
    monkeypatch: pytest.MonkeyPatch, world_size: int, local: int, flags: str | None, command: str
) -> None:
    _torchrun_env(monkeypatch, world_size, local, flags)
    assert distributed.resume_command("runs/m").startswith(command)


def test_launch_flags_name_the_machines_only_when_there_are_several() -> None:
    assert distributed.launch_flags(2, 1, "127.0.0.1:5") == " --nproc 2"
    assert distributed.launch_flags(8, 2, "10.0.0.1:29400") == " --nproc 8 --nnodes 2 --rdzv-endpoint 10.0.0.1:29400"
