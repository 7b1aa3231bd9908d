"""The process group of a distributed run: joining it, who this process is, and the few
collectives the rest of vaekit needs.

A run is distributed when it is started by ``torchrun`` (or ``vaekit train --nproc N``, which
launches torchrun): torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous
address in each worker's environment, and :func:`join` turns them into a ``torch.distributed``
process group (gloo on the CPU, NCCL on CUDA). Without them :func:`world` is one process of
rank 0 and every collective here is the identity, so single-process code calls them freely.

Every collective carries a timeout (``VAEKIT_DIST_TIMEOUT`` seconds, default
:data:`DEFAULT_TIMEOUT_S`) so that a peer that stops answering ends the job with an error
instead of a hang; a peer that dies outright is noticed sooner by torchrun, which stops the rest.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.runtime.errors import ConfigError, DistributedError
from vaekit.runtime.worker_process import launched_by_torchrun

#: seconds a collective waits for every rank before the job stops with an error
DEFAULT_TIMEOUT_S = 300.0
TIMEOUT_ENV = "VAEKIT_DIST_TIMEOUT"
#: the process options (``" --nproc 2"``) that ``vaekit ... --nproc`` started its workers with,
#: which a worker adds to the resume command it advises
LAUNCH_FLAGS_ENV = "VAEKIT_LAUNCH_FLAGS"
#: the words of a lost-contact line (:func:`_collective`) that blame a peer for not answering in time
NO_ANSWER = f"another process did not answer within {TIMEOUT_ENV}="
#: how torch's backends word a collective that waited past its timeout
_TIMED_OUT = re.compile(r"timed out|timeout", re.IGNORECASE)
#: how they word a peer's connection that closed: the peer ended (killed, crashed, or left)
_CLOSED = re.compile(r"connection (reset|closed|refused)|broken pipe|end of file|\bEOF\b|socket closed", re.IGNORECASE)


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` of ``size`` processes (``local_rank`` on its
    machine). One process of rank 0 when the job is not distributed."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.size > 1

    @property
    def writer(self) -> bool:
        """True for the one process that writes the run folder and prints (rank 0)."""
        return self.rank == 0


_world = World()


def world() -> World:
    """Return this process's :class:`World` (set by :func:`join`; one process before it)."""
    return _world


def timeout_s() -> float:
    """Return the collectives' timeout in seconds (``VAEKIT_DIST_TIMEOUT``, else the default)."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return value


def backend_for(device: torch.device) -> str:
    """Return the process-group backend for a run on ``device``: NCCL for CUDA, else gloo."""
    return "nccl" if device.type == "cuda" else "gloo"


def device_for_rank(requested: str) -> str:
    """Return the device string a rank trains on: ``cuda`` becomes ``cuda:LOCAL_RANK`` (one GPU
    per process, as torchrun's ``--nproc-per-node`` counts them); anything else is kept."""
    if requested in ("cuda", "auto") and torch.cuda.is_available() and launched_by_torchrun():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return requested


@contextlib.contextmanager
def joined(device: torch.device) -> Iterator[World]:
    """Join torchrun's process group for the body (nothing to join outside torchrun) and leave
    it afterwards; yield this process's :class:`World`."""
    global _world
    if not launched_by_torchrun() or torch.distributed.is_initialized():
        yield _world
        return
    import torch.distributed as dist

    backend = backend_for(device)
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s()))
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"could not join the distributed job ({exc}); start it with `torchrun` or `vaekit train --nproc N`"
        ) from None
    _world = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    try:
        yield _world
        # Every rank reaches the end before any closes its connections: a rank torn down while a
        # peer's gloo threads still talk to it can abort that peer at exit.
        with contextlib.suppress(Exception):
            dist.barrier()
    finally:
        _world = World()
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


@contextlib.contextmanager
def _collective(what: str) -> Iterator[None]:
    """Turn a failed collective (a peer that died, hung past the timeout or left) into one
    ``DistributedError`` line instead of torch's traceback (:func:`lost_contact`)."""
    try:
        yield
    except RuntimeError as exc:
        raise DistributedError(lost_contact(what, exc)) from None


