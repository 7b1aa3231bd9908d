"""Does peak memory stay flat as the training data grow, with ``--data-loading disk``, and how
fast do batches come from disk next to memory?

    python -m bench.data_size [--sizes 0.5,2,8] [--formats npy,parquet] [--memory-sizes 0.5]

For each format and size (GB of data) it writes a synthetic table into a temporary folder (a
standard normal's float32 values: a ``.npy`` array ``[N, --npy-columns]``, or a Parquet file of
``--parquet-columns`` float32 columns in row groups of ``block_rows_for(columns)`` rows, what a
converted CSV gets), trains one epoch on it with ``vaekit train --data FILE --data-loading disk``
in a child process, and reports the child's peak resident memory (VmHWM, sampled from
/proc/PID/status every 0.05 s: the child's own, whatever the parent holds), the epoch's
training rows/s (``examples_per_s`` in metrics.jsonl) and the command's wall time, start-up,
checks, validation and the end-of-run test evaluation included. Then the same with
``--data-loading memory`` at ``--memory-sizes`` (the sizes that fit). Each file is deleted once
measured. The goals of issue 18: peak RSS within 1.2 x from the smallest size to the largest,
and disk throughput at least 0.8 x memory's at a size that fits.

``npy-blocks`` trains on the ``.npy`` files under ``--shuffle blocks`` (whole blocks read in one
call each, as a file larger than the page cache needs). ``--repeats N`` measures each size that
is also trained in memory N times, disk and memory in turn, and keeps the best rows/s and the
highest peak (throughput on a shared machine is noisy). ``--sizes 0.01,0.04`` is a quick
run (a minute).
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

from bench.common import script_parser

#: file formats (and the shuffle they are trained with): npy (full shuffle: random rows),
#: npy-blocks (the same file under --shuffle blocks: whole blocks read), parquet (blocks)
FORMATS = ("npy", "npy-blocks", "parquet")


def sizes(text: str) -> list[float]:
    """Parse ``0.5,2,8`` into GB sizes."""
    return [float(v) for v in text.split(",") if v]


def write_npy(path: Path, rows: int, columns: int, seed: int = 0) -> None:
    """Write a float32 ``[rows, columns]`` standard normal array as ``.npy``, in chunks."""
    import numpy as np

    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, columns))
    rng = np.random.default_rng(seed)
    step = max(1, (64 << 20) // (4 * columns))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        array[start:stop] = rng.standard_normal((stop - start, columns), dtype=np.float32)
        array.flush()
        array._mmap.madvise(__import__("mmap").MADV_DONTNEED)  # keep this process small
    del array


def write_parquet(path: Path, rows: int, columns: int, seed: int = 0) -> int:
    """Write ``rows`` rows of ``columns`` float32 standard normal columns as Parquet, in row
    groups of vaekit's converted-CSV size; return the rows per row group."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vaekit.data.disk import block_rows_for

    group = block_rows_for(columns)
    names = [f"c{j}" for j in range(columns)]
    schema = pa.schema([(name, pa.float32()) for name in names])
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, group):
            values = rng.standard_normal((min(group, rows - start), columns), dtype=np.float32)
            writer.write_table(pa.Table.from_arrays([pa.array(values[:, j]) for j in range(columns)], schema=schema),
                               row_group_size=group)  # fmt: skip
    return group


