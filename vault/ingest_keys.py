"""Which of a group's ids a cold ingest stored already, without DuckDB's index and without scanning the table.

A cold ingest writes `messages` and `tool_calls` without their unique indexes (`vault.ingest._cold_start`) and
keeps ids unique itself. Looking each group's ids up in the table read the whole key column every group: the
lookups grew with the square of the archive. Here each id stored by this run is remembered as a 64-bit hash
(DuckDB's `hash()`) and the rowids its group was appended at: 12 bytes an id (3.6 MB for the 1 GB archive's
300,000 messages and tool calls), in a few sorted runs merged as they grow. A group's ids whose hash is not
remembered are new, with no query at all; the others (an id met again: a resumed session's copy, a subagent's
record, a call whose result is in another file; or a hash collision, about once in 2^64) are looked up in the
table within their group's rowids only (DuckDB skips the other row groups), and anywhere if not found there
(rows moved by a delete), so the answer is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


class StoredKeys:
    """The ids of `table`'s `key` column stored in this vault, for a table without its index."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, key: str):
        import numpy as np

        self.table, self.key = table, key
        self.runs: list[tuple[Any, Any]] = []  # (hashes sorted, the group of each), merged as they grow
        self.spans: list[tuple[int, int]] = []  # per group: rowids [first, last] it was appended at
        # Rows stored before this run (a cold ingest killed before `finish`): remembered by row group.
        old = con.execute(f"SELECT hash({key}) AS h, (rowid // {OLD_SPAN})::INTEGER AS g FROM {table}").fetchnumpy()
        if len(old["h"]):
            groups = int(old["g"].max()) + 1
            self.spans = [(g * OLD_SPAN, (g + 1) * OLD_SPAN - 1) for g in range(groups)]
            self._push(np.asarray(old["h"], np.uint64), np.asarray(old["g"], np.int32))

    def stored(self, con: duckdb.DuckDBPyConnection, hashes, rows) -> tuple[list[str], tuple[int, int] | None]:
        """The keys of `rows` (an Arrow table; `hashes` theirs, from `hashes`) that the table holds, and the
        rowids they were found between (None: none found, or found by a whole scan)."""
        import numpy as np
        import pyarrow as pa

        hit = np.zeros(len(hashes), bool)
        groups: set[int] = set()
        for h, g in self.runs:
            at = np.minimum(np.searchsorted(h, hashes), len(h) - 1)
            match = h[at] == hashes
            hit |= match
            groups.update(np.unique(g[at[match]]).tolist())
        if not hit.any():
            return [], None
        wanted = rows.select([self.key]).filter(pa.array(hit))
        found: dict[str, int] = {}
        for g in sorted(groups):
            first, last = self.spans[g]
            found.update(self._lookup(con, wanted, f"rowid BETWEEN {first} AND {last}"))
        if len(found) < wanted.num_rows:  # not where its group put it (rows moved), or a hash collision
            return list(self._lookup(con, wanted, "true")), None
        return list(found), (min(found.values()), max(found.values()))

    def add(self, con: duckdb.DuckDBPyConnection, hashes, first_rowid: int) -> None:
        """Remember `hashes`, the keys of rows just appended from rowid `first_rowid` on."""
        import numpy as np

        if not len(hashes):
            return
        self.spans.append((first_rowid, first_rowid + len(hashes) - 1))
        self._push(np.asarray(hashes, np.uint64), np.full(len(hashes), len(self.spans) - 1, np.int32))

    def _push(self, h, g) -> None:
        import numpy as np

        order = np.argsort(h, kind="stable")
        self.runs.append((h[order], g[order]))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (h1, g1), (h2, g2) = self.runs.pop(), self.runs.pop()
            h, g = np.concatenate([h2, h1]), np.concatenate([g2, g1])
            order = np.argsort(h, kind="stable")
            self.runs.append((h[order], g[order]))

    def _lookup(self, con: duckdb.DuckDBPyConnection, wanted, where: str) -> dict[str, int]:
        _wanted = wanted  # noqa: F841 (read by its name in the SQL below: DuckDB's replacement scan)
        k = self.key
        return dict(con.execute(f"SELECT {k}, rowid FROM {self.table} WHERE {where} AND {k} IN (SELECT {k} FROM _wanted)"
                                ).fetchall())


OLD_SPAN = 122_880  # rowids per remembered span for rows stored before the run (one DuckDB row group)


def hashes(con: duckdb.DuckDBPyConnection, rows, key: str):
    """DuckDB's 64-bit hash of each `key` of `rows` (an Arrow table), as a numpy array."""
    _rows = rows.select([key])  # noqa: F841 (read by its name in the SQL below)
    return con.execute(f"SELECT hash({key}) AS h FROM _rows").fetchnumpy()["h"]
