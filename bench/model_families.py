"""Train every model family with one recipe and print one JSON line per family.

The recipe of docs/models.md (dynamically binarised MNIST, MLP 512-256, latent 32):

    python bench/model_families.py --data mnist --data-dir /work/shared/data/mnist \
        --epochs 10 --k 100 --out runs/families

A quick check that it runs: ``python bench/model_families.py --data digits --epochs 1``.
Each line holds the family, the test ELBO and reconstruction term (nats per example, from
``vaekit.evaluate``; the importance-sampled NLL is added by that report where available) and
the training wall time in seconds on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import vaekit

FAMILIES = ["vae", "ae", "beta-vae", "iwae", "cvae", "vamp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--out", default="runs/families")
    parser.add_argument("--beta", type=float, help="beta-vae only: the KL weight (default: the family's 1)")
    parser.add_argument("--warmup-steps", type=int, help="beta-vae only: a linear KL warm-up over this many steps")
    parser.add_argument("--k", type=int, default=100, help="importance samples of the test NLL (5000 for reported numbers)")
    args = parser.parse_args()
    binarize = "dynamic" if args.data != "digits" else "none"
    for family in args.families.split(","):
        started = time.perf_counter()
        extra = {}
        if family == "beta-vae":
            extra = {"beta": args.beta, "free_bits": None}
            if args.warmup_steps:
                extra.update(warmup="linear", warmup_steps=args.warmup_steps)
        run = vaekit.train(
            data=args.data,
            data_dir=args.data_dir,
            binarize=binarize,
            model=family,
            encoder=[512, 256],
            latent_dim=32,
            batch_size=128,
            epochs=args.epochs,
            out=Path(args.out) / family,
            force=True,
            progress="quiet",
            **extra,
        )
        seconds = time.perf_counter() - started
        report = vaekit.evaluate(run, k=args.k if getattr(run.model, "variational", True) else None, probe=False)
        keep = {k: v for k, v in report.items() if isinstance(v, (int, float, str, bool))}
        print(json.dumps({"family": family, "epochs": args.epochs, "train_seconds": round(seconds, 1), **keep}))


if __name__ == "__main__":
    main()
