"""Anomaly scores beside PyOD: how well do vaekit's scores (``vae.score``: -log-likelihood bound
``nll``, ``-ELBO`` ``elbo``, reconstruction ``recon``) find anomalies, against PyOD's VAE,
scikit-learn's IsolationForest and a distance to the class mean, and how fast do they score?

Three parts (``--parts``, comma-separated; all three by default):

  mnist       One-class MNIST. For each digit d (``--digits``, 0..9) every contestant trains on the
              MNIST training images of d only (about 6,000) and scores the whole test set (10,000
              images); the anomalies are the other digits. AUROC per digit and the mean.
  tables      randhie.csv (20,190 rows, 45 numeric columns, 9,690 missing cells). A seeded 80/20
              split of the rows; the models train on the clean 80 %; anomalies are injected into
              the held-out 20 % (``inject``), about 5 % of the held-out rows of each kind, disjoint:
                swap         the values of one pair of columns swapped within the row, the pair drawn
                             from (xage, educdec), (income, meddol), (mhi, disea) (rows where both
                             cells are present and differ)
                range        one dollar amount (outpdol, drugdol, suppdol, mentdol, inpdol or meddol)
                             set to 10 x that column's largest training value
                combination  the plan code replaced by one that never occurs with the row's site in
                             the training rows (plans 1-4, 8 and 9 occur only at site 1; 13-19
                             never at site 1)
                flag         one 0/1 flag (tookphys, female, child, fchild, idp, hlthg, hlthf, hlthp,
                             binexp) set to 2
              AUROC of each kind against the untouched held-out rows, of all kinds together, and
              of all but the flags (a value a category column never had in training, which vaekit
              scores +inf; rows a contestant refuses to score, a DataError, get no score and the
              refusal is shown).
  throughput  Rows scored per second by ``vaekit score RUN --data FILE --k K --out scores.npy`` (a
              fresh process per call: start-up, reading and writing included) with K = 1 and
              K = 100, and the peak RSS of that process (its VmHWM, and the peaks of its RssAnon,
              memory it allocated, and RssFile, pages of files it maps such as a memory-mapped
              .npy, which the kernel can drop; /proc, sampled every 0.05 s), on: the MNIST test
              set as a float32 .npy of grey levels in [0, 1] (10,000 images), and tiled 6 times
              (60,000 images, 10 x the digit-0 training set); the held-out randhie rows (anomalies
              included) as .csv, and those tiled to at least 10 x the training rows. Also one
              K = 1 call on the test set as a uint8 .npy (8-bit pixels), to show that it is read.
              The models: the mnist part's vaekit model of digit 0 and the tables part's vaekit
              model (the digit-0 model is trained here when the work folder lacks it). The rate
              beyond the first file (the tiled file's extra rows over its extra seconds) leaves out
              start-up.

Contestants (``--only``, comma-separated; all but vaekit-dlogistic by default). Every neural
contestant trains ``--epochs`` (30) epochs; each contestant of each digit (or table) runs in a
fresh 'spawn' process (fit time, score time and that process's peak RSS, its VmHWM, are recorded; each
library's modules are imported before the clock starts), in rotated order per digit:

  vaekit            ``vaekit.train(data=<the digit's training images, uint8 [N, 28, 28] .npy>)``: MLP
                    784-400-20 ReLU, Bernoulli likelihood, binarize dynamic, batch 128, Adam lr 1e-3,
                    test_fraction 0.01 and val_fraction 0 (99 % of the images train), seed 0; one
                    model per digit scored three ways: ``nll`` (K = 100), ``elbo`` (K = 100),
                    ``recon``, on the test grey levels in [0, 1] as float32 [N, 784] (which the run
                    binarises with its fixed seed). Also reported, each as a score of its own, the
                    two parts by which ``nll`` differs from ``recon`` (nll = recon + (elbo - recon)
                    - (elbo - nll)): ``elbo-recon`` (the KL of the posterior plus the extra cost of
                    decoding drawn codes) and ``elbo-nll`` (the importance weighting's gain). Tables: ``vaekit.tables.TableVAE(epochs,
                    seed)`` with its defaults otherwise (latent 8, MLP 128-128, batch 500, lr 3e-3,
                    beta 0.5) on the training DataFrame (missing cells as they are), the same scores
                    on the held-out DataFrame.
  vaekit-gaussian   as vaekit on MNIST, with a Gaussian likelihood (a learned sigma per pixel) on the
                    grey levels (no binarisation). MNIST only.
  vaekit-dlogistic  as vaekit on MNIST, with a discretized-logistic likelihood on the 256 grey levels
                    (no binarisation). MNIST only; its scores cost about 5 x the Bernoulli model's.
  pyod              ``pyod.models.vae.VAE(epoch_num, random_state=seed, verbose=0)``, PyOD's defaults
                    otherwise (standardises each column, 784-128-64-32-2, batch 32, dropout 0.2;
                    score: distance of a row to its reconstruction). Pixels scaled to [0, 1].
  pyod-raw          the same with ``preprocessing=False``. MNIST only (the tables part gives PyOD
                    a standardised matrix already).
  iforest           ``sklearn.ensemble.IsolationForest(random_state=seed)``, defaults otherwise
                    (100 trees); score: minus ``score_samples``.
  class-mean        Euclidean distance of each test image to the mean training image. MNIST only.

On the tables, PyOD and IsolationForest get the numeric matrix median-imputed and standardised
(both fitted on the training rows); vaekit gets the DataFrame. AUROCs by scikit-learn's
``roc_auc_score`` (higher score = more unusual).

Full run (16 minutes on 2 cores, 2026-12-02; ``make bench-anomaly``; ``make bench-env`` installs PyOD)
and a quick look:

    .venv-bench/bin/python -m bench.anomaly --json runs/bench-anomaly.json
    .venv-bench/bin/python -m bench.anomaly --parts mnist --digits 0,1 --epochs 2 --limit 1000 \
        --work /tmp/bench-anomaly-quick
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import ROOT, csv_choices, fmt, mnist_dir, script_parser

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PARTS = ("mnist", "tables", "throughput")
CONTESTANTS = ("vaekit", "vaekit-gaussian", "vaekit-dlogistic", "pyod", "pyod-raw", "iforest", "class-mean")
#: the contestants run without --only (vaekit-dlogistic: a poor detector here, docs/benchmarks.md)
DEFAULT_CONTESTANTS = ("vaekit", "vaekit-gaussian", "pyod", "pyod-raw", "iforest", "class-mean")
#: contestants of the tables part (the others are MNIST-only)
TABLE_CONTESTANTS = ("vaekit", "pyod", "iforest")
VAEKIT_SCORES = ("nll", "elbo", "recon")
#: differences of vaekit's scores, reported as scores of their own
DERIVED_SCORES = ("elbo-recon", "elbo-nll")
SCORE_K = 100
DEFAULT_TABLE = ROOT.parent / "shared" / "data" / "tables" / "randhie.csv"
HOLDOUT_SHARE = 0.2
#: share of the held-out rows made anomalous by each kind
KIND_SHARE = 0.05
KINDS = ("swap", "range", "combination", "flag")
SWAP_PAIRS = (("xage", "educdec"), ("income", "meddol"), ("mhi", "disea"))
DOLLAR_COLUMNS = ("outpdol", "drugdol", "suppdol", "mentdol", "inpdol", "meddol")
FLAG_COLUMNS = ("tookphys", "female", "child", "fchild", "idp", "hlthg", "hlthf", "hlthp", "binexp")
#: the MNIST vaekit setups: train options beside the common ones
VAEKIT_SETUPS = {
    "vaekit": {"likelihood": "bernoulli", "binarize": "dynamic"},
    "vaekit-gaussian": {"likelihood": "gaussian"},
    "vaekit-dlogistic": {"likelihood": "discretized-logistic"},
}
#: the throughput part's tiling of the MNIST test set (60,000 images: 10 x digit 0's 5,923)
TILE_IMAGES = 6
TILE_TABLE = 10


# ----------------------------------------------------------------------------- data


def read_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return MNIST (train images, train labels, test images, test labels): uint8 [N, 28, 28]
    and int64 [N], read with vaekit's IDX reader (numpy only)."""
    from vaekit.data.idx import find_idx_files, read_idx_pair

    files = find_idx_files(folder)
    missing = {"train-images", "train-labels", "test-images", "test-labels"} - set(files)
    if missing:
        raise SystemExit(f"{folder}: MNIST IDX files missing: {sorted(missing)}")
    train_x, train_y = read_idx_pair(files["train-images"], files["train-labels"])
    test_x, test_y = read_idx_pair(files["test-images"], files["test-labels"])
    return train_x, train_y, test_x, test_y


