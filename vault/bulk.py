"""Bulk inserts through Arrow: below `vault.store` so the record store and the migrations can use it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (not imported at run time: ingest workers load this module without DuckDB)
    import duckdb


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: str = "",
) -> int:
    """Bulk-insert rows through Arrow (DuckDB's executemany is slow). Returns the rows offered.

    `conflict` is appended to the INSERT verb, e.g. "OR IGNORE" / "OR REPLACE".
    """
    import pyarrow as pa

    rows = list(rows)
    if not rows:
        return 0
    cols = list(zip(*rows, strict=True))
    table_arrow = pa.table({c: pa.array(v) for c, v in zip(columns, cols, strict=True)})
    name = f"_ins_{table}"
    con.register(name, table_arrow)
    try:
        collist = ", ".join(columns)
        con.execute(f"INSERT {conflict} INTO {table} ({collist}) SELECT {collist} FROM {name}")
    finally:
        con.unregister(name)
    return len(rows)
