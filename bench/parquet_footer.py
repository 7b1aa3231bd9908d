"""How much memory does a Parquet file's footer take once opened, whole (pyarrow) or one row
group at a time (vaekit's ``RowGroupFooter``), and how long does vaekit take to find the row
groups' entries?

    python -m bench.parquet_footer [--columns 256] [--row-groups 955]

It writes a Parquet file of ``--columns`` float32 columns in ``--row-groups`` row groups of
``--group-rows`` rows (the footer's size depends on the columns and row groups, not the rows: a
few rows per group keep the file small), then, each in a fresh process, opens it the two ways
and reads its last row group, and reports the growth of the resident set (MiB: the footer
held, and what reading a row group brings in, the same both ways) and the seconds taken to open
it (pyarrow's parse, or vaekit's pass over the footer). The defaults are the
8 GB Parquet file of ``bench.data_size`` (7,812,500 rows in row groups of 8,192).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import script_parser

#: run in a fresh process: open the file one way, print the resident growth and the seconds
_PROBE = """
import json, sys, time
from pathlib import Path

def resident():
    return int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS")).split()[1])

path, how = sys.argv[1], sys.argv[2]
import pyarrow.parquet as pq
from vaekit.data.disk.parquet_footer import RowGroupFooter
before = resident()
started = time.perf_counter()
if how == "whole":
    held = pq.ParquetFile(path)
    groups = held.metadata.num_row_groups
    seconds = time.perf_counter() - started
    held.read_row_group(groups - 1)
else:
    held = RowGroupFooter.read(path, min_bytes=0)
    groups = held.num_row_groups
    seconds = time.perf_counter() - started
    held.open(groups - 1).read_row_group(0)  # through a footer of that row group alone
print(json.dumps({"how": how, "groups": groups, "mib": (resident() - before) / 1024, "seconds": seconds}))
"""


def write_file(path: Path, columns: int, row_groups: int, group_rows: int) -> int:
    """Write the file; return its footer's size on disk (bytes)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(f"c{j}", pa.float32()) for j in range(columns)])
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(row_groups):
            values = rng.standard_normal((group_rows, columns), dtype=np.float32)
            writer.write_table(pa.Table.from_arrays([pa.array(values[:, j]) for j in range(columns)], schema=schema),
                               row_group_size=group_rows)  # fmt: skip
    return int(pq.read_metadata(path).serialized_size)


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("--columns", type=int, default=256)
    parser.add_argument("--row-groups", type=int, default=955)
    parser.add_argument("--group-rows", type=int, default=16, help="rows per row group")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "footer.parquet"
        footer = write_file(path, args.columns, args.row_groups, args.group_rows)
        chunks = args.columns * args.row_groups
        print(f"{args.columns} columns x {args.row_groups} row groups = {chunks:,} column chunks; "
              f"footer {footer / 2**20:.1f} MiB on disk")  # fmt: skip
        print("| opened | resident growth MiB | seconds to open |\n| --- | --- | --- |")
        grown = {}
        for how in ("whole", "by-row-group"):
            out = subprocess.run([sys.executable, "-c", _PROBE, str(path), how], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout)
            grown[how] = row["mib"]
            print(f"| {how} | {row['mib']:.1f} | {row['seconds']:.2f} |")
        held = (grown["whole"] - grown["by-row-group"]) * 2**20 / chunks
        print(f"the whole footer holds {held:,.0f} bytes per column chunk more than one row group's")


if __name__ == "__main__":
    main()
