"""Synthetic tables, side by side: vaekit's TableVAE against CTGAN's TVAE, judged by SDMetrics.

For each table and seed the rows are split 80/20 (seeded; every contestant gets the same split).
Each contestant fits on the 80 %, samples 100,000 rows (timed), and its first HOLDOUT-size rows
are scored against the held-out 20 %, so real and synthetic sides have the same number of rows.

Contestants (``--only``, comma-separated; all three by default):
  tvae     CTGAN's TVAE (ctgan 0.12.1, batch 500, CPU). It fits with missing numbers but then
           fails to sample ("Shape of passed values is (N, 2), indices imply (N, 3)"), so it
           gets one or both of (``--tvae-variants``):
             indicators  all rows; each numeric column with missing cells gets a 0/1 indicator
                         column (a discrete column) and its gaps filled with the training median;
                         on output the indicators are dropped and their cells set back to NaN
             complete    only the training rows without missing cells (the holdout stays whole)
           penguins: indicators; randhie: both. Missing text cells are a category of their own
           in TVAE's one-hot encoder, so they need nothing. Discrete columns: see
           ``discrete_columns``.
  vaekit   ``vaekit.tables.TableVAE(epochs, batch_size=500, seed, progress="quiet")`` with its
           defaults otherwise, fit on the training DataFrame as it is (missing cells included,
           every row trains); its modules are imported before the clock starts, as TVAE's are by
           ``from ctgan import TVAE``. Skipped with a message when ``vaekit.tables`` cannot be
           imported.
  ceiling  real against real: a random training subsample of the holdout's size; no fit, no
           sampling. The best score a generator could expect.

Measures, per table, contestant and seed:
  quality       SDMetrics' single-table QualityReport overall score (sdmetrics 0.32.0: mean of
                Column Shapes and Column Pair Trends; pair trends count only pairs whose real
                |correlation| > 0.5 or Cramer's V > 0.3, sdmetrics' defaults). Metadata:
                "categorical" for the discrete columns, "numerical" for the rest.
  detection     AUC of a classifier telling held-out real rows (1) from synthetic rows (0),
                scikit-learn, 5-fold stratified CV (seeded), mean of the folds' AUCs, not
                clipped: 0.5 is perfect, 1.0 is fully detected. "logistic" mirrors SDMetrics'
                LogisticDetection (mean imputation, RobustScaler, LogisticRegression), except that
                it one-hot encodes the discrete columns (also integer codes) and uses 5 folds;
                "boosting" is HistGradientBoostingClassifier (missing cells passed as they are,
                so a wrong missing-cell rate is visible to it). Also kept in the JSON:
                SDMetrics' own LogisticDetection (3 folds), which returns 1 - mean(2 * max(AUC,
                0.5) - 1): 1 is perfect; its AUC is 1 - score / 2 (folds below 0.5 count 0.5).
  fit_s         seconds of the contestant's fit call (its own preprocessing included: TVAE's
                per-column Gaussian mixtures are most of its fit on randhie).
  sample_s      seconds to sample 100,000 rows (TVAE: plus dropping its indicator columns).
  peak memory   each run is a fresh 'spawn' process that imports its library, receives the
                training rows, fits and samples (``--threads`` torch and BLAS threads).
                peak_rss_mib: its own ru_maxrss (the kernel's exact high-water mark; the JSON also
                has peak_rss_fit_mib, read after fitting, and base_rss_mib, the RSS just before
                fitting). peak_tree_pss_mib: the PSS of that process plus every process it starts
                (TVAE transforms columns in joblib worker processes, which ru_maxrss leaves out),
                summed and sampled every 0.2 s from outside, so a shorter spike can be missed.

Scoring runs on one BLAS thread and is not timed. Full run (about 20 minutes of TVAE and
scoring on 2 idle cores, plus vaekit's fits; timings need a machine with nothing else running;
``make bench-env`` builds .venv-bench with ctgan and sdmetrics pinned):

    .venv-bench/bin/python -m bench.tables --json runs/bench-tables.json
    .venv-bench/bin/python -m bench.tables --tables penguins --epochs 30 --seeds 1 --only tvae,ceiling
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import ROOT, csv_choices, script_parser

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data" / "tables"
#: table name -> (file name, epochs of the benchmark)
TABLES = {"penguins": ("penguins.csv", 300), "randhie": ("randhie.csv", 100)}
CONTESTANTS = ("tvae", "vaekit", "ceiling")
TVAE_VARIANTS = ("indicators", "complete")
DEFAULT_TVAE_VARIANTS = {"penguins": ("indicators",), "randhie": ("complete", "indicators")}
BATCH_SIZE = 500
SAMPLE_ROWS = 100_000
HOLDOUT_SHARE = 0.2
FOLDS = 5
#: integer columns with at most this many distinct values are discrete (codes, flags)
MAX_CODES = 20
INDICATOR_SUFFIX = "__missing"


def discrete_columns(df: pd.DataFrame) -> list[str]:
    """Return the columns of ``df`` that are discrete: text columns, and integer columns (an
    integer dtype, or floats that are all whole numbers, as an integer column with missing cells
    reads) with at most ``MAX_CODES`` distinct values. This mirrors vaekit's schema inference,
    where such columns are binary or categorical; TVAE and SDMetrics are told the same kinds."""
    import pandas as pd

    out = []
    for name in df.columns:
        column = df[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            out.append(name)
            continue
        values = column.dropna()
        whole = pd.api.types.is_integer_dtype(column) or bool((values == values.round()).all())
        if whole and values.nunique() <= MAX_CODES:
            out.append(name)
    return out


def sdv_metadata(df: pd.DataFrame, discrete: list[str]) -> dict:
    """SDMetrics single-table metadata: "categorical" for ``discrete``, "numerical" otherwise."""
    return {
        "columns": {
            name: {"sdtype": "categorical" if name in discrete else "numerical"} for name in df.columns
        }
    }


def split(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, holdout): a seeded random 80/20 split of the rows, indexes reset."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(df))
    n_holdout = round(len(df) * HOLDOUT_SHARE)
    holdout = df.iloc[np.sort(order[:n_holdout])].reset_index(drop=True)
    train = df.iloc[np.sort(order[n_holdout:])].reset_index(drop=True)
    return train, holdout


def add_indicators(train: pd.DataFrame, discrete: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return ``train`` with a 0/1 indicator column after the table for each numeric column with
    missing cells, those cells filled with the column's median, and {column: indicator}."""
    out = train.copy()
    indicators = {}
    for name in train.columns:
        missing = train[name].isna()
        if name in discrete or not missing.any():
            continue
        indicator = name + INDICATOR_SUFFIX
        indicators[name] = indicator
        out[name] = train[name].fillna(train[name].median())
        out[indicator] = missing.astype("int64")
    return out, indicators