def split_table(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, holdout): a seeded random 80/20 split of the rows, indexes reset."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(df))
    n_holdout = round(len(df) * HOLDOUT_SHARE)
    holdout = df.iloc[np.sort(order[:n_holdout])].reset_index(drop=True)
    train = df.iloc[np.sort(order[n_holdout:])].reset_index(drop=True)
    return train, holdout


def inject(train: pd.DataFrame, holdout: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Return (rows, kind, notes): ``holdout`` with ``KIND_SHARE`` of its rows made anomalous by
    each of ``KINDS`` (disjoint rows, drawn with ``seed``), the kind of each row ("" for an
    untouched row) and one line per kind saying what was done. See the module docstring."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + 1000)
    rows = holdout.copy()
    kind = np.full(len(rows), "", dtype=object)
    per_kind = round(len(rows) * KIND_SHARE)
    free = set(range(len(rows)))
    notes = []

    def draw(candidates: np.ndarray) -> np.ndarray:
        pool = np.array(sorted(free.intersection(candidates.tolist())))
        chosen = np.sort(rng.choice(pool, size=min(per_kind, len(pool)), replace=False))
        free.difference_update(chosen.tolist())
        return chosen

    # swap: one pair per row, drawn; only rows where both cells are present and differ
    pair_of_row = rng.integers(len(SWAP_PAIRS), size=len(rows))
    ok = np.array([
        pd.notna(rows.at[i, a]) and pd.notna(rows.at[i, b]) and rows.at[i, a] != rows.at[i, b]
        for i, (a, b) in ((i, SWAP_PAIRS[p]) for i, p in enumerate(pair_of_row))
    ])
    chosen = draw(np.flatnonzero(ok))
    for i in chosen:
        a, b = SWAP_PAIRS[pair_of_row[i]]
        rows.at[i, a], rows.at[i, b] = rows.at[i, b], rows.at[i, a]
    kind[chosen] = "swap"
    counts = np.bincount(pair_of_row[chosen], minlength=len(SWAP_PAIRS))
    notes.append("swap: " + ", ".join(f"{a}<->{b} {n}" for (a, b), n in zip(SWAP_PAIRS, counts, strict=True)))

    # range: a dollar amount at 10 x its training maximum
    chosen = draw(np.arange(len(rows)))
    columns = rng.choice(DOLLAR_COLUMNS, size=len(chosen))
    for i, column in zip(chosen, columns, strict=True):
        rows.at[i, column] = 10 * train[column].max()
    kind[chosen] = "range"
    notes.append("range: 10 x the training max of " + ", ".join(
        f"{c} {int((columns == c).sum())}" for c in DOLLAR_COLUMNS))

    # combination: a plan that never occurs at the row's site in the training rows
    seen = set(zip(train["plan"], train["site"], strict=True))
    plans = sorted(train["plan"].dropna().unique())
    chosen = draw(np.arange(len(rows)))
    for i in chosen:
        site = rows.at[i, "site"]
        never = [p for p in plans if (p, site) not in seen]
        rows.at[i, "plan"] = rng.choice(never)
    kind[chosen] = "combination"
    notes.append(f"combination: plan replaced by one never seen at the row's site ({len(chosen)} rows)")

    # flag: a 0/1 column set to 2
    chosen = draw(np.arange(len(rows)))
    columns = rng.choice(FLAG_COLUMNS, size=len(chosen))
    for i, column in zip(chosen, columns, strict=True):
        rows.at[i, column] = 2
    kind[chosen] = "flag"
    notes.append("flag: set to 2 in " + ", ".join(f"{c} {int((columns == c).sum())}" for c in FLAG_COLUMNS))
    return rows, kind, notes


def numeric_matrix(train: pd.DataFrame, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, rows) as float matrices, median-imputed and standardised with the training
    rows' medians, means and standard deviations (a constant column divided by 1)."""
    import numpy as np

    a = train.to_numpy(dtype=float)
    b = rows[list(train.columns)].to_numpy(dtype=float)
    median = np.nanmedian(a, axis=0)
    a = np.where(np.isnan(a), median, a)
    b = np.where(np.isnan(b), median, b)
    mean, std = a.mean(axis=0), a.std(axis=0)
    std[std == 0] = 1.0
    return (a - mean) / std, (b - mean) / std


# ----------------------------------------------------------------------------- contestants


def limit_threads(threads: int) -> None:
    """Use ``threads`` torch and BLAS threads in this process."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB: its VmHWM (ru_maxrss of a 'spawn'
    child also counts the parent's memory at the fork before its exec)."""
    return proc_status_mib(os.getpid(), ("VmHWM:",)).get("VmHWM:", float("nan"))


def vaekit_image_options(name: str, job: dict) -> dict[str, Any]:
    """Keyword options of ``vaekit.train`` for the MNIST setup ``name``."""
    return {
        "encoder": [400], "latent_dim": 20, "batch_size": 128, "lr": 1e-3, "epochs": job["epochs"],
        "test_fraction": 0.01, "val_fraction": 0.0, "seed": job["seed"], **VAEKIT_SETUPS[name],
    }


def fit_and_score(job: dict) -> dict:
    """Fit one contestant and score the rows; runs in a fresh 'spawn' child. ``job["part"]`` is
    "mnist" (``job["digit"]``) or "tables". Returns {"scores": {name: array}, "fit_s",
    "score_s", "peak_rss_mib", ...}."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    limit_threads(job["threads"])
    name, seed = job["contestant"], job["seed"]
    if job["part"] == "mnist":
        train_x, train_y, test_x, _ = read_mnist(Path(job["mnist_dir"]))
        train_u8 = train_x[train_y == job["digit"]]
        if job.get("limit"):
            train_u8, test_x = train_u8[: job["limit"]], test_x[: job["limit"]]
        train = train_u8.reshape(len(train_u8), -1).astype(np.float32) / 255.0
        rows = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    else:
        import pandas as pd

        frame = pd.read_pickle(job["frames"])
        train_df, rows_df = frame["train"], frame["rows"]
        train, rows = numeric_matrix(train_df, rows_df)
    out: dict[str, Any] = {"n_train": len(train), "n_scored": len(rows)}
    scores: dict[str, np.ndarray] = {}
    # Each library's modules load before the clock starts.
    if name.startswith("pyod"):
        from pyod.models.vae import VAE
    elif name == "iforest":
        from sklearn.ensemble import IsolationForest
    elif name.startswith("vaekit"):
        import vaekit
        import vaekit.evaluation.iwae
        import vaekit.tables
        import vaekit.training.loop  # noqa: F401
    started = time.perf_counter()
    if name in ("pyod", "pyod-raw"):
        model = VAE(epoch_num=job["epochs"], random_state=seed, verbose=0,
                    **({"preprocessing": False} if name == "pyod-raw" else {}))
        model.fit(train)
        out["fit_s"] = time.perf_counter() - started
        started = time.perf_counter()
        scores[name] = model.decision_function(rows)
    elif name == "iforest":
        model = IsolationForest(random_state=seed).fit(train)
        out["fit_s"] = time.perf_counter() - started
        started = time.perf_counter()
        scores[name] = -model.score_samples(rows)
    elif name == "class-mean":
        mean = train.mean(axis=0)
        out["fit_s"] = time.perf_counter() - started
        started = time.perf_counter()
        scores[name] = np.sqrt(((rows - mean) ** 2).sum(axis=1))
    elif name.startswith("vaekit"):
        run_dir = Path(job["run_dir"])
        if job["part"] == "mnist":
            with tempfile.TemporaryDirectory(prefix="bench-anomaly-") as tmp:
                data = Path(tmp) / f"mnist-{job['digit']}.npy"
                np.save(data, train_u8)
                vae = vaekit.train(data=str(data), out=run_dir, force=True, progress="quiet",
                                   **vaekit_image_options(name, job))
            x: Any = rows  # [N, 784]: an [N, 28, 28] array is read as one example (reported)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)  # this script's own folder, from an earlier run
            model = vaekit.tables.TableVAE(epochs=job["epochs"], seed=seed, out=run_dir, progress="quiet")
            model.fit(train_df.reset_index(drop=True))
            vae = model.vae
            x = rows_df.reset_index(drop=True)
        out["fit_s"] = time.perf_counter() - started
        out["score_s_each"] = {}
        started = time.perf_counter()
        for kind in VAEKIT_SCORES:
            began = time.perf_counter()
            k = {"recon": {}}.get(kind, {"k": SCORE_K})
            if job["part"] == "mnist":
                scores[f"{name} {kind}"] = np.asarray(vae.score(x, kind=kind, seed=0, **k), dtype=float)
            else:
                scores[f"{name} {kind}"], refused = table_scores(vae, x, frame["kind"], kind, k)
                out.setdefault("refused", {})[f"{name} {kind}"] = refused
            out["score_s_each"][kind] = time.perf_counter() - began
    else:
        raise ValueError(name)
    out["score_s"] = time.perf_counter() - started
    if name.startswith("vaekit"):
        # The two parts by which nll differs from recon (nll = recon + (elbo - recon) - (elbo - nll)),
        # each scored as an anomaly score of its own: the KL of the posterior plus the extra cost of
        # decoding drawn codes rather than the mean; and the importance weighting's gain.
        scores[f"{name} elbo-recon"] = scores[f"{name} elbo"] - scores[f"{name} recon"]
        scores[f"{name} elbo-nll"] = scores[f"{name} elbo"] - scores[f"{name} nll"]
    out["peak_rss_mib"] = peak_rss_mib()
    out["scores"] = scores
    return out


def table_scores(vae: Any, rows: pd.DataFrame, kinds: np.ndarray, kind: str, k: dict) -> tuple[np.ndarray, dict]:
    """Return (scores, refused): ``vae.score`` of the table ``rows``. Where vaekit refuses the
    rows (a ``DataError``, e.g. a value a category column never had in training), each anomaly
    kind's rows are scored apart: the refused ones get NaN and ``refused`` maps their kind to
    the error message."""
    import numpy as np

    from vaekit.runtime.errors import DataError

    try:
        return np.asarray(vae.score(rows, kind=kind, seed=0, **k), dtype=float), {}
    except DataError:
        pass
    scores = np.full(len(rows), np.nan)
    refused = {}
    for group in dict.fromkeys(kinds):
        where = np.flatnonzero(kinds == group)
        try:
            part = vae.score(rows.iloc[where].reset_index(drop=True), kind=kind, seed=0, **k)
            scores[where] = np.asarray(part, dtype=float)
        except DataError as err:
            refused[group or "untouched"] = f"DataError: {err}"
    return scores, refused


def child_main(job: dict, conn: Any) -> None:
    """Entry point of a contestant's process: send back ``fit_and_score(job)`` or the error."""
    import traceback

    try:
        conn.send(("ok", fit_and_score(job)))
    except BaseException as err:  # noqa: BLE001 - reported by the parent, which goes on
        conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=-4)}"))
    finally:
        conn.close()


