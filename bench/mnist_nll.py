"""Binarised-MNIST test NLL of the literature's baseline VAE, trained and evaluated by vaekit.

The model of Burda et al. (2015), table 1 "VAE, k=1, 1 stochastic layer": MLP encoder and
decoder 784-200-200 with tanh, 50 latent dimensions, Bernoulli likelihood, trained with Adam on
dynamically binarised MNIST; the NLL is the K = 5000 importance-weighted bound on the 10,000
test images under one fixed seeded binarisation. Prints our NLL with its standard error next to
Burda et al.'s 86.76 nats and pythae's reproduced 89.78 nats (784-400-40) as published (not
run here), the wall times of training and evaluation, and the evaluation's achieved GFLOP/s;
writes them to RUN/bench-mnist-nll.json.

    python -m bench.mnist_nll --epochs 30 --out runs/bench-mnist-nll-30       # a reported number
    python -m bench.mnist_nll --epochs 1 --k 100 --limit 1000 --out /tmp/bench-smoke   # a smoke test
"""

from __future__ import annotations

import gzip
import json
import platform
import struct
import sys
import time
from pathlib import Path

from bench.common import mlp_vae_options, mnist_dir, script_parser

REFERENCES = [
    ("Burda et al. 2015, VAE k=1 (784-200-200-50, 3280 epochs)", 86.76),
    ("pythae reproduction (784-400-40)", 89.78),
]


def write_idx_subset(source_dir: str, folder: Path, limit: int) -> Path:
    """Write the first ``limit`` train and test images (and labels) of MNIST as a gzipped IDX
    folder, so a smoke test runs through exactly the same reader and binarisation."""
    import numpy as np

    from vaekit.data import load_data

    bundle = load_data("mnist", data_dir=source_dir)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train": (bundle.train, bundle.train_labels), "t10k": (bundle.test, bundle.test_labels)}
    for stem, (x, y) in parts.items():
        n = min(limit, len(x))
        pixels = x[:n].numpy().reshape(n, 28, 28)  # the reader's uint8 grey levels
        labels = y[:n].numpy().astype(np.uint8)
        with gzip.open(folder / f"{stem}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 28, 28) + pixels.tobytes())
        with gzip.open(folder / f"{stem}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + labels.tobytes())
    return folder


def main(argv: list[str] | None = None) -> dict:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--k", type=int, default=5000, help="importance samples (default 5000)")
    parser.add_argument("--limit", type=int, help="use only the first N train and N test images (smoke tests)")
    parser.add_argument("--data-dir", default=str(mnist_dir()), help="the MNIST IDX folder (default: %(default)s)")
    parser.add_argument("--out", default="runs/bench-mnist-nll", help="run folder (overwritten)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--eval-batch-size", type=int, help="test examples per NLL batch (default: 100)")
    parser.add_argument("--max-chunk-elements", type=int, help="NLL memory budget (decoder outputs per chunk)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    import vaekit
    from bench.common import linear_layers, matmul_flops

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    data, data_dir = "mnist", args.data_dir
    if args.limit:
        data, data_dir = (
            str(write_idx_subset(args.data_dir, out.parent / f"{out.name}-mnist-{args.limit}", args.limit)),
            None,
        )

    started = time.perf_counter()
    vae = vaekit.train(
        data=data,
        data_dir=data_dir,
        binarize="dynamic",
        val_fraction=0.0,  # train on all 60,000 images, as the literature does
        **mlp_vae_options([200, 200], 50, "tanh"),
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        out=out,
        force=True,
        progress="auto",
    )
    train_s = time.perf_counter() - started

    report = vaekit.evaluate(
        vae,
        split="test",
        k=args.k,
        batch_size=args.eval_batch_size,
        max_chunk_elements=args.max_chunk_elements,
        probe=False,
        progress="auto",
    )
    nll_s = report["seconds"]["nll"]
    n = report["n_examples"]
    decoder_flops = matmul_flops(linear_layers(vae.model.decoder))
    encoder_flops = matmul_flops(linear_layers(vae.model.encoder))
    total_flops = n * args.k * decoder_flops + n * encoder_flops
    result = {
        "epochs": args.epochs,
        "k": report["k"],
        "test_examples": n,
        "nll": report["nll"],
        "nll_stderr": report["nll_stderr"],
        "elbo": report["elbo"],
        "kl": report["kl"],
        "active_units": report["active_units"],
        "train_s": train_s,
        "eval_nll_s": nll_s,
        "decoder_flops_per_sample": decoder_flops,
        "eval_tflop": total_flops / 1e12,
        "eval_gflops_per_s": total_flops / nll_s / 1e9,
        "device": str(vae.device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "command": " ".join(["python -m bench.mnist_nll", *(argv if argv is not None else sys.argv[1:])]),
    }
    (out / "bench-mnist-nll.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"\nbinarised MNIST test NLL, K = {report['k']}, {n} test images, after {args.epochs} epochs")
    print(f"  {'vaekit (784-200-200-50 tanh, Bernoulli)':<58} {report['nll']:8.2f} ± {report['nll_stderr']:.2f} nats")
    for name, value in REFERENCES:
        print(f"  {name:<58} {value:8.2f} nats")
    print(f"  ELBO {report['elbo']:.2f} nats, KL {report['kl']:.2f} nats, active units {report['active_units']} of 50")
    print(f"  training: {train_s:.1f} s ({args.epochs} epochs, batch {args.batch_size}, {vae.device})")
    print(
        f"  evaluation: {nll_s:.1f} s for {result['eval_tflop']:.2f} TFLOP of matmuls "
        f"({decoder_flops} FLOP per decoder pass) = {result['eval_gflops_per_s']:.1f} GFLOP/s "
        f"on {result['threads']} threads"
    )
    return result


if __name__ == "__main__":
    main()