def drop_indicators(sample: pd.DataFrame, indicators: dict[str, str]) -> pd.DataFrame:
    """Undo ``add_indicators`` on synthetic rows: NaN where the indicator says 1, indicators dropped."""
    out = sample.copy()
    for name, indicator in indicators.items():
        out.loc[out[indicator].astype(int) == 1, name] = float("nan")
    return out.drop(columns=list(indicators.values()))


def rss_mib() -> float:
    """Current resident memory of this process, in MiB (Linux /proc)."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def tree_memory_mib(root: int) -> tuple[float, float]:
    """Return (PSS, RSS) in MiB summed over process ``root`` and its descendants (Linux /proc:
    PSS from smaps_rollup shares each shared page among the processes mapping it, so the sum does
    not count the shared libraries of worker processes more than once; RSS does)."""
    import os

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = [root], [root]
    while todo:
        pid = todo.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        tree += kids
        todo += kids
    pss = rss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss / 1024.0, rss / 1024.0


def run_contestant(job: dict) -> dict:
    """Fit one contestant on ``job["train"]`` and sample; runs in a fresh 'spawn' child, so that
    its peak memory is its own. Returns the times, memory and the first ``job["n_rows"]`` rows."""
    import resource
    import warnings

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")  # sklearn's mixture ConvergenceWarnings inside TVAE, etc.
    torch.set_num_threads(job["threads"])
    threadpool_limits(job["threads"])  # numpy's BLAS and OpenMP (TVAE's Gaussian mixtures) too
    torch.manual_seed(job["seed"])
    np.random.seed(job["seed"])
    train: pd.DataFrame = job["train"]
    seed, epochs = job["seed"], job["epochs"]

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    if job["contestant"] == "tvae":
        from ctgan import TVAE

        discrete = list(job["discrete"])
        indicators: dict[str, str] = {}
        if job["variant"] == "complete":
            data = train.dropna().reset_index(drop=True)
        else:
            data, indicators = add_indicators(train, discrete)
            discrete += list(indicators.values())
        model = TVAE(batch_size=BATCH_SIZE, epochs=epochs, cuda=False)
        model.set_random_state(seed)
        base = rss_mib()
        started = time.perf_counter()
        model.fit(data, discrete_columns=discrete)
        fit_s = time.perf_counter() - started
        peak_fit = peak()
        started = time.perf_counter()
        sample = drop_indicators(model.sample(SAMPLE_ROWS), indicators)
        sample_s = time.perf_counter() - started
        rows_used = len(data)
    elif job["contestant"] == "vaekit":
        # The library's own modules load before the clock, as ctgan's do at its import.
        import vaekit.data.tables
        import vaekit.evaluation.iwae
        import vaekit.training.loop  # noqa: F401
        from vaekit.tables import TableVAE

        options = job.get("vaekit_options") or {}
        model = TableVAE(epochs=epochs, batch_size=BATCH_SIZE, seed=seed, progress="quiet", **options)
        base = rss_mib()
        started = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - started
        peak_fit = peak()
        started = time.perf_counter()
        sample = model.sample(SAMPLE_ROWS)
        sample_s = time.perf_counter() - started
        share = model.options.get("test_fraction") or 0.0  # 0 by default: every row trains
        rows_used = len(train) - (min(max(round(len(train) * share), 1), len(train) - 1) if share else 0)
    else:
        raise ValueError(job["contestant"])
    return {
        "fit_s": fit_s,
        "sample_s": sample_s,
        "peak_rss_fit_mib": peak_fit,
        "peak_rss_mib": peak(),
        "base_rss_mib": base,
        "train_rows_used": rows_used,
        "sample_rows": len(sample),
        "synthetic": sample.head(job["n_rows"]).reset_index(drop=True),
    }


def child_main(job: dict, conn: Any) -> None:
    """Entry point of a contestant's process: send back ``run_contestant(job)`` or the error."""
    import traceback

    try:
        conn.send(("ok", run_contestant(job)))
    except BaseException as err:  # noqa: BLE001 - reported by the parent, which goes on
        conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=-3)}"))
    finally:
        conn.close()
        # TVAE transforms its columns in joblib's (loky) worker processes, which stay up for the
        # next call; multiprocessing joins every child at exit, so without this the process
        # never ends.
        if "joblib" in sys.modules:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True, kill_workers=True)


