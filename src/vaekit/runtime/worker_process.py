"""How a process that torchrun started as one of a job's workers runs the ``vaekit`` command
and ends.

Kept free of torch so that ``python -m vaekit`` can ask before anything heavy is imported.
"""

from __future__ import annotations

import faulthandler
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