def in_child(job: dict) -> dict:
    """Run ``fit_and_score(job)`` in a fresh 'spawn' process and return its result."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=child_main, args=(job, send))
    process.start()
    send.close()
    while not receive.poll(1.0):
        if not process.is_alive():
            raise RuntimeError(f"the {job['contestant']} process died (exit code {process.exitcode})")
    status, result = receive.recv()
    process.join(timeout=60)
    if process.is_alive():
        process.terminate()
        process.join()
    if status != "ok":
        raise RuntimeError(result)
    return result


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more unusual) for 0/1 ``labels``; NaN
    when a score is NaN (a row not scored). Infinite scores (vaekit: +inf for a row with a
    category never seen in training) rank above (+inf) or below (-inf) every finite one, ties
    among themselves, as the curve's ranks need."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    if np.isnan(scores).any():
        return float("nan")
    finite = scores[np.isfinite(scores)]
    low, high = (finite.min() - 1.0, finite.max() + 1.0) if len(finite) else (-1.0, 1.0)
    return float(roc_auc_score(labels, np.clip(scores, low, high)))


# ----------------------------------------------------------------------------- parts


def run_mnist(args: Any, contestants: list[str], failures: list[str]) -> list[dict]:
    """The one-class MNIST part: one row per (digit, score)."""
    import numpy as np

    _, _, _, test_y = read_mnist(args.mnist_dir)
    if args.limit:
        test_y = test_y[: args.limit]
    results = []
    for digit in args.digits:
        labels = (test_y != digit).astype(int)
        shift = digit % len(contestants)
        for name in contestants[shift:] + contestants[:shift]:
            job = {"part": "mnist", "contestant": name, "digit": digit, "epochs": args.epochs, "seed": args.seed,
                   "threads": args.threads, "mnist_dir": str(args.mnist_dir), "limit": args.limit,
                   "run_dir": str(args.work / f"mnist-{name}-{digit}")}
            try:
                out = in_child(job)
            except Exception as err:  # one contestant failing must not lose the others' results
                failures.append(f"mnist {name} digit {digit}: {err}")
                print(f"mnist {name} digit {digit} failed: {err}", file=sys.stderr)
                continue
            for score_name, scores in out.pop("scores").items():
                row = {"part": "mnist", "digit": digit, "contestant": name, "score": score_name,
                       "auroc": auroc(labels, scores), "unscored": int(np.isnan(scores).sum()),
                       "infinite": int(np.isinf(scores).sum()), **out}
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    return results


def run_tables(args: Any, contestants: list[str], failures: list[str]) -> tuple[list[dict], dict]:
    """The randhie part: one row per (score, anomaly kind); and what was injected."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(args.table)
    train, holdout = split_table(df, args.seed)
    rows, kind, notes = inject(train, holdout, args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    frames = args.work / "randhie-frames.pkl"
    pd.to_pickle({"train": train, "rows": rows, "kind": kind}, frames)
    rows.to_csv(args.work / "randhie-rows.csv", index=False)
    info = {"n_train": len(train), "n_holdout": len(holdout), "notes": notes,
            "counts": {k: int((kind == k).sum()) for k in KINDS}, "n_clean": int((kind == "").sum())}
    print(f"randhie: {len(train)} training rows, {len(holdout)} held out; " + "; ".join(notes), file=sys.stderr)
    results = []
    for name in [c for c in contestants if c in TABLE_CONTESTANTS]:
        job = {"part": "tables", "contestant": name, "epochs": args.epochs, "seed": args.seed,
               "threads": args.threads, "frames": str(frames), "run_dir": str(args.work / f"randhie-{name}")}
        try:
            out = in_child(job)
        except Exception as err:
            failures.append(f"tables {name}: {err}")
            print(f"tables {name} failed: {err}", file=sys.stderr)
            continue
        refused = out.pop("refused", {})
        for score_name, scores in out.pop("scores").items():
            aurocs = {}
            for k in (*KINDS, "all", "all but flag"):
                anomalous = {"all": kind != "", "all but flag": (kind != "") & (kind != "flag")}.get(k, kind == k)
                keep = (kind == "") | anomalous
                aurocs[k] = auroc((kind[keep] != "").astype(int), scores[keep])
            row = {"part": "tables", "contestant": name, "score": score_name, "auroc": aurocs,
                   "refused": refused.get(score_name) or {},
                   "unscored": int(np.isnan(scores).sum()), "infinite": int(np.isinf(scores).sum()),
                   "infinite_by_kind": {k or "untouched": int(np.isinf(scores[kind == k]).sum()) for k in ("", *KINDS)},
                   **out}
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    return results, info


def score_cli(run_dir: Path, data: Path, k: int, out: Path, threads: int) -> dict:
    """Run ``vaekit score RUN --data FILE --k K --out OUT`` in a fresh process; return its wall
    seconds, peak RSS (os.wait4) and exit status."""
    vaekit = Path(sys.executable).parent / "vaekit"
    command = [str(vaekit), "score", str(run_dir), "--data", str(data), "--k", str(k), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    logs = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # pipes could fill while we poll
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=logs[0], stderr=logs[1], env=env)
    peak = {"VmHWM:": 0.0, "RssAnon:": 0.0, "RssFile:": 0.0}
    while True:
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        for key, value in proc_status_mib(process.pid, tuple(peak)).items():
            peak[key] = max(peak[key], value)
        time.sleep(0.05)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = (f.seek(0) or f.read().decode() for f in logs)
    return {"command": " ".join(command), "wall_s": wall, "peak_rss_mib": peak["VmHWM:"],
            "peak_rss_anon_mib": peak["RssAnon:"], "peak_rss_file_mib": peak["RssFile:"], "rc": process.returncode,
            "stderr_tail": (stderr or stdout)[-400:]}


def proc_status_mib(pid: int, keys: tuple[str, ...]) -> dict[str, float]:
    """Return the fields ``keys`` (e.g. "VmHWM:") of /proc/PID/status in MiB; those it cannot
    read are left out. VmHWM is the peak RSS of the program the process runs now (exec starts it
    afresh, unlike ru_maxrss, which a child started with vfork inherits from its parent);
    RssAnon is memory the process allocated, RssFile pages of files it maps (libraries, a
    memory-mapped .npy), which the kernel can drop and read again."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] in keys:
                    out[fields[0]] = int(fields[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return out


def run_throughput(args: Any, failures: list[str]) -> list[dict]:
    """The throughput part: ``vaekit score`` on the MNIST test set, 6 x that, and randhie rows."""
    import numpy as np
    import pandas as pd

    args.work.mkdir(parents=True, exist_ok=True)
    _, _, test_x, _ = read_mnist(args.mnist_dir)
    # Grey levels in [0, 1] as float32: a binarising run refuses uint8 pixels (its levels are 2),
    # which the uint8 row below records.
    test = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    files: dict[str, tuple[Path, str]] = {}
    files["mnist test, uint8"] = (args.work / "mnist-test-uint8.npy", "mnist")
    np.save(files["mnist test, uint8"][0], test_x)
    files["mnist test"] = (args.work / "mnist-test.npy", "mnist")
    np.save(files["mnist test"][0], test)
    files[f"mnist test x{TILE_IMAGES}"] = (args.work / f"mnist-test-x{TILE_IMAGES}.npy", "mnist")
    np.save(files[f"mnist test x{TILE_IMAGES}"][0], np.tile(test, (TILE_IMAGES, 1)))
    del test
    runs = {"mnist": args.work / "mnist-vaekit-0", "table": args.work / "randhie-vaekit"}
    if not (runs["mnist"] / "config.json").exists():
        print("throughput: training the digit-0 vaekit model", file=sys.stderr)
        in_child({"part": "mnist", "contestant": "vaekit", "digit": 0, "epochs": args.epochs, "seed": args.seed,
                  "threads": args.threads, "mnist_dir": str(args.mnist_dir), "limit": None,
                  "run_dir": str(runs["mnist"])})
    frames = args.work / "randhie-frames.pkl"
    if frames.exists() and (runs["table"] / "config.json").exists():
        frame = pd.read_pickle(frames)
        rows = frame["rows"]
        files["randhie held-out"] = (args.work / "randhie-rows.csv", "table")
        rows.to_csv(files["randhie held-out"][0], index=False)
        n_train = len(frame["train"])
        tiled = pd.concat([rows] * -(-TILE_TABLE * n_train // len(rows)), ignore_index=True)
        files[f"randhie held-out x{len(tiled) // len(rows)}"] = (args.work / "randhie-rows-tiled.csv", "table")
        tiled.to_csv(files[f"randhie held-out x{len(tiled) // len(rows)}"][0], index=False)
        del frame, rows, tiled
    else:
        print("throughput: no tables part in the work folder; randhie skipped", file=sys.stderr)
    results = []
    for label, (path, run) in files.items():
        n = len(np.load(path, mmap_mode="r")) if path.suffix == ".npy" else sum(1 for _ in open(path)) - 1
        for k in (1,) if "uint8" in label else (1, SCORE_K):
            out = score_cli(runs[run], path, k, args.work / "scores.npy", args.threads)
            row = {"part": "throughput", "data": label, "rows": n, "k": k, **out,
                   "rows_per_s": n / out["wall_s"] if out["rc"] == 0 else None}
            if out["rc"] != 0 and "uint8" not in label:
                failures.append(f"throughput {label} K={k}: exit {out['rc']}: {out['stderr_tail']}")
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    return results


# ----------------------------------------------------------------------------- report


def score_seconds(row: dict, name: str) -> float:
    """Seconds the score ``name`` took (NaN for the derived elbo-recon and elbo-nll)."""
    if name.split()[-1] in DERIVED_SCORES:
        return float("nan")
    return row.get("score_s_each", {}).get(name.split()[-1], row["score_s"])


def mnist_table(results: list[dict]) -> str:
    """Markdown: one row per score, a column per digit, then the mean."""
    import numpy as np

    digits = sorted({r["digit"] for r in results})
    names = list(dict.fromkeys(r["score"] for r in results))
    lines = ["| score | " + " | ".join(str(d) for d in digits) + " | mean | fit s (mean) | score s (mean) | peak RSS MiB |",
             "| --- |" + " --- |" * (len(digits) + 4)]
    for name in names:
        rows = {r["digit"]: r for r in results if r["score"] == name}
        values = [rows[d]["auroc"] if d in rows else float("nan") for d in digits]
        fit_s = np.mean([r["fit_s"] for r in rows.values()])
        score_s = np.mean([score_seconds(r, name) for r in rows.values()])
        rss = max(r["peak_rss_mib"] for r in rows.values())
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | **{np.mean(values):.3f}** | "
                     f"{fit_s:.1f} | {fmt(score_s)} | {rss:.0f} |")
    return "\n".join(lines)


def tables_table(results: list[dict]) -> str:
    """Markdown: one row per score, a column per anomaly kind, then all kinds, and all but the
    flags (which vaekit may refuse to score); then the refusals."""
    columns = (*KINDS, "all", "all but flag")
    lines = ["| score | " + " | ".join(columns) + " | fit s | score s | peak RSS MiB |",
             "| --- |" + " --- |" * (len(columns) + 3)]
    refusals = []
    for r in results:
        score_s = score_seconds(r, r["score"])
        lines.append(f"| {r['score']} | " + " | ".join(fmt(r["auroc"][k]) if r["auroc"][k] != r["auroc"][k]
                                                       else f"{r['auroc'][k]:.3f}" for k in columns)
                     + f" | {r['fit_s']:.1f} | {fmt(score_s)} | {r['peak_rss_mib']:.0f} |")
        for group, message in (r.get("refused") or {}).items():
            refusals.append(f"{r['score']} refused the {group} rows: {message}")
        if r.get("infinite"):
            refusals.append(f"{r['score']}: +inf for " + ", ".join(
                f"{n} {group} rows" for group, n in r["infinite_by_kind"].items() if n))
    return "\n".join(lines + ([""] + sorted(set(refusals)) if refusals else []))


def throughput_table(results: list[dict]) -> str:
    """Markdown: one row per (file, K); then, per K, the rate of the tiled file beyond the
    plain one (start-up and reading the model left out)."""
    lines = ["| data | rows | K | wall s (process) | rows/s | peak RSS MiB | peak allocated / mapped files MiB |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    notes = []
    for r in results:
        rate = fmt(r["rows_per_s"]) if r["rc"] == 0 else f"refused (exit {r['rc']})"
        lines.append(f"| {r['data']} | {r['rows']:,} | {r['k']} | {r['wall_s']:.1f} | {rate} | {r['peak_rss_mib']:.0f} | "
                     f"{r['peak_rss_anon_mib']:.0f} / {r['peak_rss_file_mib']:.0f} |")
        if r["rc"] != 0:
            notes.append(f"{r['data']}, K={r['k']}: " + r["stderr_tail"].strip().splitlines()[-1])
    for r in results:
        base = [b for b in results if b["k"] == r["k"] and b["rc"] == 0 and r["rc"] == 0 and b["rows"] < r["rows"]
                and b["data"].split(",")[0] == r["data"].split(" x")[0] and " x" in r["data"]]
        if base and r["wall_s"] - base[0]["wall_s"] > 1.0:  # else too close to tell from the noise
            b = base[0]
            rate = (r["rows"] - b["rows"]) / max(r["wall_s"] - b["wall_s"], 1e-9)
            notes.append(f"{r['data']}, K={r['k']}: {rate:,.0f} rows/s beyond the first {b['rows']:,} "
                         "(start-up and loading left out)")
    return "\n".join(lines + ([""] + notes if notes else []))


def versions() -> dict[str, str]:
    """Versions of the libraries measured."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("vaekit", "pyod", "scikit-learn", "torch", "numpy", "pandas"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str:
    """The repository's short HEAD revision, with '+changes' when the tree has edits."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--parts", type=csv_choices(PARTS), default=list(PARTS), help="comma-separated parts")
    parser.add_argument("--only", type=csv_choices(CONTESTANTS), default=list(DEFAULT_CONTESTANTS),
                        help="comma-separated contestants (default: all but vaekit-dlogistic)")
    parser.add_argument("--digits", type=lambda s: [int(d) for d in s.split(",")], default=list(range(10)),
                        help="digits of the mnist part (default 0..9)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of every neural contestant (default 30)")
    parser.add_argument("--limit", type=int, default=None,
                        help="smoke runs: keep the first N training images of the digit and N test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    parser.add_argument("--mnist-dir", type=Path, default=None, help="MNIST IDX files (default ../shared/data/mnist)")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="randhie.csv")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-anomaly",
                        help="folder for the run folders and data files (default runs/bench-anomaly)")
    parser.add_argument("--json", type=Path, default=None, help="write every result here")
    args = parser.parse_args()
    args.mnist_dir = args.mnist_dir or mnist_dir()

    started = time.strftime("%Y-%m-%d %H:%M")
    failures: list[str] = []
    report: dict[str, Any] = {"command": " ".join(["python -m bench.anomaly", *sys.argv[1:]]), "started": started, "revision": git_revision(),
                              "versions": versions(), "threads": args.threads, "epochs": args.epochs,
                              "seed": args.seed, "cpus": os.cpu_count()}
    if "mnist" in args.parts:
        report["mnist"] = run_mnist(args, args.only, failures)
    if "tables" in args.parts:
        report["tables"], report["tables_injected"] = run_tables(args, args.only, failures)
    if "throughput" in args.parts:
        report["throughput"] = run_throughput(args, failures)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M")

    print(f"\n{started} to {report['finished']}, {os.cpu_count()} CPUs, {args.threads} threads, vaekit at "
          f"{report['revision']}; " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    print(f"{args.epochs} epochs for every neural contestant, seed {args.seed}; AUROC (higher = better)\n")
    if report.get("mnist"):
        print("One-class MNIST (train on digit d, score the 10,000 test images, anomalies = other digits):\n")
        print(mnist_table(report["mnist"]) + "\n")
    if report.get("tables"):
        info = report["tables_injected"]
        print(f"randhie: {info['n_train']} training rows; {info['n_holdout']} held out, {info['n_clean']} untouched, "
              + ", ".join(f"{k} {n}" for k, n in info["counts"].items()) + "\n")
        print(tables_table(report["tables"]) + "\n")
    if report.get("throughput"):
        print("vaekit score (a fresh process per call):\n")
        print(throughput_table(report["throughput"]) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**report, "failures": failures}, indent=1) + "\n")
        print(f"results written to {args.json}")
    if failures:
        print("\nfailed:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
