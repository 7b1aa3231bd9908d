"""``vaekit train|resume|evaluate --nproc N``: the same command in N processes, through torchrun.

The launcher runs ``torch.distributed.run`` (torchrun's own code) in this process with the
command line it was given; each worker parses the same arguments, sees torchrun's environment,
and ignores the launch options. When a worker fails, torchrun stops the others and this process
says which rank failed, how, and what is left of the run. A worker's user error or interrupt
comes back to this process (:func:`tell_launcher`), which prints it once for the whole job.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from vaekit.runtime.errors import ConfigError
from vaekit.runtime.worker_process import first_to_say, launched_by_torchrun, run_as_worker

#: torchrun's default seconds to wait for every node to join the rendezvous
DEFAULT_RDZV_TIMEOUT_S = 120
#: the folder where the workers of ``--nproc`` leave their one-line messages for the launcher
MESSAGES_ENV = "VAEKIT_LAUNCH_MESSAGES"
#: the commands that run in several processes (``--nproc N``, or torchrun itself)
DISTRIBUTED_COMMANDS = ("train", "resume", "evaluate", "score")
#: the launch options that mean nothing without ``--nproc``
_WITH_NPROC_ONLY = ("nnodes", "rdzv_endpoint", "rdzv_id", "rdzv_timeout")


def use_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    """Make torch compute on ``value`` threads in this process (and in each worker that
    ``--nproc`` starts); None leaves torch's default, one per core (``OMP_NUM_THREADS`` if set)."""
    if value is None:
        return
    if value < 1:
        raise click.BadParameter(f"must be at least 1, got {value}", ctx, param)
    # Read by torch as it is imported, and by each worker --nproc starts; torch may be loaded already.
    os.environ["OMP_NUM_THREADS"] = str(value)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(value)


