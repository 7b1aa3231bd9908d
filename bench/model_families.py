"""Train every registered model family with one recipe and print one JSON line per family.

The families are those of vaekit's model registry (``vaekit.models.available_models()``), so a
new family is measured without editing this script. The recipe of docs/models.md (dynamically
binarised MNIST, MLP 512-256, latent 32):

    python -m bench.model_families --data mnist --data-dir ../shared/data/mnist --epochs 10 --k 100 --out runs/families
    python -m bench.model_families --data digits --epochs 1          # a quick check that it runs

Each line holds the family, the test ELBO and reconstruction term (nats per example, from
``vaekit.evaluate``; with ``--k`` importance samples, the NLL of the variational families on
binarised data) and the training wall time in seconds on this machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import mlp_vae_options, script_parser


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--families", help="comma-separated families (default: every registered one)")
    parser.add_argument("--out", default="runs/families")
    parser.add_argument("--beta", type=float, help="beta-vae only: the KL weight (default: the family's 1)")
    parser.add_argument("--warmup-steps", type=int, help="beta-vae only: a linear KL warm-up over this many steps")
    parser.add_argument("--k", type=int, default=100, help="importance samples of the test NLL (5000 for reported numbers)")
    args = parser.parse_args()

    import vaekit
    from vaekit.models import available_models

    registered = available_models()
    families = args.families.split(",") if args.families else registered
    unknown = sorted(set(families) - set(registered))
    if unknown:
        parser.error(f"unknown families {unknown}: the registry has {', '.join(registered)}")
    binarize = "dynamic" if args.data != "digits" else "none"
    for family in families:
        options = mlp_vae_options([512, 256], 32, likelihood=None)
        if family == "beta-vae":
            objective = {"beta": args.beta}
            if args.warmup_steps:
                objective.update(warmup="linear", warmup_steps=args.warmup_steps)
            objective = {key: value for key, value in objective.items() if value is not None}
            if objective:
                options["objective"] = objective
        started = time.perf_counter()
        run = vaekit.train(
            data=args.data, data_dir=args.data_dir, binarize=binarize, model=family, batch_size=128,
            epochs=args.epochs, out=Path(args.out) / family, force=True, progress="quiet", **options,
        )
        seconds = time.perf_counter() - started
        # The NLL is a likelihood only of binarised images, and only variational families have one.
        nll = binarize == "dynamic" and getattr(run.model, "variational", True)
        report = vaekit.evaluate(run, k=args.k if nll else 0, probe=False)
        keep = {k: v for k, v in report.items() if isinstance(v, (int, float, str, bool))}
        print(json.dumps({"family": family, "epochs": args.epochs, "train_seconds": round(seconds, 1), **keep}))


if __name__ == "__main__":
    main()
