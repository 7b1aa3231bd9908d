"""When does a likelihood score call anomalies normal, and does a background model fix it?

The case (docs/scores.md): a VAE trained on the MNIST training digits other than 1 scores the
MNIST test set, and the anomalies are the test 1s. A 1 has few "on" pixels, so any image model
finds it cheap to encode: a likelihood score calls the 1s the most normal digits of all. The
remedy is a likelihood ratio against a background model that captures only how simple an image
is (a tiny VAE trained on the same digits): ``vaekit score RUN --background RUN2``.

    python -m bench.likelihood_ratio [--mnist ../shared/data/mnist] [--work runs/bench-ratio]

Prints, for the ``nll`` and ``recon`` scores, the AUROC of the 1s as anomalies with the plain
score, with the ratio, and with the background alone, and the median scores.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.common import script_parser


def read_mnist(folder: str, part: str) -> tuple[Any, Any]:
    """Return MNIST's ``part`` ("train" or "test") images (uint8 [N, 28, 28]) and labels."""
    from vaekit.data.idx import find_idx_files, read_idx_pair

    files = find_idx_files(Path(folder))
    return read_idx_pair(files[f"{part}-images"], files[f"{part}-labels"])

#: the main model: the classic MNIST VAE
MAIN = {"encoder": [400], "latent_dim": 20, "epochs": 10}
#: background models: tiny VAEs on the same digits
BACKGROUNDS = {"16-1": {"encoder": [16], "latent_dim": 1, "epochs": 5}, "64-2": {"encoder": [64], "latent_dim": 2, "epochs": 5}}
COMMON = {"batch_size": 128, "likelihood": "bernoulli", "binarize": "dynamic", "lr": 1e-3, "test_fraction": 0.05}


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--mnist", default="../shared/data/mnist", help="folder of the MNIST IDX files (.gz)")
    parser.add_argument("--work", default="runs/bench-ratio", help="folder for the data file and the runs")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import numpy as np
    from sklearn.metrics import roc_auc_score

    import vaekit
    from vaekit.scoring import score_data

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    x_train, y_train = read_mnist(args.mnist, "train")
    x_test, y_test = read_mnist(args.mnist, "test")
    data = work / "train-without-1.npy"
    np.save(data, x_train[y_train != 1])
    runs = {}
    for name, options in {"main": MAIN, **{f"background {k}": v for k, v in BACKGROUNDS.items()}}.items():
        started = time.perf_counter()
        runs[name] = vaekit.train(data=str(data), out=work / name.replace(" ", "-"), force=True, progress="quiet", **COMMON, **options)
        print(f"trained {name} ({options}) in {time.perf_counter() - started:.0f} s", flush=True)
    x = x_test.reshape(len(x_test), -1).astype(np.float32) / 255
    anomaly = y_test == 1
    results = {}
    for kind in ("nll", "recon"):
        plain = runs["main"].score(x, kind=kind)
        row = {"plain": float(roc_auc_score(anomaly, plain)), "median_1s": float(np.median(plain[anomaly])),
               "median_others": float(np.median(plain[~anomaly]))}  # fmt: skip
        for name in BACKGROUNDS:
            background = runs[f"background {name}"]
            ratio = score_data(runs["main"], x, kind=kind, background=background).scores
            row[f"ratio {name}"] = float(roc_auc_score(anomaly, ratio))
            row[f"background {name} alone"] = float(roc_auc_score(anomaly, background.score(x, kind=kind)))
        results[kind] = row
        print(kind, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
