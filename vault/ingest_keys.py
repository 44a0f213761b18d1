"""Which of a group's ids a cold ingest stored already, without DuckDB's index and without scanning the table.

A cold ingest writes `messages` and `tool_calls` without their unique indexes (`vault.ingest._cold_start`) and
keeps ids unique itself. Looking each group's ids up in the table read the whole key column every group: the
lookups grew with the square of the archive. Here each id stored by this run is remembered as a 64-bit hash
(DuckDB's `hash()`) with the group whose rows it came in, in an open-addressing table of two flat arrays (12 bytes
a slot, at most 60% full: about 6 MB for the 1 GB archive's 300,000 messages and tool calls). Plain Python
arrays, not numpy: `vault ingest --no-embed` keeps numpy unloaded (vault.lightquery). A group's ids whose hash
is not there are new, with no query at all; the others (an id met again: a resumed session's copy, a subagent's
record, a call whose result is in another file; or a hash collision, about once in 2^64) are looked up in the
table within their group's rowids only (DuckDB skips the other row groups), and anywhere if not found there
(rows moved by a delete), so the answer is exact.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

OLD_SPAN = 122_880  # rowids per remembered span for rows stored before the run (one DuckDB row group)
FETCH_ROWS = 65_536  # hashes fetched at a time when remembering rows stored before the run
MIN_SLOTS = 1 << 12


class StoredKeys:
    """The ids of `table`'s `key` column stored in this vault, for a table without its index."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, key: str):
        self.table, self.key = table, key
        self.spans: list[tuple[int, int]] = []  # per group: rowids [first, last] it was appended at
        self._hashes = array("Q", bytes(8 * MIN_SLOTS))  # 0: an empty slot
        self._groups = array("i", bytes(4 * MIN_SLOTS))
        self._used = 0
        # Rows stored before this run (a cold ingest killed before `finish`): remembered by row group.
        cur = con.execute(f"SELECT hash({key}), (rowid // {OLD_SPAN})::INTEGER FROM {table}")
        while rows := cur.fetchmany(FETCH_ROWS):
            for h, g in rows:
                while len(self.spans) <= g:
                    self.spans.append((len(self.spans) * OLD_SPAN, (len(self.spans) + 1) * OLD_SPAN - 1))
                self._put(h, g)

    def stored(self, con: duckdb.DuckDBPyConnection, hashes: list[int],
               rows) -> tuple[list[str], tuple[int, int] | None]:
        """The keys of `rows` (an Arrow table; `hashes` theirs, from `hashes`) that the table holds, and the
        rowids they were found between (None: none found, or found by a whole scan)."""
        import pyarrow as pa

        groups = [self._get(h) for h in hashes]
        hit = [g >= 0 for g in groups]
        if not any(hit):
            return [], None
        wanted = rows.select([self.key]).filter(pa.array(hit))
        found: dict[str, int] = {}
        for g in sorted({g for g in groups if g >= 0}):
            first, last = self.spans[g]
            found.update(self._lookup(con, wanted, f"rowid BETWEEN {first} AND {last}"))
        if len(found) < wanted.num_rows:  # not where its group put it (rows moved), or a hash collision
            return list(self._lookup(con, wanted, "true")), None
        return list(found), (min(found.values()), max(found.values()))

    def add(self, con: duckdb.DuckDBPyConnection, hashes: list[int], first_rowid: int) -> None:
        """Remember `hashes`, the keys of rows just appended from rowid `first_rowid` on."""
        if not hashes:
            return
        self.spans.append((first_rowid, first_rowid + len(hashes) - 1))
        group = len(self.spans) - 1
        for h in hashes:
            self._put(h, group)

    def _get(self, h: int) -> int:
        """The group of hash `h`, -1 if not remembered (linear probing)."""
        h = h or 1
        table, mask = self._hashes, len(self._hashes) - 1
        i = h & mask
        while True:
            v = table[i]
            if v == h:
                return self._groups[i]
            if not v:
                return -1
            i = (i + 1) & mask

    def _put(self, h: int, group: int) -> None:
        h = h or 1  # (0 marks an empty slot)
        if 5 * (self._used + 1) > 3 * len(self._hashes):
            self._grow()
        table, mask = self._hashes, len(self._hashes) - 1
        i = h & mask
        while table[i] and table[i] != h:
            i = (i + 1) & mask
        if not table[i]:
            self._used += 1
        table[i] = h  # (a hash met again keeps its latest group: the exact lookup falls back if needed)
        self._groups[i] = group

    def _grow(self) -> None:
        old = zip(self._hashes, self._groups, strict=True)
        size = 2 * len(self._hashes)
        self._hashes, self._groups, self._used = array("Q", bytes(8 * size)), array("i", bytes(4 * size)), 0
        for h, g in old:
            if h:
                self._put(h, g)

    def _lookup(self, con: duckdb.DuckDBPyConnection, wanted, where: str) -> dict[str, int]:
        _wanted = wanted  # noqa: F841 (read by its name in the SQL below: DuckDB's replacement scan)
        k = self.key
        sql = f"SELECT {k}, rowid FROM {self.table} WHERE {where} AND {k} IN (SELECT {k} FROM _wanted)"
        return dict(con.execute(sql).fetchall())


def hashes(con: duckdb.DuckDBPyConnection, rows, key: str) -> list[int]:
    """DuckDB's 64-bit hash of each `key` of `rows` (an Arrow table), in order."""
    _rows = rows.select([key])  # noqa: F841 (read by its name in the SQL below)
    return [r[0] for r in con.execute(f"SELECT hash({key}) FROM _rows").fetchall()]