def lost_contact(what: str, exc: BaseException) -> str:
    """Return the line for a collective (``what``) that failed with ``exc``: torch's words, then
    the likely cause, a peer that did not answer within the timeout only when the backend says it
    timed out, a peer that stopped when its connection closed, else either."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # gloo prefixes its source location and appends advice; the middle says what happened
    said = re.sub(r"^\[[^\]]*\]\s*", "", text).split(". This is typically")[0]
    if _TIMED_OUT.search(said):
        cause = f"{NO_ANSWER}{timeout_s():g} s"
    elif _CLOSED.search(said):
        cause = "another process stopped, which closed its connection"
    else:
        cause = f"another process stopped, or did not answer within {TIMEOUT_ENV}={timeout_s():g} s"
    return f"rank {_world.rank} lost contact with the other processes during {what} ({said}); {cause}"


def launch_flags(nproc: int, nnodes: int, rdzv_endpoint: str | None) -> str:
    """Return the options, each after a space, that start a command in the processes of a
    launch of ``nproc`` per machine on ``nnodes`` machines meeting at ``rdzv_endpoint``:
    ``" --nproc 2"``, with ``--nnodes`` and ``--rdzv-endpoint`` for several machines."""
    flags = f" --nproc {nproc}"
    return flags + (f" --nnodes {nnodes} --rdzv-endpoint {rdzv_endpoint}" if nnodes > 1 else "")


def resume_command(run_dir: object, options: str = "") -> str:
    """Return the command, in backticks, that continues ``run_dir`` (with ``options``, e.g.
    ``" --epochs N"``) in the processes this one trains among, so bit for bit: ``vaekit resume
    RUN`` in one process, with the launch's process options (:func:`launch_flags`) under
    ``vaekit ... --nproc``, and through torchrun with its process counts under a ``torchrun``
    started by hand."""
    if not launched_by_torchrun():
        return f"`vaekit resume {run_dir}{options}`"
    flags = os.environ.get(LAUNCH_FLAGS_ENV)
    if flags is not None:
        return f"`vaekit resume {run_dir}{options}{flags}`"
    size = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    nodes = max(1, size // max(1, local))
    if nodes == 1:
        return f"`torchrun --nproc-per-node {local} -m vaekit resume {run_dir}{options}`"
    # The rendezvous address is torchrun's own option, which its workers are not told.
    return (
        f"`torchrun --nproc-per-node {local} --nnodes {nodes} ... -m vaekit resume {run_dir}{options}` "
        "on each machine (with this run's rendezvous options)"
    )


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over every rank, in place; return it (unchanged in one process)."""
    if _world.distributed:
        with _collective("a sum over the processes"):
            torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
    return tensor


def all_gather_objects(value: Any) -> list[Any]:
    """Return every rank's ``value`` (picklable), in rank order (``[value]`` in one process)."""
    if not _world.distributed:
        return [value]
    gathered: list[Any] = [None] * _world.size
    with _collective("an exchange between the processes"):
        torch.distributed.all_gather_object(gathered, value)
    return gathered


def barrier() -> None:
    """Wait until every rank gets here (nothing in one process)."""
    if _world.distributed:
        with _collective("a wait for every process"):
            torch.distributed.barrier()


def check_same_everywhere(what: str, value: dict[str, Any], fix: str) -> None:
    """Raise ``ConfigError`` on every rank when ``value`` (e.g. the run's config as a dict) is
    not the same on all ranks, naming the ranks and the settings that differ from rank 0's, and
    ``fix``."""
    values = all_gather_objects(_flat(value))
    differing = {rank: v for rank, v in enumerate(values) if v != values[0]}
    if differing:
        keys = sorted({k for v in differing.values() for k in set(v) ^ set(values[0]) | {
            k for k in v if k in values[0] and v[k] != values[0][k]}})  # fmt: skip
        ranks = ", ".join(str(r) for r in differing)
        raise ConfigError(f"{what} differs between ranks (rank {ranks} against rank 0, in {', '.join(keys)}); {fix}")


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): json.dumps(value, sort_keys=True, default=str)}


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Return the rows ``[start, stop)`` of ``n`` that ``rank`` of ``size`` takes: contiguous,
    in rank order, sizes differing by at most one."""
    return n * rank // size, n * (rank + 1) // size


def writer_process() -> bool:
    """True unless this process is a rank other than 0 of a job torchrun started (read from the
    environment, so it holds before the process group is joined and after it is left)."""
    return not launched_by_torchrun() or int(os.environ.get("RANK", "0")) == 0
