"""Does seeded training give the same weights as another source tree (e.g. before a refactor)?

Trains a set of small seeded runs (digits and synthetic5, covering the fused step, autograd,
every family, conv nets, dynamic binarisation and dequantisation) with this tree's vaekit and
with the vaekit of OTHER_TREE (a checkout of another revision: `git worktree add ../old REV`),
each in its own process, and prints a SHA-256 of each run's final tensors side by side. The runs
are asked for with the flat keyword options that every vaekit version so far accepts (newer
versions take them with a DeprecationWarning), so old and new trees read the same request.

    python -m bench.same_weights ../old            # all cases, about 3 min per tree
    python -m bench.same_weights ../old --cases default-digits,iwae
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, csv_choices, script_parser

#: each case: keyword options of vaekit.train (flat, as every version accepts them)
CASES: dict[str, dict] = {
    "default-digits": {"data": "digits", "epochs": 3},
    "bernoulli-tanh": {"data": "digits", "epochs": 2, "activation": "tanh", "latent_dim": 4},
    "beta-warmup": {"data": "digits", "epochs": 2, "model": "beta-vae", "beta": 4.0, "warmup": "linear", "warmup_steps": 50},
    "dyn-binarize": {"data": "digits", "epochs": 2, "binarize": "dynamic"},
    "gaussian-seed": {"preset": "seed", "epochs": 3},
    "iwae": {"data": "digits", "epochs": 2, "model": "iwae"},
    "cvae-conv": {"data": "digits", "epochs": 1, "model": "cvae", "net": "conv"},
    "deq-logistic": {"data": "digits", "epochs": 1, "likelihood": "discretized-logistic", "dequantize": "uniform"},
    "vamp": {"data": "digits", "epochs": 1, "model": "vamp", "pseudo_inputs": 10},
}  # fmt: skip


def child(cases: list[str]) -> None:
    """Train each case with the vaekit on sys.path; print one JSON line of name -> hash."""
    import hashlib
    import tempfile
    import warnings

    from safetensors.torch import load_file

    import vaekit

    warnings.simplefilter("ignore", DeprecationWarning)
    hashes = {}
    for name in cases:
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / name
            vaekit.train(out=str(run), progress="quiet", **CASES[name])
            tensors = load_file(str(run / "model.safetensors"))
        digest = hashlib.sha256()
        for key in sorted(tensors):
            digest.update(key.encode())
            digest.update(tensors[key].contiguous().numpy().tobytes())
        hashes[name] = digest.hexdigest()[:16]
    print("HASHES " + json.dumps(hashes))


def hashes_of(tree: Path, cases: list[str]) -> dict[str, str]:
    """Return the hashes of ``cases`` trained by the vaekit in ``tree``/src, in a child process."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src") + os.pathsep + str(ROOT)}
    cmd = [sys.executable, "-m", "bench.same_weights", "--child", ",".join(cases)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("HASHES ")]
    if out.returncode != 0 or not lines:
        sys.exit(f"training with {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("other", nargs="?", type=Path, help="the other source tree (its src/ holds vaekit)")
    parser.add_argument("--cases", type=csv_choices(tuple(CASES)), default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child.split(","))
        return
    if args.other is None:
        parser.error("give the other source tree, e.g. python -m bench.same_weights ../old")
    ours, theirs = hashes_of(ROOT, args.cases), hashes_of(args.other.resolve(), args.cases)
    print(f"| case | {ROOT.name} | {args.other} | same |\n| --- | --- | --- | --- |")
    for name in args.cases:
        print(f"| {name} | {ours[name]} | {theirs[name]} | {'yes' if ours[name] == theirs[name] else 'NO'} |")
    same = sum(ours[n] == theirs[n] for n in args.cases)
    print(f"\n{same} of {len(args.cases)} cases train to bit-identical weights")


if __name__ == "__main__":
    main()
