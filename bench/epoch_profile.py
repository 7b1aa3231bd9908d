"""Where one training step's time goes inside `vaekit.train`, by wall-clock timers (no profiler).

Trains issue 5's configuration (MNIST grey levels, MLP 784-400-20 ReLU, Bernoulli, Adam lr 1e-3,
batch 128, no validation) for a few epochs through the public API, with timers wrapped around the
fused step's call and the optimizer step (`vaekit.training.optim.DirectAdamStep`), and reports
per step: the whole loop (the
`epoch_time_s` of metrics.jsonl divided by the steps), the fused step, the optimizer step, and
the rest of the loop (drawing and converting the batch, the metric sums). Also reports the
seconds `vaekit.train` spends outside its epochs (reading the data, building the optimizer,
checkpoints) and, in a fresh interpreter, what importing `torch._dynamo` costs, which
`torch.optim`'s first optimizer triggers.

    python -m bench.epoch_profile [--epochs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    import vaekit
    import vaekit.fast.fused_step as fused_step
    from bench.common import mnist_dir
    from vaekit.training.optim import DirectAdamStep

    torch.set_num_threads(args.threads)
    spent = {"step": 0.0, "optimizer": 0.0, "calls": 0}
    step_call, adam_step = fused_step.FusedVAEStep.__call__, DirectAdamStep.__call__

    def timed_step(self, x, step=0):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        result = step_call(self, x, step)
        spent["step"] += time.perf_counter() - started
        spent["calls"] += 1
        return result

    def timed_adam(self):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        result = adam_step(self)
        spent["optimizer"] += time.perf_counter() - started
        return result

    fused_step.FusedVAEStep.__call__, DirectAdamStep.__call__ = timed_step, timed_adam
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        vaekit.train(
            data="mnist", data_dir=str(mnist_dir()), encoder=[400], latent_dim=20, likelihood="bernoulli",
            epochs=args.epochs, batch_size=128, lr=1e-3, seed=0, val_fraction=0.0, checkpoint_every=args.epochs,
            device="cpu", out=Path(tmp) / "run", progress="quiet",
        )
        total = time.perf_counter() - started
        history = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    epochs = sum(record["epoch_time_s"] for record in history)
    calls = spent["calls"]
    if calls == 0:
        sys.exit("the fused step did not run: is this the fused-step configuration?")
    ms = {name: 1e3 * seconds / calls for name, seconds in spent.items() if name != "calls"}
    loop = 1e3 * epochs / calls
    times = ", ".join(f"{record['epoch_time_s']:.2f}" for record in history)
    print(f"{args.epochs} epochs, {calls} steps, epochs {times} s")
    print(f"  per step: {loop:.2f} ms = fused step {ms['step']:.2f} + optimizer {ms['optimizer']:.2f} "
          f"+ rest of the loop {loop - ms['step'] - ms['optimizer']:.2f}")
    print(f"  vaekit.train outside its epochs: {total - epochs:.2f} s of {total:.2f} s")
    code = "import time, torch; t = time.perf_counter(); import torch._dynamo; print(time.perf_counter() - t)"
    dynamo = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    print(f"  importing torch._dynamo (a fresh interpreter, after torch): {dynamo:.2f} s")


if __name__ == "__main__":
    main()
