"""`vault.ingest_keys.StoredKeys`: which ids of a group a cold ingest stored already, exactly, without reading
the whole table (the lookup that grew with the square of the archive)."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa

from vault.ingest_keys import StoredKeys, hashes


def _group(ids: list[str]):
    return pa.table({"k": pa.array(ids, pa.string())})


def _append(con, seen: StoredKeys, ids: list[str]) -> None:
    rows = _group(ids)
    first = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.execute("INSERT INTO t SELECT k FROM rows")
    seen.add(con, hashes(con, rows, "k"), first)


def _stored(con, seen: StoredKeys, ids: list[str]) -> tuple[set[str], tuple[int, int] | None]:
    rows = _group(ids)
    found, span = seen.stored(con, hashes(con, rows, "k"), rows)
    return set(found), span


def test_exact_against_the_table_after_groups_restarts_and_moved_rows():
    rng = random.Random(14)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR)")
    con.execute("INSERT INTO t SELECT 'old-' || i FROM range(3000) r(i)")  # stored by an earlier, killed run
    seen = StoredKeys(con, "t", "k")
    stored = {f"old-{i}" for i in range(3000)}
    for g in range(40):
        ids = [f"g{g}-{i}" for i in range(rng.randint(0, 300))]
        _append(con, seen, ids)
        stored.update(ids)
        if g == 25:  # rows deleted and the table compacted: rowids move (the exact fallback finds them)
            con.execute("DELETE FROM t WHERE k LIKE 'g3-%' OR k LIKE 'old-1%'")
            con.execute("CHECKPOINT")
            stored = {k for k in stored if not (k.startswith("g3-") or k.startswith("old-1"))}
        probe = rng.sample(sorted(stored), min(20, len(stored))) + [f"new-{g}-{i}" for i in range(20)]
        found, _ = _stored(con, seen, probe)
        assert found == {k for k in probe if k in stored}, g


def test_a_group_met_again_is_looked_up_in_its_own_rows_only(monkeypatch):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR)")
    seen = StoredKeys(con, "t", "k")
    for g in range(30):
        _append(con, seen, [f"g{g}-{i}" for i in range(1000)])
    wheres: list[str] = []
    lookup = StoredKeys._lookup

    def spy(self, con, wanted, where):
        wheres.append(where)
        return lookup(self, con, wanted, where)

    monkeypatch.setattr(StoredKeys, "_lookup", spy)
    assert _stored(con, seen, [f"new-{i}" for i in range(500)]) == (set(), None)
    assert wheres == []  # new ids: no query at all
    found, span = _stored(con, seen, ["g7-3", "g7-999", "new-1"])
    assert found == {"g7-3", "g7-999"}
    assert wheres == ["rowid BETWEEN 7000 AND 7999"] and span == (7003, 7999)


def test_hash_collision_is_not_taken_for_a_stored_id(monkeypatch):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR)")
    seen = StoredKeys(con, "t", "k")
    _append(con, seen, ["a", "b"])
    rows = _group(["a", "zz"])
    h = hashes(con, rows, "k")
    h[1] = hashes(con, _group(["b"]), "k")[0]  # "zz" given "b"'s hash
    found, span = seen.stored(con, h, rows)
    assert found == ["a"] and span is None
