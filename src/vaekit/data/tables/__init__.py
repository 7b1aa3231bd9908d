"""Mixed-type tables (issue 16): read a CSV/TSV/Parquet file or a DataFrame, infer each
column's kind with a reason (``infer_schema``), and encode rows for a VAE with a fitted
``TableCodec`` (value slots, mask slots, and the mixed likelihood's blocks) and back.

Importing this package imports pandas; ``vaekit.data`` does not import it, so ``import
vaekit`` stays free of pandas.
"""

from vaekit.data.tables.codec import CONTINUOUS, TableCodec
from vaekit.data.tables.infer import infer_schema
from vaekit.data.tables.read import iter_table_chunks, read_table
from vaekit.data.tables.schema import KINDS, ColumnSchema, TableSchema, read_schema_file
from vaekit.data.tables.summary import table_summary

__all__ = [
    "CONTINUOUS",
    "KINDS",
    "ColumnSchema",
    "TableCodec",
    "TableSchema",
    "infer_schema",
    "read_schema_file",
    "iter_table_chunks",
    "read_table",
    "table_summary",
]
