"""Does splitting one machine's cores over processes pay? One process with T threads against
P processes with T / P threads each (``vaekit train --nproc P``), on MNIST.

    python -m bench.scaling [--threads 2] [--epochs 3] [--models 784-400-20:128,784-1024-1024-50:512]

Each contestant trains the same run (dynamic binarisation, the fused step) for ``--epochs``
epochs in fresh processes; the table gives the median seconds per epoch after the first (which
holds start-up work), the share of it the processes spent in the per-step ``all_reduce``
(``all_reduce_s`` in metrics.jsonl: the sum itself and waiting for the slower process), the
gradient bytes each step sends, and the speed-up over one process. Rounds alternate the order
of the contestants so a slow spell of the machine does not fall on one of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import script_parser


def parameters(widths: list[int]) -> int:
    """Return the parameter count of an MLP VAE with input ``widths[0]``, hidden ``widths[1:-1]``
    and latent ``widths[-1]`` (encoder, the two heads, the mirrored decoder)."""
    d, hidden, latent = widths[0], widths[1:-1], widths[-1]
    encoder = sum(a * b + b for a, b in zip([d, *hidden[:-1]], hidden, strict=True)) + 2 * (hidden[-1] * latent + latent)
    dec = [latent, *reversed(hidden), d]
    decoder = sum(a * b + b for a, b in zip(dec[:-1], dec[1:], strict=True))
    return encoder + decoder


def train(widths: list[int], batch: int, processes: int, threads: int, epochs: int, mnist: str) -> list[dict]:
    """Train once; return metrics.jsonl's records."""
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        hidden = ",".join(str(w) for w in widths[1:-1])
        command = [str(Path(sys.executable).with_name("vaekit")), "train", "--data", "mnist", "--data-dir", mnist,
                   "--encoder", hidden, "--latent", str(widths[-1]), "--binarize", "dynamic", "--batch-size",
                   str(batch), "--epochs", str(epochs), "--out", str(run), "-q"]  # fmt: skip
        if processes > 1:
            command += ["--nproc", str(processes)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--threads", type=int, default=2, help="cores to use in all")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", default="784-400-20:128,784-1024-1024-50:512", help="WIDTHS:BATCH,...")
    parser.add_argument("--mnist", default="../shared/data/mnist")
    args = parser.parse_args()
    print("| model | batch | processes x threads | s/epoch | all_reduce share | MB per step | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for spec in args.models.split(","):
        text, batch_text = spec.split(":")
        widths, batch = [int(w) for w in text.split("-")], int(batch_text)
        contestants = [(1, args.threads), (args.threads, 1)]
        seconds: dict[tuple[int, int], list[float]] = {c: [] for c in contestants}
        shares: dict[tuple[int, int], list[float]] = {c: [] for c in contestants}
        for round_ in range(args.rounds):
            for processes, threads in contestants[round_ % 2 :] + contestants[: round_ % 2]:
                records = train(widths, batch, processes, threads, args.epochs, args.mnist)[1:]
                seconds[(processes, threads)] += [r["epoch_time_s"] for r in records]
                shares[(processes, threads)] += [r.get("all_reduce_s", 0.0) / r["epoch_time_s"] for r in records]
        base = statistics.median(seconds[contestants[0]])
        megabytes = (parameters(widths) + 3) * 4 / 1e6
        for c in contestants:
            s = statistics.median(seconds[c])
            share = statistics.median(shares[c])
            print(f"| {text} | {batch} | {c[0]} x {c[1]} | {s:.2f} | {share:.0%} | {megabytes if c[0] > 1 else 0:.2f} "
                  f"| {base / s:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
