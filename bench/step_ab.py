"""The training step of an earlier revision against the working tree's, in one process.

On a shared 2-core VM, separate runs of the same code differ by 20-30 %, which hides changes of a
few per cent. This script takes the fused training step and the Adam step
(`vaekit/training/fused_step.py` and `vaekit/training/optim.py`) of git revision REV and of the
working tree, builds issue 5's model (MNIST grey levels, MLP 784-400-20 ReLU, Bernoulli, Adam lr
1e-3, batch 128) once for each, and trains both on the same batches in alternating blocks of
steps, so that both see the same machine at nearly the same moments. It prints each side's
median milliseconds per step (drawing the batch's float32 rows included) and the median and
quartiles of the per-round ratio working tree / REV.

REV's two files are loaded beside the working tree's package, so they must import only names the
working tree still has.

    python -m bench.step_ab REV [--block 20] [--rounds 150] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch

from bench.common import load_mnist_unit, mlp_vae_config

FILES = {"fused_step": "src/vaekit/training/fused_step.py", "optim": "src/vaekit/training/optim.py"}


def module_at(rev: str, name: str, folder: Path) -> ModuleType:
    """Return the module ``name`` (a key of FILES) as it was at git revision ``rev``."""
    root = Path(__file__).resolve().parent.parent
    text = subprocess.run(["git", "show", f"{rev}:{FILES[name]}"], cwd=root, check=True, capture_output=True, text=True)
    path = folder / f"rev_{name}.py"
    path.write_text(text.stdout)
    spec = importlib.util.spec_from_file_location(f"rev_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build(fused_step: ModuleType, optim: ModuleType):  # noqa: ANN201
    """Return (fused step, Adam step) for a fresh, seeded copy of issue 5's model."""
    from vaekit import objectives
    from vaekit.models import create

    config = mlp_vae_config()
    torch.manual_seed(0)
    model = create(config)
    optimizer = optim.make_adam(model.parameters(), 1e-3, torch.device("cpu"))
    return fused_step.FusedVAEStep(model, objectives.create_objective(config, model)), optim.DirectAdamStep(optimizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev")
    parser.add_argument("--block", type=int, default=20, help="steps per side per round")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as vaekit trains by default

    from vaekit.training import fused_step, optim

    train, _ = load_mnist_unit(None)
    with tempfile.TemporaryDirectory() as tmp:
        old = {name: module_at(args.rev, name, Path(tmp)) for name in FILES}
        sides = {args.rev: build(old["fused_step"], old["optim"]), "working tree": build(fused_step, optim)}
    order = torch.randperm(len(train))
    times: dict[str, list[float]] = {name: [] for name in sides}
    start = 0
    with torch.no_grad():
        for r in range(args.rounds):
            names = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for name in names:
                step, adam = sides[name]
                started = time.perf_counter()
                for i in range(args.block):
                    j = (start + 128 * i) % (len(train) - 128)
                    loss = step(train[order[j : j + 128]]).loss
                    if not math.isfinite(loss.item()):
                        sys.exit(f"{name}: the loss is not finite")
                    adam()
                times[name].append((time.perf_counter() - started) / args.block * 1e3)
            start += 128 * args.block
    for name, values in times.items():
        print(f"{name:>14}: {statistics.median(values):.3f} ms per step (median of {args.rounds} blocks of {args.block})")
    ratios = sorted(new / ref for new, ref in zip(times["working tree"], times[args.rev], strict=True))
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"working tree / {args.rev} per round: median {statistics.median(ratios):.3f}, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}")


if __name__ == "__main__":
    main()
