"""Training speed and memory, side by side: vaekit, a plain idiomatic PyTorch loop, and pythae.

The classic MNIST VAE: MLP 784-400-20 ReLU, Bernoulli likelihood, Adam lr 1e-3, batch 128, grey levels
in [0, 1], 10 epochs. Each contestant runs in its own process (so peak memory is its own), several rounds
in rotated order (5 by default: on a shared VM one contestant's time moves 20-30 % between rounds, and a
median of 3 moved the ratios by more than the goals' margins); the table shows medians of seconds per
epoch (training loop only, data already loaded), peak RSS, and the test -ELBO after training
(single-sample, same noise for all, nats per example), then each round's ratios and how many of each
contestant's Adam moment values ended subnormal (nonzero and below 1.2e-38, where x86 arithmetic is slow).

``--device cuda`` trains every contestant on the GPU (the table then also shows each one's peak GPU
memory); ``--precision bf16`` autocasts the forward pass to bfloat16 and ``fp16`` to float16 with a
gradient scaler (CUDA only), in vaekit (``train.precision``) and in the plain loop (the loss in
float32, as autocast wants for BCE). pythae 0.1.2 has no bf16 and turns its own ``amp`` (float16,
without a scaler) off for a BCE loss, so it runs in fp32 only and is left out of the other two.

Contestants (``--only``, comma-separated; the first three by default):
  vaekit      vaekit.train with train.fast "auto" (the default: every exact fast path)
  plain       the PyTorch examples' VAE loop (TensorDataset + DataLoader, sigmoid + BCE)
  pythae      pythae's VAE and BaseTrainer (pythae 0.1.2 in .venv-bench)
  plain-ftz   the plain loop with float32 subnormals flushed to zero, as vaekit trains: what
              flushing alone is worth
  vaekit-off  vaekit.train with train.fast "off" (autograd, Adam.step, subnormals kept): what
              the fast paths are worth end to end

    make bench                                   # bench.kernels matmul, then this, in .venv-bench
    .venv-bench/bin/python -m bench.train_speed --rounds 1 --epochs 1 --limit 6000   # a quick look
    .venv/bin/python -m bench.train_speed --only vaekit,vaekit-off,plain,plain-ftz  # without pythae
    python -m bench.train_speed --device cuda --precision bf16 --rounds 1 --epochs 3   # on a GPU (bench/gpu_check.sh)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, csv_choices, script_parser

CONTESTANTS = ("vaekit", "plain", "pythae", "plain-ftz", "vaekit-off")
PRECISIONS = ("fp32", "bf16", "fp16")
#: why a contestant cannot run in a precision (it is left out of that run, with this reason)
UNSUPPORTED = {
    ("pythae", "bf16"): "pythae 0.1.2 has no bfloat16 autocast",
    ("pythae", "fp16"): "pythae 0.1.2 turns its float16 amp off for a BCE loss (and has no gradient scaler)",
}


def autocast(args: argparse.Namespace) -> Any:
    """Return the autocast context of ``args.precision`` on ``args.device`` (a no-op for fp32)."""
    import contextlib

    import torch

    if args.precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(args.device).type, dtype=dtype)


def peak_gpu_mib(device: str) -> float | None:
    """Peak GPU memory torch allocated in this process, in MiB (None off a GPU)."""
    import torch

    if torch.device(device).type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def adam_moments(optimizer: Any) -> list:
    """Return the exp_avg and exp_avg_sq tensors of a torch Adam optimizer."""
    return [t for state in optimizer.state.values() for name, t in state.items() if name.startswith("exp_avg")]


def mean_after_first(times: list[float]) -> float | None:
    """Return the mean seconds of the epochs after the first, which alone pays the start-up
    (a GPU's context and kernels, lazy imports); None for a single epoch."""
    return sum(times[1:]) / len(times[1:]) if len(times) > 1 else None


def run_vaekit(args: argparse.Namespace, fast: str) -> dict:
    from safetensors.torch import load_file

    import vaekit
    from bench.common import (
        bernoulli_neg_elbo,
        count_subnormal,
        load_mnist_unit,
        mlp_vae_options,
        mnist_dir,
        peak_rss_mib,
    )

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        started = time.perf_counter()
        vae = vaekit.train(
            data="mnist", data_dir=str(mnist_dir()), **mlp_vae_options([400], 20), epochs=args.epochs,
            batch_size=128, lr=1e-3, seed=0, val_fraction=0.0, checkpoint_every=args.epochs, device=args.device,
            out=run, progress="quiet", limit=args.limit, fast=fast, precision=args.precision,
        )
        total = time.perf_counter() - started
        rss_after_training = peak_rss_mib()
        history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        trainer = load_file(run / "trainer.safetensors")
        subnormal = count_subnormal([t for name, t in trainer.items() if "exp_avg" in name])
    model = vae.model.cpu()  # scored on the CPU, as every contestant
    _, test = load_mnist_unit(args.limit)  # after training, so the reader's copy does not count twice
    return {
        "s_per_epoch": sum(h["epoch_time_s"] for h in history) / len(history),
        "later_s_per_epoch": mean_after_first([h["epoch_time_s"] for h in history]),
        "total_s": total,
        "test_neg_elbo": bernoulli_neg_elbo(model.encode, model.decode, test),
        "peak_rss_mib": rss_after_training,
        "subnormal_moments": subnormal,
        "training_step": history[-1].get("training_step"),
        "peak_gpu_mib": peak_gpu_mib(args.device),
    }


def run_plain(args: argparse.Namespace) -> dict:
    """The loop of the PyTorch examples' VAE: TensorDataset + DataLoader, sigmoid + BCE(sum); on a
    GPU each batch moves there from pinned memory, as in the examples. Under autocast the loss is
    computed in float32 (autocast refuses BCE on probabilities in float16); fp16 steps through a
    gradient scaler."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from bench.common import bernoulli_neg_elbo, count_subnormal, load_mnist_unit, synchronize

    train, test = load_mnist_unit(args.limit)
    torch.manual_seed(0)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def encode(self, x):
            h = F.relu(self.fc1(x))
            return self.fc21(h), self.fc22(h)

        def logits(self, z):
            return self.fc4(F.relu(self.fc3(z)))

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.logits(z)), mu, logvar

    device = torch.device(args.device)
    model = VAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "fp16")
    loader = DataLoader(TensorDataset(train), batch_size=128, shuffle=True, pin_memory=device.type == "cuda")
    times = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        for (x,) in loader:
            x = x.to(device)
            with autocast(args):
                recon, mu, logvar = model(x)
            recon, mu, logvar = recon.float(), mu.float(), logvar.float()
            bce = F.binary_cross_entropy(recon, x, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kld) / len(x)
            opt.zero_grad()
            if scaler.is_enabled():
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:  # the examples' own lines
                loss.backward()
                opt.step()
        synchronize(device)
        times.append(time.perf_counter() - started)
    peak_gpu = peak_gpu_mib(args.device)
    model.cpu()
    return {
        "s_per_epoch": sum(times) / len(times),
        "later_s_per_epoch": mean_after_first(times),
        "total_s": sum(times),
        "test_neg_elbo": bernoulli_neg_elbo(model.encode, model.logits, test),
        "subnormal_moments": count_subnormal(adam_moments(opt)),
        "peak_gpu_mib": peak_gpu,
    }


def run_pythae(args: argparse.Namespace) -> dict:
    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from torch import nn

    from bench.common import bernoulli_neg_elbo, count_subnormal, load_mnist_unit, logit, synchronize

    train, test = load_mnist_unit(args.limit)
    torch.manual_seed(0)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(784, 400), nn.ReLU())
            self.mu, self.logvar = nn.Linear(400, 20), nn.Linear(400, 20)

        def forward(self, x):
            h = self.body(x.reshape(len(x), -1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(len(z), 1, 28, 28))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as tmp:
        trainer_config = BaseTrainerConfig(
            output_dir=tmp, num_epochs=args.epochs, learning_rate=1e-3, per_device_train_batch_size=128,
            per_device_eval_batch_size=128, steps_saving=None, no_cuda=args.device == "cpu", optimizer_cls="Adam",
        )
        dataset = BaseDataset(train.reshape(-1, 1, 28, 28), torch.zeros(len(train)))
        trainer = BaseTrainer(model=model, train_dataset=dataset, training_config=trainer_config)
        started = time.perf_counter()
        trainer.train()
        synchronize(args.device)
        total = time.perf_counter() - started
    peak_gpu = peak_gpu_mib(args.device)
    model.eval()
    model.cpu()
    optimizer = getattr(trainer, "optimizer", None)

    def encode(x):
        out = model.encoder(x)
        return out.embedding, out.log_covariance

    loss = bernoulli_neg_elbo(encode, lambda z: logit(model.decoder(z).reconstruction.reshape(len(z), -1)), test)
    # pythae's trainer times include its own per-epoch logging; no per-epoch hook, so total / epochs.
    return {
        "s_per_epoch": total / args.epochs,
        "total_s": total,
        "test_neg_elbo": loss,
        "subnormal_moments": count_subnormal(adam_moments(optimizer)) if optimizer is not None else None,
        "peak_gpu_mib": peak_gpu,
    }


def child(args: argparse.Namespace) -> None:
    import torch

    from bench.common import peak_rss_mib

    torch.set_num_threads(args.threads)
    if args.child == "plain-ftz":
        # The plain loop with float32 subnormals flushed to zero, as vaekit trains by default:
        # set before any op starts torch's thread pool, so its threads inherit it.
        torch.set_flush_denormal(True)
    runners = {
        "vaekit": lambda: run_vaekit(args, "auto"),
        "vaekit-off": lambda: run_vaekit(args, "off"),
        "plain": lambda: run_plain(args),
        "plain-ftz": lambda: run_plain(args),
        "pythae": lambda: run_pythae(args),
    }
    result = runners[args.child]()
    # Peak memory of training: the data, the model and the loop. vaekit's reader runs inside
    # vaekit.train, so its peak is read before the bench's own scoring loads the test set again;
    # the peers load train and test once, before training, so their peak at the end is the same.
    result.setdefault("peak_rss_mib", peak_rss_mib())
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N: where every contestant trains")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="fp32",
        help="fp32 (default); bf16 autocast; fp16 autocast with a gradient scaler (CUDA only)",
    )
    parser.add_argument(
        "--only", type=csv_choices(CONTESTANTS), default="vaekit,plain,pythae",
        help="comma-separated contestants of " + ",".join(CONTESTANTS) + " (default: vaekit,plain,pythae)",
    )
    parser.add_argument("--child", choices=CONTESTANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from bench.common import fmt, machine_line, median, rotated

    if args.precision == "fp16" and not args.device.startswith("cuda"):
        parser.error("--precision fp16 needs --device cuda (float16 autocast with a gradient scaler); use bf16 or fp32")
    names = []
    for name in args.only:
        if (name, args.precision) in UNSUPPORTED:
            print(f"{name} left out at --precision {args.precision}: {UNSUPPORTED[name, args.precision]}")
        else:
            names.append(name)
    if not names:
        parser.error(f"no contestant of {','.join(args.only)} runs at --precision {args.precision}")
    results: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in rotated(names, r):
            cmd = [sys.executable, "-m", "bench.train_speed", "--child", name, "--epochs", str(args.epochs),
                   "--threads", str(args.threads), "--device", args.device, "--precision", args.precision]
            cmd += ["--limit", str(args.limit)] if args.limit else []
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode != 0 or not line:
                print(f"{name} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
                sys.exit(1)
            results[name].append(json.loads(line[-1][7:]))
            print(f"round {r + 1} {name}: {results[name][-1]}", file=sys.stderr)

    on_gpu = args.device.startswith("cuda")
    print(f"\n{machine_line(args.threads, args.device)}, {args.rounds} rounds, {args.epochs} epochs, limit {args.limit}, "
          f"device {args.device}, precision {args.precision}")
    gpu_head, gpu_rule = (" peak GPU MiB |", " --- |") if on_gpu else ("", "")
    print(f"| contestant | s/epoch (median) | peak RSS MiB |{gpu_head} test -ELBO (nats) | s/epoch ratio vaekit/this | "
          "RSS ratio vaekit/this |")
    print(f"| --- | --- | --- |{gpu_rule} --- | --- | --- |")
    keys = ("s_per_epoch", "peak_rss_mib", "test_neg_elbo") + (("peak_gpu_mib",) if on_gpu else ())
    med = {n: {k: median([x[k] for x in results[n]]) for k in keys} for n in names}
    for n in names:
        ratio = med["vaekit"]["s_per_epoch"] / med[n]["s_per_epoch"] if "vaekit" in med else float("nan")
        rss = med["vaekit"]["peak_rss_mib"] / med[n]["peak_rss_mib"] if "vaekit" in med else float("nan")
        gpu = f" {fmt(med[n]['peak_gpu_mib'])} |" if on_gpu else ""
        print(f"| {n} | {fmt(med[n]['s_per_epoch'])} | {fmt(med[n]['peak_rss_mib'])} |{gpu} {med[n]['test_neg_elbo']:.2f} | "
              f"{fmt(ratio)} | {fmt(rss)} |")
    if "vaekit" in results:
        print("\nvaekit's s/epoch over each peer's, round by round:")
        for n in names:
            if n != "vaekit":
                per_round = [v["s_per_epoch"] / p["s_per_epoch"] for v, p in zip(results["vaekit"], results[n], strict=True)]
                print(f"  {n}: " + ", ".join(f"{r:.3f}" for r in per_round))
    counts = {n: [x.get("subnormal_moments") for x in results[n]] for n in names}
    print("\nsubnormal Adam moment values after training, round by round:")
    for n in names:
        print(f"  {n}: " + ", ".join("-" if c is None else str(c) for c in counts[n]))
    # One line to quote (bench/gpu_check.sh's summary table takes it): each contestant's median
    # s/epoch and, for the peers, how many times vaekit's it is.
    parts = [
        f"{n} {fmt(med[n]['s_per_epoch'])}"
        + (f" ({fmt(med[n]['s_per_epoch'] / med['vaekit']['s_per_epoch'])}x vaekit's)" if "vaekit" in med and n != "vaekit" else "")
        for n in names
    ]
    # Without the first epoch's start-up, where a contestant times its epochs (pythae does not).
    later = {n: median([x["later_s_per_epoch"] for x in results[n]]) for n in names
             if all(x.get("later_s_per_epoch") is not None for x in results[n])}  # fmt: skip
    after_first = f"; after the first epoch: {', '.join(f'{n} {fmt(v)}' for n, v in later.items())}" if later else ""
    print(f"\nsummary: {args.device} {args.precision}, s/epoch: " + ", ".join(parts) + after_first)


if __name__ == "__main__":
    main()
