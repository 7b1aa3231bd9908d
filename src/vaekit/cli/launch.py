"""``vaekit train|resume|evaluate --nproc N``: the same command in N processes, through torchrun.

The launcher runs ``torch.distributed.run`` (torchrun's own code) in this process with the
command line it was given; each worker parses the same arguments, sees torchrun's environment,
and ignores the launch options. When a worker fails, torchrun stops the others and this process
says which rank failed, how, and what is left of the run.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from vaekit.runtime.errors import ConfigError

#: torchrun's default seconds to wait for every node to join the rendezvous
DEFAULT_RDZV_TIMEOUT_S = 120


def launch_options(command: Any) -> Any:
    """Add the launch options (``--nproc``, ``--nnodes``, ``--rdzv-endpoint``, ``--rdzv-id``,
    ``--rdzv-timeout``) to a click command."""
    options = [
        click.option(
            "--nproc", type=int, default=None,
            help="Run in N processes on this machine through torchrun (DistributedDataParallel-style: training's "
            "batch is the global batch, split over all processes). See docs/distributed.md.",
        ),
        click.option("--nnodes", type=int, default=1, show_default=True, help="Machines taking part (with --nproc)."),
        click.option(
            "--rdzv-endpoint", default=None, metavar="HOST:PORT",
            help="Where the machines meet (with --nnodes > 1): one machine's address and a free port.",
        ),
        click.option("--rdzv-id", default="vaekit", show_default=True, help="Job name all machines share."),
        click.option(
            "--rdzv-timeout", type=int, default=DEFAULT_RDZV_TIMEOUT_S, show_default=True,
            help="Seconds to wait for every machine to join.",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def wants_launch(nproc: int | None) -> bool:
    """True when this process should launch workers: ``--nproc`` was given and this process is
    not already one of torchrun's workers."""
    if nproc is None or ("RANK" in os.environ and "WORLD_SIZE" in os.environ):
        return False
    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    return True


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_arguments(
    nproc: int, nnodes: int, rdzv_endpoint: str | None, rdzv_id: str, rdzv_timeout: int
) -> list[str]:
    """Return torchrun's command line up to ``-m vaekit`` for ``nproc`` processes per machine on
    ``nnodes`` machines; raise ``ConfigError`` for a rendezvous that cannot work."""
    if nnodes < 1:
        raise ConfigError(f"--nnodes must be at least 1, got {nnodes}")
    if rdzv_timeout < 1:
        raise ConfigError(f"--rdzv-timeout must be at least 1 second, got {rdzv_timeout}")
    if rdzv_endpoint is None:
        if nnodes > 1:
            raise ConfigError(
                f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT, one machine's address and a free port that "
                "every machine can reach (the same on every machine)"
            )
        rdzv_endpoint = f"127.0.0.1:{_free_port()}"
    host, _, port_text = rdzv_endpoint.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"--rdzv-endpoint must be HOST:PORT (e.g. 10.0.0.1:29400), got {rdzv_endpoint!r}")
    if nnodes == 1 and host in ("127.0.0.1", "localhost") and not _port_free(host, int(port_text)):
        raise ConfigError(
            f"port {port_text} on {host} is in use by another program; choose another --rdzv-endpoint port, "
            "or leave --rdzv-endpoint out and a free port is chosen"
        )
    return [
        f"--nproc-per-node={nproc}",
        f"--nnodes={nnodes}",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={rdzv_endpoint}",
        f"--rdzv-id={rdzv_id}",
        f"--rdzv-conf=join_timeout={rdzv_timeout}",
        "--max-restarts=0",
        "--monitor-interval=0.5",
        "-m",
        "vaekit",
    ]


def launch(
    nproc: int,
    *,
    nnodes: int = 1,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "vaekit",
    rdzv_timeout: int = DEFAULT_RDZV_TIMEOUT_S,
    run_dir: str | None = None,
) -> None:
    """Run this process's command line in ``nproc`` workers per machine through torchrun and
    return when all have finished; raise ``click.exceptions.Exit`` with a non-zero code (after
    one message naming the failed rank and what is left of ``run_dir``) when one fails."""
    args = torchrun_arguments(nproc, nnodes, rdzv_endpoint, rdzv_id, rdzv_timeout)
    from vaekit.runtime.worker_process import stacks_on_fatal_signal

    stacks_on_fatal_signal()  # the launcher holds the rendezvous store's threads
    # One thread per process unless asked otherwise: N processes each using every core slow down.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ.setdefault("LOGLEVEL", "CRITICAL")  # torchrun's own log; this launcher reports failures
    import logging

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as torchrun

    parsed = get_args_parser().parse_args(args)
    # Set, not parsed: torchrun's parser would take vaekit options for abbreviations of its own.
    parsed.training_script_args = sys.argv[1:]
    try:
        torchrun(parsed)
    except ChildFailedError as exc:
        flags = f" --nproc {nproc}" + (f" --nnodes {nnodes} --rdzv-endpoint {rdzv_endpoint}" if nnodes > 1 else "")
        click.echo(f"error: {failure_message(exc.failures, run_dir, flags)}", err=True)
        raise click.exceptions.Exit(1) from None
    except RendezvousError as exc:
        click.echo(
            f"error: not all {nnodes} machines joined at {args[3].split('=', 1)[1]} within {rdzv_timeout} s "
            f"({type(exc).__name__}{': ' + str(exc) if str(exc) else ''}); start the same command on each machine "
            "within --rdzv-timeout seconds, with an --rdzv-endpoint every machine can reach",
            err=True,
        )
        raise click.exceptions.Exit(1) from None


def _blame_order(exitcode: int) -> int:
    """Rank a failure as a likely cause: torchrun stops the other workers with SIGTERM, and a
    worker that lost its peers exits with an error after the cause, so a death by another
    signal comes first, then an exit code, then SIGTERM."""
    import signal

    if exitcode == -signal.SIGTERM:
        return 2
    return 0 if exitcode < 0 else 1


def failure_message(failures: dict[int, Any], run_dir: str | None, resume_flags: str) -> str:
    """Return one line saying which ranks failed and how (exit code or signal), and what is
    left of ``run_dir``: its last complete checkpoint and the command (with ``resume_flags``)
    that continues it."""
    rank, failure = min(failures.items(), key=lambda item: (_blame_order(item[1].exitcode), item[0]))
    code = failure.exitcode
    how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with code {code}"
    text = f"rank {rank} {how}; torchrun stopped the other processes"
    if run_dir is None:
        return text
    from vaekit.training.checkpoint import checkpoint_epoch

    epoch = checkpoint_epoch(Path(run_dir))
    if epoch is None:
        return f"{text}. {run_dir} has no complete checkpoint: start it again with `vaekit train --force`"
    return (
        f"{text}. The last complete checkpoint of {run_dir} (epoch {epoch}) is intact: "
        f"`vaekit resume {run_dir}{resume_flags}` continues it"
    )
