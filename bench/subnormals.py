"""Epoch times of the classic MNIST VAE with and without flushing float32 subnormals, and why.

Trains `vaekit.train` (784-400-20 ReLU, Bernoulli, batch 128, grey levels, no validation split)
for a few epochs with `flush_denormal=False` and then True, alternating, each in a fresh process
(torch's thread pool inherits the flushing mode when it starts), and prints each epoch's seconds
and, after training, how many of Adam's moment values are subnormal (nonzero and below 1.2e-38).

    python -m bench.subnormals [--epochs 5] [--rounds 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY = 1.1754944e-38  # the smallest normal float32


def child(flush: bool, epochs: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    import vaekit
    from bench.common import mnist_dir

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        vae = vaekit.train(
            data="mnist", data_dir=str(mnist_dir()), encoder=[400], latent_dim=20, likelihood="bernoulli",
            epochs=epochs, batch_size=128, lr=1e-3, seed=0, val_fraction=0.0, checkpoint_every=epochs,
            device="cpu", out=run, progress="quiet", flush_denormal=flush,
        )
        times = [json.loads(line)["epoch_time_s"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        from vaekit.training.checkpoint import load_tensors

        tensors, _ = load_tensors(run / "trainer.safetensors")
    moments = [t for name, t in tensors.items() if "exp_avg" in name]

    def subnormal(name: str) -> int:
        return sum(int(((t.abs() > 0) & (t.abs() < TINY)).sum()) for n, t in tensors.items() if n.endswith(name))

    print("RESULT " + json.dumps({
        "flush": flush, "epoch_s": times, "test_loss": vaekit.evaluate(vae, k=0, probe=False)["loss"],
        "subnormal_exp_avg": subnormal("exp_avg"), "subnormal_exp_avg_sq": subnormal("exp_avg_sq"),
        "moment_values": sum(t.numel() for t in moments),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child == "on", args.epochs, args.threads)
        return
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            cmd = [sys.executable, "-m", "bench.subnormals", "--child", mode, "--epochs", str(args.epochs),
                   "--threads", str(args.threads)]
            out = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True)
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                sys.exit(f"flush {mode} failed:\n{out.stderr[-3000:]}")
            r = json.loads(lines[-1][7:])
            print(
                f"flush {mode:>3}: epochs {', '.join(f'{t:.2f}' for t in r['epoch_s'])} s; test loss "
                f"{r['test_loss']:.5f} nats; subnormal Adam moments after training: {r['subnormal_exp_avg']} "
                f"exp_avg, {r['subnormal_exp_avg_sq']} exp_avg_sq (of {r['moment_values']} values)"
            )


if __name__ == "__main__":
    main()
