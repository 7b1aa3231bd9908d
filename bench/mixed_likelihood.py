"""Speed of the table likelihood (`MixedLikelihood`): its forward pass and forward+backward pass
at a training batch of real tables, by thread count, in milliseconds per call.

Each table is read as training reads it (`vaekit.data.load_data`, its codec's blocks); the
likelihood scores the first `--batch` rows against fixed random decoder outputs (float32, CPU):
forward is `log_prob` under `torch.no_grad()`, forward+backward is `log_prob(...).sum()` and
`backward()` into the decoder outputs, log sigma and log dispersion. Every figure is the median
of `--rounds` rounds. The tables: randhie.csv (20,190 rows, 45 columns, 68 blocks: 25 gaussian,
23 bernoulli, 4 negbin, 17 categorical of 3-18 levels) and penguins.csv (344 rows, 14 blocks),
from ../shared/data/tables (`--data-dir`).

With `--against TREE` (another source tree, e.g. `git worktree add ../old HEAD~1`) the same
cases run with that tree's vaekit too, each tree in its own worker process, the trees taking
turns round by round; the table shows both and the ratio this / other.

    python -m bench.mixed_likelihood [--tables randhie,penguins] [--threads 1,2] [--against ../old]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, csv_choices, script_parser

TABLES = ("randhie", "penguins")
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data" / "tables"


def cases(args: argparse.Namespace) -> dict[str, object]:
    """Return the timed calls by case name ("TABLE threads=N forward" and "... forward+backward")."""
    import torch

    from vaekit.data import load_data
    from vaekit.data.tables import TableCodec
    from vaekit.distributions.likelihoods.mixed import MixedLikelihood

    found = {}
    for table in args.tables:
        bundle = load_data(str(args.data_dir / f"{table}.csv"), test_fraction=0.0)
        codec = TableCodec.from_dict(bundle.table)
        likelihood = MixedLikelihood(codec.width, codec.blocks)
        x = bundle.train[: args.batch]
        params = torch.randn(len(x), likelihood.num_params, generator=torch.Generator().manual_seed(0))
        params.requires_grad_(True)

        def forward(
            likelihood: MixedLikelihood = likelihood, x: torch.Tensor = x, params: torch.Tensor = params
        ) -> None:
            with torch.no_grad():
                likelihood.log_prob(x, params)

        def both(likelihood: MixedLikelihood = likelihood, x: torch.Tensor = x, params: torch.Tensor = params) -> None:
            likelihood.log_prob(x, params).sum().backward()
            params.grad = None
            for parameter in likelihood.parameters():
                parameter.grad = None

        for threads in args.threads:
            found[f"{table} threads={threads} forward"] = (threads, forward)
            found[f"{table} threads={threads} forward+backward"] = (threads, both)
    return found


def one_round(timed: dict[str, object], reps: int) -> dict[str, float]:
    """Return the mean milliseconds per call of each case over ``reps`` calls (after a warm-up)."""
    import torch

    result = {}
    for name, (threads, fn) in timed.items():
        torch.set_num_threads(threads)
        for _ in range(5):
            fn()
        started = time.perf_counter()
        for _ in range(reps):
            fn()
        result[name] = (time.perf_counter() - started) / reps * 1e3
    return result


def worker(args: argparse.Namespace) -> None:
    """Answer "run" lines with one round of every case (a JSON line), until "quit"."""
    import vaekit

    timed = cases(args)
    print(json.dumps({"ready": str(Path(vaekit.__file__).resolve())}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        print(json.dumps(one_round(timed, args.reps)), flush=True)


def start_worker(tree: Path, args: argparse.Namespace) -> subprocess.Popen:
    """Start a worker importing ``tree``'s vaekit (and this tree's bench/)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree / "src"), str(ROOT)]))
    cmd = [
        sys.executable,
        "-m",
        "bench.mixed_likelihood",
        "--worker",
        "--tables",
        ",".join(args.tables),
        "--threads",
        ",".join(map(str, args.threads)),
        "--batch",
        str(args.batch),
        "--reps",
        str(args.reps),
        "--data-dir",
        str(args.data_dir),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    hello = json.loads(proc.stdout.readline() or "{}")
    if not str(hello.get("ready", "")).startswith(str(tree / "src")):
        sys.exit(f"the worker of {tree} imported vaekit from {hello.get('ready')}, not from {tree / 'src'}")
    return proc


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--tables", type=csv_choices(TABLES), default=list(TABLES))
    parser.add_argument("--threads", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    parser.add_argument("--batch", type=int, default=500, help="rows per call (default 500, the table default)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=40, help="calls per case per round")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--against", type=Path, help="another source tree to compare with")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    from bench.common import machine_line

    trees = {"this": ROOT} if args.against is None else {"other": args.against.resolve(), "this": ROOT}
    workers = {side: start_worker(tree, args) for side, tree in trees.items()}
    times: dict[str, dict[str, list[float]]] = {side: {} for side in workers}
    try:
        for round_ in range(args.rounds):
            for side in list(workers) if round_ % 2 == 0 else list(workers)[::-1]:
                workers[side].stdin.write("run\n")
                workers[side].stdin.flush()
                for name, ms in json.loads(workers[side].stdout.readline()).items():
                    times[side].setdefault(name, []).append(ms)
    finally:
        for proc in workers.values():
            proc.stdin.write("quit\n")
            proc.stdin.close()
            proc.wait(timeout=30)
    print(f"{machine_line(max(args.threads))} (max); batch {args.batch}; median of {args.rounds} rounds\n")
    if args.against is None:
        print("| case | ms per call |\n| --- | --- |")
        for name, values in times["this"].items():
            print(f"| {name} | {statistics.median(values):.3f} |")
        return
    print(f"other: {trees['other']}\n")
    print("| case | other ms | this ms | this / other |\n| --- | --- | --- | --- |")
    for name, values in times["this"].items():
        other, this = statistics.median(times["other"][name]), statistics.median(values)
        print(f"| {name} | {other:.3f} | {this:.3f} | {this / other:.2f} |")


if __name__ == "__main__":
    main()
