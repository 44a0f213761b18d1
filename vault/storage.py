"""How much of the vault file each table takes, and the ratio to the archive it keeps.

DuckDB reports no byte size per table, only the blocks each column segment lives in
(`pragma_storage_info`). A block holds segments of one or more tables; each block's bytes are
shared out among the tables whose segments use it, so the table sizes add up to the used blocks.
Estimated, then: a segment that fills a tenth of a shared block is counted for a share of it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from vault.sqlstring import sql_name, sql_string


def table_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """{"block_size", "used_blocks", "free_blocks", "tables": {name: {"rows", "bytes"}}}, largest first."""
    db = con.execute("SELECT current_database()").fetchone()[0]
    name, block_size, total, used, free = con.execute(
        "SELECT database_name, block_size, total_blocks, used_blocks, free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()").fetchone()
    tables = con.execute(
        "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
        f"WHERE database_name = {sql_string(db)} AND NOT temporary").fetchall()
    users: dict[int, set[str]] = defaultdict(set)  # block -> the tables with a segment in it
    rows: dict[str, int] = {}
    for schema, table, n in tables:
        label = table if schema == "main" else f"{schema}.{table}"
        rows[label] = int(n)
        qualified = sql_string(f"{sql_name(schema)}.{sql_name(table)}")
        for (block,) in con.execute(
            f"SELECT DISTINCT b FROM (SELECT unnest(list_prepend(block_id, additional_block_ids)) AS b "
            f"FROM pragma_storage_info({qualified})) WHERE b >= 0").fetchall():
            users[block].add(label)
    share: dict[str, float] = defaultdict(float)
    for holders in users.values():
        for t in holders:
            share[t] += 1 / len(holders)
    out = {t: {"rows": rows[t], "bytes": int(round(share[t] * block_size))} for t in rows}
    return {"block_size": int(block_size), "used_blocks": int(used), "free_blocks": int(free),
            "tables": dict(sorted(out.items(), key=lambda kv: (-kv[1]["bytes"], kv[0])))}


def storage_report(con: duckdb.DuckDBPyConnection, path: Path | str | None) -> dict[str, Any]:
    """Table sizes, the file's size (with its WAL) and the ratio to the archive's bytes (sum of files.size);
    `embeddings`: what the vectors, their chunk rows and models take, and their ratio to the archive."""
    rep = table_sizes(con)
    archive = con.execute("SELECT coalesce(sum(size), 0) FROM files WHERE source <> 'unrecognised'").fetchone()[0]
    file_bytes = 0
    if path is not None and str(path) != ":memory:":
        for p in (Path(path), Path(f"{path}.wal")):
            file_bytes += p.stat().st_size if p.exists() else 0
    rep.update(file_bytes=file_bytes, archive_bytes=int(archive),
               ratio_to_archive=round(file_bytes / archive, 3) if archive and file_bytes else None)
    from vault.index import vectors

    emb = sum(rep["tables"].get(t, {}).get("bytes", 0) for t in vectors.TABLES)
    rep["embeddings"] = {"format": vectors.FORMAT, "tables": list(vectors.TABLES), "bytes": emb,
                         "ratio_to_archive": round(emb / archive, 4) if archive else None}
    return rep
