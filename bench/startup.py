"""Start-up time of the command line: `vaekit --help` beside the interpreter and the imports under it.

Each command runs in a fresh process, several rounds in rotated order; the table shows the median
and the fastest wall time of each, in milliseconds, from process start to exit:

  python -c pass            the interpreter alone
  python -c "import vaekit"  the library's import (no torch: it is imported on first use)
  vaekit --help             the console script's help, as a user types it
  python -c "import torch"  what any PyTorch program pays before its first line
  python -c "from pythae.models import VAE"
                            the peer's model import, where pythae is installed (.venv-bench);
                            a bare `import pythae` loads none of it (nor torch)

    python -m bench.startup [--rounds 10]
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, script_parser


def commands() -> dict[str, list[str]]:
    """Return the commands to time, by the name they are shown under."""
    script = Path(sys.executable).with_name("vaekit")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "vaekit.cli"]
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import vaekit"': [sys.executable, "-c", "import vaekit"],
        "vaekit --help": [*cli, "--help"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    if importlib.util.find_spec("pythae") is not None:
        found['python -c "from pythae.models import VAE"'] = [sys.executable, "-c", "from pythae.models import VAE"]
    return found


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    from bench.common import median, processor_name, rotated

    cases = commands()
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # one untimed run each, so every file is in the page cache
        subprocess.run(cases[name], cwd=ROOT, check=True, capture_output=True)
    for round_ in range(args.rounds):
        for name in rotated(names, round_):
            started = time.perf_counter()
            subprocess.run(cases[name], cwd=ROOT, check=True, capture_output=True)
            times[name].append((time.perf_counter() - started) * 1e3)
    import platform

    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {processor_name()}, Python {platform.python_version()}, "
          f"{args.rounds} rounds")
    print("| command | median (ms) | fastest (ms) |")
    print("| --- | --- | --- |")
    for name in names:
        print(f"| `{name}` | {median(times[name]):.0f} | {min(times[name]):.0f} |")


if __name__ == "__main__":
    main()