def in_child(job: dict, interval: float = 0.2) -> dict:
    """Run ``run_contestant(job)`` in a fresh 'spawn' process and return its result, with the
    sampled peak memory of that process and every process it starts (TVAE's joblib workers),
    read from here every ``interval`` seconds, so the sampling takes no time from the child."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=child_main, args=(job, send))
    process.start()
    send.close()
    peak_pss = peak_rss = 0.0
    while not receive.poll(interval):
        if not process.is_alive():
            raise RuntimeError(f"the {job['contestant']} process died (exit code {process.exitcode})")
        pss, rss = tree_memory_mib(process.pid)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
    status, result = receive.recv()
    process.join(timeout=60)
    if process.is_alive():
        print(f"the {job['contestant']} process did not end after sending its result; terminated", file=sys.stderr)
        process.terminate()
        process.join()
    if status != "ok":
        raise RuntimeError(result)
    result.update(peak_tree_pss_mib=peak_pss, peak_tree_rss_mib=peak_rss)
    return result


def align(synthetic: pd.DataFrame, real: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Return ``synthetic`` with ``real``'s columns and numeric dtypes (for scoring), and the
    columns whose names or dtypes differed (reported, so that a wrong output schema shows)."""
    import pandas as pd

    problems = [f"{name}: missing" for name in real.columns if name not in synthetic.columns]
    problems += [f"{name}: not in the table" for name in synthetic.columns if name not in real.columns]
    if problems:
        return synthetic, problems
    synthetic = synthetic[list(real.columns)].copy()
    for name in real.columns:
        want, got = real[name].dtype, synthetic[name].dtype
        if want != got:
            problems.append(f"{name}: {got} (real {want})")
            if pd.api.types.is_numeric_dtype(want) and pd.api.types.is_numeric_dtype(got):
                target = want if not synthetic[name].isna().any() else "float64"
                synthetic[name] = synthetic[name].astype(target)
    return synthetic, problems