def launch_options(command: Any) -> Any:
    """Add the options that say how a command uses this machine's processors (``--threads``) and
    the launch options (``--nproc``, ``--nnodes``, ``--rdzv-endpoint``, ``--rdzv-id``,
    ``--rdzv-timeout``) to a click command."""
    options = [
        click.option(
            "--threads", type=int, default=None, expose_value=False, callback=use_threads,
            help="Threads torch computes on, per process (default: one per core). 1 is often as fast for a "
            "small model, and faster when other work keeps the cores busy.",
        ),
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
    not already one of torchrun's workers. Raise ``ConfigError`` for ``--nnodes`` or another
    rendezvous option given without ``--nproc``, which would otherwise be ignored."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return False
    if nproc is None:
        given = _given_launch_options()
        if given:
            verb, pronoun = ("takes", "it") if len(given) == 1 else ("take", "them")
            raise ConfigError(
                f"{' and '.join(given)} {verb} effect only with --nproc N (the processes per machine); "
                f"add --nproc, or leave {pronoun} out to run in one process"
            )
        return False
    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    return True


def _given_launch_options() -> list[str]:
    """Return the launch options other than ``--nproc`` given on the command line of the click
    command now running, as flags (none outside click)."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    return [
        f"--{name.replace('_', '-')}"
        for name in _WITH_NPROC_ONLY
        if name in ctx.params and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]


def check_processes(nproc: int, nnodes: int, device: str | None, batch_size: int | None) -> None:
    """Refuse, before any process starts, ``nproc`` processes this machine cannot give each a
    CPU core (on a CPU run; ``device`` None: the run's own, a CPU one unless CUDA is here) or a
    GPU (on a CUDA run), and a global ``batch_size`` smaller than the ``nproc * nnodes``
    processes it is split over; return nothing."""
    import torch

    cores = os.cpu_count() or 1
    on_cuda = torch.cuda.is_available() and (device is None or device == "auto" or device.startswith("cuda"))
    if not on_cuda and nproc > cores:
        # Processes that share a core slow each other down (docs/distributed.md).
        raise ConfigError(
            f"--nproc {nproc} is more processes than this machine's {cores} CPU cores (os.cpu_count()); "
            f"use --nproc {cores} or fewer"
        )
    if on_cuda and device in ("auto", "cuda") and nproc > torch.cuda.device_count():  # rank r takes cuda:r
        gpus = torch.cuda.device_count()
        raise ConfigError(
            f"--nproc {nproc} needs {nproc} GPUs (one per process) and this machine has {gpus}; "
            f"use --nproc {gpus} or fewer, or --device cpu"
        )
    processes = nproc * nnodes
    if batch_size is not None and batch_size < processes:
        raise ConfigError(
            f"a batch of {batch_size} example(s) cannot be split over {processes} processes (--batch-size is the "
            f"global batch); choose a --batch-size of at least {processes}, or train in fewer processes"
        )


def tell_launcher(line: str, code: int, *, fault: bool = False) -> bool:
    """In a worker that ``vaekit ... --nproc`` started, leave ``line`` (a user error or an
    interrupt, after which the worker exits with ``code``; ``fault``: a lost peer, not the
    user's input) for the launcher, which prints one such line for the whole job instead of one
    per process. Return True if it was left, False elsewhere (the caller prints it)."""
    folder = os.environ.get(MESSAGES_ENV)
    if not folder or not launched_by_torchrun():
        return False
    try:
        Path(folder, f"rank-{int(os.environ['RANK'])}.json").write_text(
            json.dumps({"line": line, "code": code, "fault": fault})
        )
    except (OSError, ValueError):
        return False
    return True


def _told(folder: str) -> dict[int, dict[str, Any]]:
    """Return the messages the workers left in ``folder`` (:func:`tell_launcher`), by rank."""
    told: dict[int, dict[str, Any]] = {}
    for path in Path(folder).glob("rank-*.json"):
        try:
            told[int(path.stem.split("-", 1)[1])] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return told


class Group(click.Group):
    """The ``vaekit`` command group: called as a program under torchrun (a worker, however it
    was started: ``-m vaekit``, a plugin script calling ``main()``, ``python -c``), it runs as
    :func:`run_command_as_worker` and ends as :func:`~vaekit.runtime.worker_process.run_as_worker`
    does; anywhere else, as click's group."""

    def main(self, args: Any = None, *rest: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command line (``args``, else the process's arguments); as the program of a
        torchrun worker (no ``args`` given, standalone) never returns (see the class)."""
        if args is None and standalone_mode and launched_by_torchrun():
            # A plugin script's worker ends here too: the interpreter's teardown with torch's
            # gloo threads alive can abort a worker whose training succeeded.
            run_as_worker(lambda: run_command_as_worker(self, None, *rest, **kwargs))
        return super().main(args, *rest, standalone_mode=standalone_mode, **kwargs)


def run_command_as_worker(group: click.Command, *args: Any, **kwargs: Any) -> None:
    """Run the command line ``group`` as click's standalone mode does (its usage errors and
    aborts printed, then ``SystemExit`` with click's code), except that a message that another
    worker of this machine's torchrun job already printed is not printed again."""
    try:
        code = group.main(*args, standalone_mode=False, **kwargs)
    except click.ClickException as exc:
        text = io.StringIO()
        exc.show(file=text)
        if first_to_say(text.getvalue()):
            sys.stderr.write(text.getvalue())
        sys.exit(exc.exit_code)
    except click.Abort:
        if first_to_say("Aborted!"):
            click.echo("Aborted!", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def refuse_one_process_command(command: str | None) -> None:
    """Under torchrun, stop a command that runs in one process before it does anything, rather
    than run it (and write its output) once per process: rank 0 says so and exits 2, the other
    ranks exit 0 at once, so the message comes once. Return (nothing) elsewhere."""
    if command is None or command in DISTRIBUTED_COMMANDS or not launched_by_torchrun():
        return
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(
            f"error: vaekit {command} runs in one process, not under torchrun (only "
            f"{', '.join(DISTRIBUTED_COMMANDS[:-1])} and {DISTRIBUTED_COMMANDS[-1]} run in several: "
            f"docs/distributed.md); run `vaekit {command} ...` without torchrun",
            err=True,
        )
        sys.exit(2)
    sys.exit(0)


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


def worker_entry() -> list[str]:
    """Return how torchrun starts each worker, the way this process was started, so that a
    worker imports what this process imported before calling vaekit (plugins registering
    pieces, docs/extending.md): ``[script.py]`` for ``python script.py``, ``["--no-python",
    python, "-u", "-c", code]`` for ``python -c code``, and ``["-m", "vaekit"]`` for the
    ``vaekit`` command, ``python -m ...`` or anything else."""
    # Under -m, argv[0] is the module's own file: vaekit's entry point, or a tool such as pytest.
    if getattr(sys.modules.get("__main__"), "__spec__", None) is not None:
        return ["-m", "vaekit"]
    script = sys.argv[0] if sys.argv else ""
    if script == "-c":
        original = getattr(sys, "orig_argv", [])
        if "-c" in original[1:-1]:
            code = original[original.index("-c", 1) + 1]
            return ["--no-python", sys.executable, "-u", "-c", code]
    elif script.endswith(".py") and Path(script).is_file():
        return [str(Path(script).resolve())]
    return ["-m", "vaekit"]


def torchrun_arguments(
    nproc: int, nnodes: int, rdzv_endpoint: str | None, rdzv_id: str, rdzv_timeout: int
) -> list[str]:
    """Return torchrun's command line for ``nproc`` processes per machine on ``nnodes``
    machines, ending in how each worker starts (:func:`worker_entry`: ``-m vaekit`` from the
    ``vaekit`` command); raise ``ConfigError`` for a rendezvous that cannot work."""
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
        *worker_entry(),
    ]


def launch(
    nproc: int,
    *,
    nnodes: int = 1,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "vaekit",
    rdzv_timeout: int = DEFAULT_RDZV_TIMEOUT_S,
    run_dir: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
) -> None:
    """Run this process's command line in ``nproc`` workers per machine through torchrun and
    return when all have finished. Raise ``ConfigError`` before starting any for what
    :func:`check_processes` refuses (``device``, the global ``batch_size``), and
    ``click.exceptions.Exit`` after one message when a worker fails or the job is stopped by a
    signal (:func:`failure_report`, :func:`interrupt_message`)."""
    args = torchrun_arguments(nproc, nnodes, rdzv_endpoint, rdzv_id, rdzv_timeout)
    check_processes(nproc, nnodes, device, batch_size)
    from vaekit.runtime.worker_process import stacks_on_fatal_signal

    stacks_on_fatal_signal()  # the launcher holds the rendezvous store's threads
    # One thread per process unless asked otherwise: N processes each using every core slow down.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ.setdefault("LOGLEVEL", "CRITICAL")  # torchrun's own log; this launcher reports failures
    import logging

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as torchrun

    from vaekit.runtime.distributed import LAUNCH_FLAGS_ENV, launch_flags

    parsed = get_args_parser().parse_args(args)
    # Set, not parsed: torchrun's parser would take vaekit options for abbreviations of its own.
    parsed.training_script_args = [*parsed.training_script_args, *sys.argv[1:]]
    flags = launch_flags(nproc, nnodes, rdzv_endpoint)
    # torchrun turns these signals into SignalException while it runs; they are ours again after.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    messages = tempfile.mkdtemp(prefix="vaekit-launch-")
    os.environ[MESSAGES_ENV] = messages
    # A worker's own advice to resume (Ctrl+C, --time-limit) then names the same processes.
    os.environ[LAUNCH_FLAGS_ENV] = flags
    try:
        torchrun(parsed)
    except ChildFailedError as exc:
        code, lines = failure_report(exc.failures, _told(messages), run_dir, flags)
        for line in lines:
            click.echo(line, err=True)
        raise click.exceptions.Exit(code) from None
    except SignalException as exc:
        # torchrun has passed the signal on to the workers and waited for them to end
        click.echo(interrupt_message(exc.sigval, _told(messages), run_dir, flags), err=True)
        raise click.exceptions.Exit(128 + int(exc.sigval)) from None
    except RendezvousError as exc:
        click.echo(
            f"error: not all {nnodes} machines joined at {args[3].split('=', 1)[1]} within {rdzv_timeout} s "
            f"({type(exc).__name__}{': ' + str(exc) if str(exc) else ''}); start the same command on each machine "
            "within --rdzv-timeout seconds, with an --rdzv-endpoint every machine can reach",
            err=True,
        )
        raise click.exceptions.Exit(1) from None
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        os.environ.pop(MESSAGES_ENV, None)
        os.environ.pop(LAUNCH_FLAGS_ENV, None)
        shutil.rmtree(messages, ignore_errors=True)


def failure_report(
    failures: dict[int, Any], told: dict[int, dict[str, Any]], run_dir: str | None, resume_flags: str
) -> tuple[int, list[str]]:
    """Return the exit code and the lines to print for a job whose workers failed
    (``failures``, by rank) after leaving the messages ``told`` (:func:`tell_launcher`). A user
    error or interrupt is printed once, as the lowest rank that met it gave it, with its exit
    code and nothing added: the message says what happened to the run. Otherwise exit code 1 and
    the cause: a rank that waited past the timeout (its lost-contact line, then the ranks that
    stopped answering, :func:`hung_message`); else a rank that died or exited without a word
    (:func:`failure_message`), whose peers' lost contact follows from it; else the lowest rank's
    lost-contact line and :func:`failure_message`."""
    users = {rank: message for rank, message in told.items() if not message.get("fault")}
    if users:
        first = users[min(users)]
        return int(first["code"]), [str(first["line"])]
    waited = {rank: message for rank, message in told.items() if _timed_out(str(message["line"]))}
    if waited:
        return 1, [str(waited[min(waited)]["line"]), f"error: {hung_message(failures, told, run_dir, resume_flags)}"]
    silent = {rank: f for rank, f in failures.items() if rank not in told and f.exitcode != -signal.SIGTERM}
    if silent:
        return 1, [f"error: {failure_message(silent, run_dir, resume_flags)}"]
    lines = [str(told[min(told)]["line"])] if told else []
    return 1, [*lines, f"error: {failure_message(failures, run_dir, resume_flags)}"]


def _timed_out(line: str) -> bool:
    """Return whether a worker's lost-contact ``line`` blames a peer that did not answer within
    the timeout (rather than one whose connection closed)."""
    from vaekit.runtime.distributed import NO_ANSWER

    return NO_ANSWER in line


def hung_message(
    failures: dict[int, Any], told: dict[int, dict[str, Any]], run_dir: str | None, resume_flags: str
) -> str:
    """Return the line for a job whose ranks (``told``) waited past the timeout: the ranks that
    said nothing and outlived torchrun's SIGTERM, so were stopped (SIGSTOP, a debugger) rather
    than busy, as having stopped answering, or :func:`failure_message` when there are none;
    with what is left of ``run_dir``."""
    hung = sorted(rank for rank, f in failures.items() if rank not in told and f.exitcode == -signal.SIGKILL)
    if not hung:
        return failure_message(failures, run_dir, resume_flags)
    waited = min(rank for rank, message in told.items() if _timed_out(str(message["line"])))
    ranks, them = (f"rank {hung[0]}", "it") if len(hung) == 1 else (f"ranks {', '.join(map(str, hung))}", "them")
    text = f"{ranks} stopped answering; torchrun ended {them} with SIGKILL after rank {waited} gave up"
    return _with_account(text, run_dir, resume_flags)


def interrupt_message(signum: int, told: dict[int, dict[str, Any]], run_dir: str | None, resume_flags: str) -> str:
    """Return the one line for a job stopped by signal ``signum``: rank 0's own (what one
    process says on Ctrl+C, its resume command with the launch's process options) when it left
    one, else the signal and what is left of ``run_dir``."""
    if 0 in told and told[0].get("code") == 130:
        return str(told[0]["line"])
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    account = _checkpoint_account(run_dir, resume_flags)
    return f"{what}; {account}" if account else what


def _blame_order(exitcode: int) -> int:
    """Rank a failure as a likely cause: torchrun stops the other workers with SIGTERM, and a
    worker that lost its peers exits with an error after the cause, so a death by another
    signal comes first, then an exit code, then SIGTERM."""
    if exitcode == -signal.SIGTERM:
        return 2
    return 0 if exitcode < 0 else 1


def _checkpoint_account(run_dir: str | None, resume_flags: str) -> str | None:
    """Return what is left of ``run_dir`` after a stopped job: its last complete checkpoint and
    the command (with ``resume_flags``) that continues it, or that a folder with files has none;
    None when there is no run folder to speak of."""
    if run_dir is None or not Path(run_dir).is_dir():
        return None
    from vaekit.training.checkpoint import checkpoint_epoch

    epoch = checkpoint_epoch(Path(run_dir))
    if epoch is not None:
        return (
            f"the last complete checkpoint of {run_dir} (epoch {epoch}) is intact: "
            f"`vaekit resume {run_dir}{resume_flags}` continues it"
        )
    if not any(Path(run_dir).iterdir()):
        return None
    return f"{run_dir} has no complete checkpoint: start it again with `vaekit train --force`"


def failure_message(failures: dict[int, Any], run_dir: str | None, resume_flags: str) -> str:
    """Return one line saying which ranks failed and how (exit code or signal), and what is
    left of ``run_dir`` (:func:`_checkpoint_account`)."""
    rank, failure = min(failures.items(), key=lambda item: (_blame_order(item[1].exitcode), item[0]))
    code = failure.exitcode
    how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with code {code}"
    return _with_account(f"rank {rank} {how}; torchrun stopped the other processes", run_dir, resume_flags)


def _with_account(text: str, run_dir: str | None, resume_flags: str) -> str:
    """Return ``text`` followed by what is left of ``run_dir`` (:func:`_checkpoint_account`) as
    a sentence of its own, or ``text`` alone when there is nothing to say of it."""
    account = _checkpoint_account(run_dir, resume_flags)
    if account is None:
        return text
    return f"{text}. {account[:1].upper()}{account[1:]}" if account.startswith("the ") else f"{text}. {account}"
