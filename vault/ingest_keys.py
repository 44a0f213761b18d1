"""Which of a group's ids a cold ingest stored already, without DuckDB's index and without scanning the table.

A cold ingest writes `messages` and `tool_calls` without their unique indexes (`vault.ingest._cold_start`) and
keeps ids unique itself. Looking each group's ids up in the table read the whole key column every group: the
lookups grew with the square of the archive. Here each id stored by this run is remembered as a 64-bit hash
(DuckDB's `hash()`), one pyarrow array of hashes per group of rows committed: 8 bytes an id, no empty slots and no
table grown by doubling (the open-addressing table this replaced held 12 bytes a slot at most 60% full, 38 MB at the 4
GB bench archive's end and twice the old table's size for a moment at each doubling; the writer's peak memory grew
with it). A group's ids are checked against them in one pyarrow `is_in` scan (the group's hashes in a hash set; at the
4 GB archive's end ~1.5 million hashes, a few ms a commit). Not numpy: `vault ingest --no-embed` keeps numpy unloaded
(vault.lightquery). A group's ids whose hash is not there are new, with no query at all; the others (an id met
again: a resumed session's copy, a subagent's record, a call whose result is in another file; or a hash collision,
about once in 2^64) are looked up in the table within the rowids of the groups their hash was met in (DuckDB skips
the other row groups), and anywhere if not found there (rows moved by a delete), so the answer is exact.
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
        self._chunks: list = []  # per group: the hashes of its keys (a pyarrow UInt64Array)
        self._ends: list[int] = []  # per group: the number of hashes remembered up to its end
        # Rows stored before this run (a cold ingest killed before `finish`): remembered by row group.
        last = con.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
        for first in range(0, -1 if last is None else last + 1, OLD_SPAN):
            span = (first, first + OLD_SPAN - 1)
            self._append(span, con.execute(f"SELECT hash({key}) FROM {table} WHERE rowid BETWEEN {span[0]} AND "
                                           f"{span[1]}").fetch_arrow_table().column(0).combine_chunks())

    def stored(self, con: duckdb.DuckDBPyConnection, hashes: list[int],
               rows) -> tuple[list[str], tuple[int, int] | None]:
        """The keys of `rows` (an Arrow table; `hashes` theirs, from `hashes`) that the table holds, and the
        rowids they were found between (None: none found, or found by a whole scan)."""
        import bisect

        import pyarrow as pa
        import pyarrow.compute as pc

        if not hashes or not self._ends or not self._ends[-1]:
            return [], None
        new = pa.array(hashes, pa.uint64())
        remembered = pa.chunked_array(self._chunks, pa.uint64())
        met = pc.is_in(remembered, value_set=new)  # one scan of 8 bytes an id, the group's hashes in a hash set
        if not pc.any(met).as_py():
            return [], None
        at = pc.indices_nonzero(met).to_pylist()  # (ids met again are few)
        groups = sorted({bisect.bisect_right(self._ends, i) for i in at})
        hit = pc.is_in(new, value_set=pc.filter(remembered, met))
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

        self._append((first_rowid, first_rowid + len(hashes) - 1), pa.array(hashes, pa.uint64()))

    def _append(self, span: tuple[int, int], chunk) -> None:
        self.spans.append(span)
        self._chunks.append(chunk)
        self._ends.append((self._ends[-1] if self._ends else 0) + len(chunk))

    def _lookup(self, con: duckdb.DuckDBPyConnection, wanted, where: str) -> dict[str, int]:
        _wanted = wanted  # noqa: F841 (read by its name in the SQL below: DuckDB's replacement scan)
        k = self.key
        sql = f"SELECT {k}, rowid FROM {self.table} WHERE {where} AND {k} IN (SELECT {k} FROM _wanted)"
        return dict(con.execute(sql).fetchall())


def hashes(con: duckdb.DuckDBPyConnection, rows, key: str) -> list[int]:
    """DuckDB's 64-bit hash of each `key` of `rows` (an Arrow table), in order."""
    _rows = rows.select([key])  # noqa: F841 (read by its name in the SQL below)
    return [r[0] for r in con.execute(f"SELECT hash({key}) FROM _rows").fetchall()]