def peak_of(command: list[str], log: Path) -> dict[str, float]:
    """Run ``command``; return its peak VmHWM and the RssAnon / RssFile at that moment (MiB),
    wall seconds and exit code."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        status = Path(f"/proc/{process.pid}/status")
        peak = {"hwm": 0.0, "anon": 0.0, "file": 0.0}
        while process.poll() is None:
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            except (OSError, ValueError):
                break
            kib = {k: float(fields.get(k, "0 kB").split()[0]) / 1024 for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}
            if kib["VmRSS"] >= peak.get("rss", 0.0):
                peak.update(rss=kib["VmRSS"], anon=kib["RssAnon"], file=kib["RssFile"])
            peak["hwm"] = max(peak["hwm"], kib["VmHWM"])
            time.sleep(0.05)
        code = process.wait()
    return {**peak, "seconds": time.perf_counter() - started, "code": code}


def train_command(data: Path, run: Path, mode: str, fmt: str, args) -> list[str]:
    vaekit = str(Path(sys.executable).with_name("vaekit"))
    shuffle = ["--shuffle", "blocks"] if fmt != "npy" else []
    return [vaekit, "train", "--data", str(data), "--data-loading", mode, *shuffle, "--encoder", args.encoder,
            "--latent", str(args.latent), "--batch-size", str(args.batch_size), "--epochs", "1",
            "--out", str(run), "--force", "-q"]  # fmt: skip


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--sizes", type=sizes, default=[0.5, 2.0, 8.0], help="GB of data, e.g. 0.5,2,8")
    parser.add_argument("--memory-sizes", type=sizes, default=None, help="sizes also trained in memory (default: the smallest)")
    parser.add_argument("--formats", default="npy,npy-blocks,parquet", help="npy, npy-blocks, parquet (comma-separated)")
    parser.add_argument("--npy-columns", type=int, default=784, help="values per row of the .npy files")
    parser.add_argument("--parquet-columns", type=int, default=256, help="float32 columns of the Parquet files")
    parser.add_argument("--encoder", default="400", help="encoder widths (the decoder mirrors them)")
    parser.add_argument("--latent", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--folder", default=None, help="where the files go (default: a new temporary folder)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each measurement (best rows/s, highest peak)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON lines to this file")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown formats {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    in_memory = set(args.memory_sizes or [min(args.sizes)])
    base = Path(tempfile.mkdtemp(prefix="vaekit-data-size-", dir=args.folder))
    os.environ.setdefault("VAEKIT_CACHE_DIR", str(base / "cache"))
    rows_out = []
    print("| format | GB | rows | loading | peak RSS MiB | allocated / mapped MiB | rows/s | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    try:
        for kind in dict.fromkeys(fmt.split("-")[0] for fmt in formats):
            columns = args.npy_columns if kind == "npy" else args.parquet_columns
            for size in args.sizes:
                n = max(100, int(size * 1e9 / (4 * columns)))
                data = base / f"data-{size:g}GB.{kind}"
                (write_npy if kind == "npy" else write_parquet)(data, n, columns)
                for fmt in (f for f in formats if f.split("-")[0] == kind):
                    modes = ("disk", "memory") if size in in_memory else ("disk",)
                    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
                    for _ in range(args.repeats if size in in_memory else 1):
                        for mode in modes:  # alternated, so that a busy moment of the machine hits both
                            run = base / f"run-{fmt}-{size:g}-{mode}"
                            result = peak_of(train_command(data, run, mode, fmt, args), base / "log.txt")
                            if result["code"]:
                                log = (base / "log.txt").read_text()[-3000:]
                                raise SystemExit(f"{fmt} {size} GB {mode} failed:\n{log}")
                            record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
                            runs[mode].append({**result, "rows_per_s": record["examples_per_s"]})
                            shutil.rmtree(run, ignore_errors=True)
                    for mode in modes:
                        best = max(runs[mode], key=lambda r: r["rows_per_s"])
                        row = {"format": fmt, "gb": size, "file_bytes": data.stat().st_size, "rows": n,
                               "columns": columns, "loading": mode, "peak_rss_mib": max(r["hwm"] for r in runs[mode]),
                               "anon_mib": best["anon"], "file_mib": best["file"], "rows_per_s": best["rows_per_s"],
                               "wall_s": best["seconds"], "all_rows_per_s": [r["rows_per_s"] for r in runs[mode]]}  # fmt: skip
                        rows_out.append(row)
                        print(f"| {fmt} | {size:g} | {n:,} | {mode} | {row['peak_rss_mib']:.0f} | {row['anon_mib']:.0f} / "
                              f"{row['file_mib']:.0f} | {row['rows_per_s']:,.0f} | {row['wall_s']:.0f} |", flush=True)  # fmt: skip
                data.unlink()
                shutil.rmtree(base / "cache", ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows_out))
    for fmt in formats:
        disk = [r for r in rows_out if r["format"] == fmt and r["loading"] == "disk"]
        if len(disk) > 1:
            ratio = disk[-1]["peak_rss_mib"] / disk[0]["peak_rss_mib"]
            print(f"{fmt}: peak RSS {disk[-1]['gb']:g} GB / {disk[0]['gb']:g} GB = {ratio:.2f} x (goal <= 1.2)")
        for size in sorted(in_memory):
            pair = {r["loading"]: r for r in rows_out if r["format"] == fmt and r["gb"] == size}
            if len(pair) == 2:
                speed = pair["disk"]["rows_per_s"] / pair["memory"]["rows_per_s"]
                print(f"{fmt}: disk / memory throughput at {size:g} GB = {speed:.2f} x (goal >= 0.8)")


if __name__ == "__main__":
    main()
