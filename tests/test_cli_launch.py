"""The ``--nproc`` launcher's checks and messages, without starting processes."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaekit.cli.launch import failure_message, torchrun_arguments, wants_launch
from vaekit.runtime.errors import ConfigError


@dataclass
class Failure:
    exitcode: int

    def signal_name(self) -> str:
        return signal.Signals(-self.exitcode).name


def test_the_first_cause_is_named_not_the_ranks_torchrun_stopped(tmp_path: Path) -> None:
    failures = {0: Failure(-signal.SIGTERM), 1: Failure(-signal.SIGKILL)}
    text = failure_message(failures, str(tmp_path / "none"), " --nproc 2")
    assert text.startswith("rank 1 was killed by SIGKILL")
    assert "has no complete checkpoint" in text
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