def detection_features(real: pd.DataFrame, synthetic: pd.DataFrame, discrete: list[str]):
    """Return (X, y): real rows then synthetic rows, discrete columns one-hot (missing is a
    category), numeric columns as floats with NaN kept; y is 1 for real, 0 for synthetic."""
    import numpy as np
    import pandas as pd

    both = pd.concat([real, synthetic], ignore_index=True)
    parts = []
    for name in both.columns:
        if name in discrete:
            parts.append(pd.get_dummies(both[name].astype("string").fillna("<missing>"), prefix=name, dtype=float))
        else:
            parts.append(pd.to_numeric(both[name], errors="coerce").astype(float).rename(name))
    x = pd.concat(parts, axis=1).to_numpy(dtype=float)
    y = np.r_[np.ones(len(real)), np.zeros(len(synthetic))]
    return x, y


def detection_aucs(real: pd.DataFrame, synthetic: pd.DataFrame, discrete: list[str], seed: int) -> dict[str, float]:
    """Mean 5-fold AUC of each detector (0.5: cannot tell real from synthetic)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import RobustScaler

    x, y = detection_features(real, synthetic, discrete)
    detectors = {
        "logistic": lambda: Pipeline([
            ("imputer", SimpleImputer()),
            ("scaler", RobustScaler()),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]),
        "boosting": lambda: HistGradientBoostingClassifier(random_state=seed),
    }
    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(x, y))
    out = {}
    for name, make in detectors.items():
        aucs = []
        for fit_rows, test_rows in folds:
            model = make().fit(x[fit_rows], y[fit_rows])
            aucs.append(roc_auc_score(y[test_rows], model.predict_proba(x[test_rows])[:, 1]))
        out[name] = float(np.mean(aucs))
    return out


def score(real: pd.DataFrame, synthetic: pd.DataFrame, discrete: list[str], seed: int) -> dict[str, Any]:
    """SDMetrics' quality report and the detection AUCs of ``synthetic`` against held-out ``real``."""
    import warnings

    import numpy as np
    from threadpoolctl import threadpool_limits

    # One BLAS thread: on a busy machine the logistic regression's default threads spin and take
    # 20 times as long; scoring is not timed.
    with warnings.catch_warnings(), threadpool_limits(1):
        # sdmetrics 0.32 marks reports.single_table.QualityReport deprecated (FutureWarning) in
        # favour of reports.QualityReport, which takes {table: DataFrame}; same two properties.
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport
        from sdmetrics.single_table import LogisticDetection

        metadata = sdv_metadata(real, discrete)
        report = QualityReport()
        report.generate(real, synthetic, metadata, verbose=False)
        properties = dict(zip(report.get_properties()["Property"], report.get_properties()["Score"], strict=True))
        np.random.seed(seed)  # LogisticDetection's folds are shuffled with numpy's global state
        sdm_detection = float(LogisticDetection.compute(real, synthetic, metadata))
        aucs = detection_aucs(real, synthetic, discrete, seed)
    return {
        "quality": float(report.get_score()),
        "column_shapes": float(properties["Column Shapes"]),
        "column_pair_trends": float(properties["Column Pair Trends"]),
        "detection_auc_logistic": aucs["logistic"],
        "detection_auc_boosting": aucs["boosting"],
        "sdmetrics_logistic_detection": sdm_detection,
        "sdmetrics_logistic_detection_auc": 1 - sdm_detection / 2,
    }


