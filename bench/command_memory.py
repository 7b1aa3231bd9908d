"""How much memory does a whole ``vaekit`` command take, as a user sees it (the process's peak
resident set, reading, training, pictures and the end-of-run evaluation included)?

    python -m bench.command_memory [--epochs 10] [--mnist ../shared/data/mnist]

Runs ``vaekit train`` on MNIST (784-400-20, batch 128) and then ``vaekit evaluate --k 100`` on
the run, each in a fresh process, and prints each command's peak RSS (``os.wait4``'s
``ru_maxrss``) and wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import script_parser


def peak_of(command: list[str]) -> tuple[float, float, int]:
    """Return ``(peak RSS in MiB, seconds, exit code)`` of running ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss / 1024, time.perf_counter() - started, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mnist", default="../shared/data/mnist")
    args = parser.parse_args()
    vaekit = str(Path(sys.executable).with_name("vaekit"))
    with tempfile.TemporaryDirectory() as folder:
        run = str(Path(folder) / "run")
        commands = {
            "train": [vaekit, "train", "--data", "mnist", "--data-dir", args.mnist, "--encoder", "400", "--latent", "20",
                      "--binarize", "dynamic", "--batch-size", "128", "--epochs", str(args.epochs), "--out", run, "-q"],
            "evaluate": [vaekit, "evaluate", run, "--k", "100", "-q"],
        }  # fmt: skip
        print("| command | peak RSS MiB | wall s |\n| --- | --- | --- |")
        for name, command in commands.items():
            peak, seconds, code = peak_of(command)
            if code:
                raise SystemExit(f"{name} failed with exit code {code}")
            print(f"| vaekit {name} | {peak:.0f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
