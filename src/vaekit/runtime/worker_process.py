"""How a process that torchrun started as one of a job's workers runs the ``vaekit`` command
and ends.

Kept free of torch so that ``python -m vaekit`` can ask before anything heavy is imported.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def launched_by_torchrun() -> bool:
    """True when the environment holds torchrun's worker variables for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def run_as_worker(command: Callable[[], object]) -> NoReturn:
    """Run ``command`` (the click command line) and end the process with its exit code, without
    the interpreter's teardown where it succeeded; never returns.

    A worker has left its process group and written everything by the time the command returns,
    and what is left to tear down is torch's C++ state: a gloo thread that touches Python objects
    while the interpreter finalises can abort the process ("terminate called without an active
    exception"), which torchrun would report as a failed rank after a training that succeeded.
    Ending with ``os._exit`` after flushing the output leaves that teardown out. A command that
    failed exits as usual instead: a rank that left at once would have torchrun stop its peers
    before they had cleaned up (a new run's folder removed, say). A fatal signal in a worker
    prints every thread's Python stack (``faulthandler``), so such a crash says where it was.
    """
    stacks_on_fatal_signal()
    try:
        command()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    if code != 0:
        sys.exit(code)
    os._exit(0)


def stacks_on_fatal_signal() -> None:
    """Have a fatal signal (SIGSEGV, SIGABRT, ...) print every thread's Python stack to stderr
    (``faulthandler``) from now on; returns nothing. A process of a distributed job that holds
    torch's C++ threads (a worker, or the launcher with the rendezvous store) then says where it
    crashed."""
    if not faulthandler.is_enabled():
        faulthandler.enable()


def _exit_code(code: object) -> int:
    """The process exit status ``sys.exit(code)`` would give: None is 0, an int is itself, any
    other value is printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def first_to_say(line: str) -> bool:
    """Return False when another worker of this machine's torchrun job (this attempt) has
    already printed ``line``, else True (and mark it said): plain ``torchrun`` runs every rank
    on the same input, so one user error would otherwise print once per process. Outside
    torchrun, or when torchrun keeps no log folder, always True."""
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not launched_by_torchrun() or not error_file:
        return True
    # torchrun gives each local worker <attempt folder>/<local rank>/error.json; the attempt
    # folder is shared by this machine's workers and by no later attempt of the job.
    attempt = os.path.dirname(os.path.dirname(error_file))
    mark = os.path.join(attempt, f"vaekit-said-{hashlib.sha256(line.encode()).hexdigest()[:16]}")
    try:
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True  # a folder we cannot write in: better twice than not at all
    return True
