"""Which of a group's ids a cold ingest stored already, without DuckDB's index and without scanning the table.

A cold ingest writes `messages` and `tool_calls` without their unique indexes (`vault.ingest._cold_start`) and
keeps ids unique itself. Looking each group's ids up in the table read the whole key column every group: the
lookups grew with the square of the archive. Here each id stored by this run is remembered as a 64-bit hash
(DuckDB's `hash()`) with the number of the group of rows it was committed in, in a temporary table of the writer's
connection: in DuckDB's memory, under the ingest's cap (spilled to the vault's temporary folder beyond it), not in the
writer's heap. Held as pyarrow arrays (8 bytes an id), they were the one part of the writer's Python heap that still
grew with the archive (2.3 MB at the 1 GB bench archive's end, 9.4 MB at 4 GB; before that an open-addressing table
of 38 MB, doubled as it filled). A group's hashes are checked against them by one query (a semi join: the group's
hashes in DuckDB's hash table, one scan of the remembered ones); rows inserted in the group's transaction, so a group
rolled back is forgotten with it. Not numpy: `vault ingest --no-embed` keeps numpy unloaded (vault.lightquery).
A group's ids whose hash is not there are new; the others (an id met again: a resumed session's copy, a subagent's
record, a call whose result is in another file; or a hash collision, about once in 2^64) are looked up in the table
within the rowids of the groups their hash was met in (DuckDB skips the other row groups), and anywhere if not found
there (rows moved by a delete), so the answer is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

OLD_SPAN = 122_880  # rowids per remembered span for rows stored before the run (one DuckDB row group)


class StoredKeys:
    """The ids of `table`'s `key` column stored in this vault, for a table without its index."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, key: str):
        self.table, self.key = table, key
        self.spans: list[tuple[int, int]] = []  # per group: rowids [first, last] it was appended at
        self.count = 0  # hashes remembered (those of a group rolled back included: only "none yet" is read from it)
        # (hash, group) of every id remembered: a temporary table, in DuckDB's memory under its cap (spilled to the
        # vault's temporary folder beyond it), not the writer's heap; written in the group's transaction.
        self.name = f"_stored_{table}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {self.name} (h UBIGINT, g INTEGER)")
        # Rows stored before this run (a cold ingest killed before `finish`): remembered by row group.
        last = con.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
        for first in range(0, -1 if last is None else last + 1, OLD_SPAN):
            span = (first, first + OLD_SPAN - 1)
            self.count += con.execute(f"INSERT INTO {self.name} SELECT hash({key}), {len(self.spans)} FROM {table} "
                                      f"WHERE rowid BETWEEN {span[0]} AND {span[1]}").fetchone()[0]
            self.spans.append(span)

    def stored(self, con: duckdb.DuckDBPyConnection, hashes: list[int],
               rows) -> tuple[list[str], tuple[int, int] | None]:
        """The keys of `rows` (an Arrow table; `hashes` theirs, from `hashes`) that the table holds, and the
        rowids they were found between (None: none found, or found by a whole scan)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not hashes or not self.count:
            return [], None
        new = pa.array(hashes, pa.uint64())
        _new = pa.table({"h": new})  # noqa: F841 (read by its name in the SQL below)
        # One scan of the remembered hashes, the group's in a hash table (ids met again are few).
        met = con.execute(f"SELECT DISTINCT h, g FROM {self.name} WHERE h IN (SELECT h FROM _new)").fetchall()
        if not met:
            return [], None
        groups = sorted({g for _, g in met})
        hit = pc.is_in(new, value_set=pa.array([h for h, _ in met], pa.uint64()))
        wanted = rows.select([self.key]).filter(hit)
        found: dict[str, int] = {}
        for g in groups:
            first, last = self.spans[g]
            found.update(self._lookup(con, wanted, f"rowid BETWEEN {first} AND {last}"))
        if len(found) < wanted.num_rows:  # not where its group put it (rows moved), or a hash collision
            return list(self._lookup(con, wanted, "true")), None
        return list(found), (min(found.values()), max(found.values()))

    def add(self, con: duckdb.DuckDBPyConnection, hashes: list[int], first_rowid: int) -> None:
        """Remember `hashes`, the keys of rows just appended from rowid `first_rowid` on."""
        if not hashes:
            return
        import pyarrow as pa

        _new = pa.table({"h": pa.array(hashes, pa.uint64())})  # noqa: F841 (read by its name in the SQL below)
        con.execute(f"INSERT INTO {self.name} SELECT h, {len(self.spans)} FROM _new")
        self.spans.append((first_rowid, first_rowid + len(hashes) - 1))
        self.count += len(hashes)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let the remembered hashes go (the run's files are all committed)."""
        con.execute(f"DROP TABLE IF EXISTS temp.{self.name}")

    def _lookup(self, con: duckdb.DuckDBPyConnection, wanted, where: str) -> dict[str, int]:
        _wanted = wanted  # noqa: F841 (read by its name in the SQL below: DuckDB's replacement scan)
        k = self.key
        sql = f"SELECT {k}, rowid FROM {self.table} WHERE {where} AND {k} IN (SELECT {k} FROM _wanted)"
        return dict(con.execute(sql).fetchall())


def hashes(con: duckdb.DuckDBPyConnection, rows, key: str) -> list[int]:
    """DuckDB's 64-bit hash of each `key` of `rows` (an Arrow table), in order."""
    _rows = rows.select([key])  # noqa: F841 (read by its name in the SQL below)
    return [r[0] for r in con.execute(f"SELECT hash({key}) FROM _rows").fetchall()]