def epochs_for(table: str, args: argparse.Namespace) -> int:
    if args.epochs is not None:
        return args.epochs
    return max(1, round(TABLES[table][1] * args.epochs_scale))


def vaekit_tables_missing() -> str | None:
    """Why vaekit's table estimator cannot run here, or None when it can be imported."""
    try:
        from vaekit.tables import TableVAE  # noqa: F401
    except ImportError as err:
        return f"{type(err).__name__}: {err}"
    return None


def versions() -> dict[str, str]:
    import importlib.metadata
    import platform

    out = {"python": platform.python_version()}
    for name in ("torch", "ctgan", "sdmetrics", "pandas", "numpy", "scikit-learn", "vaekit"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summarise(results: list[dict]) -> list[dict]:
    """Mean over seeds per (table, contestant), in first-seen order."""
    import numpy as np

    keys = ("quality", "column_shapes", "column_pair_trends", "detection_auc_logistic", "detection_auc_boosting",
            "sdmetrics_logistic_detection_auc", "fit_s", "sample_s", "peak_rss_mib", "peak_tree_pss_mib")
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in results:
        groups.setdefault((row["table"], row["contestant"]), []).append(row)
    out = []
    for (table, contestant), rows in groups.items():
        mean = {}
        for key in keys:
            values = [r[key] for r in rows if r.get(key) is not None]
            mean[key] = float(np.mean(values)) if values else None
        out.append({"table": table, "contestant": contestant, "epochs": rows[0]["epochs"],
                    "seeds": [r["seed"] for r in rows], "n_holdout": rows[0]["n_holdout"], **mean})
    return out


def print_tables(summary: list[dict], results: list[dict]) -> None:
    head = ("| table | contestant | epochs | seeds | quality | column shapes | pair trends | detection AUC logistic "
            "| detection AUC boosting | fit s | sample 100k s | peak RSS MiB | peak PSS MiB, with workers |")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for row in summary:
        print(f"| {row['table']} | {row['contestant']} | {row['epochs'] or '-'} | {len(row['seeds'])} | {fmt(row['quality'])} "
              f"| {fmt(row['column_shapes'])} | {fmt(row['column_pair_trends'])} | {fmt(row['detection_auc_logistic'], 2)} "
              f"| {fmt(row['detection_auc_boosting'], 2)} | {fmt(row['fit_s'], 1)} | {fmt(row['sample_s'], 2)} "
              f"| {fmt(row['peak_rss_mib'], 0)} | {fmt(row['peak_tree_pss_mib'], 0)} |")
    print("\nPer seed:")
    for row in results:
        print(f"  {row['table']} {row['contestant']} seed {row['seed']}: quality {fmt(row['quality'])}, "
              f"shapes {fmt(row['column_shapes'])}, pairs {fmt(row['column_pair_trends'])}, "
              f"AUC logistic {fmt(row['detection_auc_logistic'])}, boosting {fmt(row['detection_auc_boosting'])}, "
              f"sdmetrics LogisticDetection {fmt(row['sdmetrics_logistic_detection'])}, "
              f"fit {fmt(row.get('fit_s'), 1)} s, sample {fmt(row.get('sample_s'), 2)} s, "
              f"peak RSS {fmt(row.get('peak_rss_mib'), 0)} MiB (fit {fmt(row.get('peak_rss_fit_mib'), 0)}, "
              f"before fit {fmt(row.get('base_rss_mib'), 0)}), peak PSS with workers {fmt(row.get('peak_tree_pss_mib'), 0)} "
              f"MiB (RSS {fmt(row.get('peak_tree_rss_mib'), 0)}), train rows {row.get('train_rows_used', '-')}"
              + (f", schema differences: {row['schema_differences']}" if row.get("schema_differences") else ""))


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--tables", type=csv_choices(tuple(TABLES)), default=list(TABLES),
                        help="comma-separated tables of " + ",".join(TABLES) + " (default: both)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"folder of the CSV files (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--only", type=csv_choices(CONTESTANTS), default=list(CONTESTANTS),
                        help="comma-separated contestants of " + ",".join(CONTESTANTS) + " (default: all)")
    parser.add_argument("--tvae-variants", type=csv_choices(TVAE_VARIANTS),
                        help="TVAE's ways around missing numbers, for every table (default: penguins "
                             "indicators; randhie complete,indicators)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, help="epochs for every table (default: penguins 300, randhie 100)")
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="multiply each table's default epochs (e.g. 0.1 for a quick look)")
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads of each contestant's process (default 2)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--vaekit-options", type=json.loads, default={},
                        help='JSON of TableVAE options beside its defaults, e.g. \'{"prior": "normal"}\'')
    args = parser.parse_args()

    import warnings

    import pandas as pd

    from bench.common import machine_line

    with warnings.catch_warnings():  # imported here, so that score_s does not count the import
        warnings.simplefilter("ignore")
        import sdmetrics.reports.single_table  # noqa: F401

    contestants = list(args.only)
    if "vaekit" in contestants and (why := vaekit_tables_missing()):
        print(f"vaekit: skipped, vaekit.tables.TableVAE cannot be imported here ({why})", file=sys.stderr)
        contestants.remove("vaekit")
    if not contestants:
        sys.exit("nothing to run")
    results: list[dict] = []
    failures = []
    for table in args.tables:
        df = pd.read_csv(args.data_dir / TABLES[table][0])
        discrete = discrete_columns(df)
        epochs = epochs_for(table, args)
        variants = args.tvae_variants or DEFAULT_TVAE_VARIANTS[table]
        names = [f"tvae-{v}" if c == "tvae" else c for c in contestants for v in (variants if c == "tvae" else [""])]
        print(f"{table}: {len(df)} rows, discrete columns {discrete}, {epochs} epochs", file=sys.stderr)
        for seed in range(args.seeds):
            train, holdout = split(df, seed)
            shift = seed % len(names)
            for name in names[shift:] + names[:shift]:
                row: dict[str, Any] = {"table": table, "contestant": name, "seed": seed, "epochs": epochs,
                                       "n_train": len(train), "n_holdout": len(holdout), "n_synthetic": len(holdout)}
                if name == "ceiling":
                    synthetic = train.sample(n=len(holdout), random_state=seed).reset_index(drop=True)
                    row.update(epochs=None, train_rows_used=len(train))
                else:
                    contestant, _, variant = name.partition("-")
                    job = {"contestant": contestant, "variant": variant, "train": train, "discrete": discrete,
                           "epochs": epochs, "seed": seed, "threads": args.threads, "n_rows": len(holdout),
                           "vaekit_options": args.vaekit_options}
                    try:
                        out = in_child(job)
                    except Exception as err:  # one contestant failing must not lose the others' results
                        failures.append(f"{table} {name} seed {seed}: {type(err).__name__}: {err}")
                        print(f"{table} {name} seed {seed} failed: {type(err).__name__}: {err}", file=sys.stderr)
                        continue
                    synthetic = out.pop("synthetic")
                    synthetic, row["schema_differences"] = align(synthetic, holdout)
                    row.update(out)
                started = time.perf_counter()
                row.update(score(holdout, synthetic, discrete, seed))
                row["score_s"] = time.perf_counter() - started
                results.append(row)
                print(f"{table} {name} seed {seed}: " + json.dumps({k: v for k, v in row.items() if k not in (
                    "table", "contestant", "seed")}), file=sys.stderr)

    summary = summarise(results)
    print(f"\n{machine_line(args.threads)}; {versions()}")
    print(f"batch {BATCH_SIZE}, split 80/20 per seed, synthetic rows scored = holdout rows, "
          f"sampling timed for {SAMPLE_ROWS:,} rows; mean of seeds\n")
    print_tables(summary, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": " ".join(sys.argv), "machine": machine_line(args.threads), "versions": versions(),
            "batch_size": BATCH_SIZE, "sample_rows_timed": SAMPLE_ROWS, "holdout_share": HOLDOUT_SHARE,
            "detection_folds": FOLDS, "summary": summary, "results": results, "failures": failures,
        }, indent=1) + "\n")
        print(f"\nresults written to {args.json}")
    if failures:
        print("\nfailed:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
