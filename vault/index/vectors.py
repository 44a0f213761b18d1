"""Brute-force vector search over the active model's distinct vectors, held in memory per process.

Vectors are normalised, so cosine similarity is a dot product: one matrix-vector product
over every distinct chunk text. No approximate index is needed at personal scale, and none
depends on the vss extension's experimental HNSW persistence.
"""

from __future__ import annotations

import duckdb

_cache: dict[tuple, tuple] = {}


def _key(con: duckdb.DuckDBPyConnection, mid: int) -> tuple:
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    n = con.execute("SELECT count(*) FROM vectors WHERE model_id = ?", [mid]).fetchone()[0]
    return (path[0] if path and path[0] else id(con), mid, n)


def matrix(con: duckdb.DuckDBPyConnection, mid: int):
    """(content hashes, float32 matrix) of a model's vectors; reloaded only when their count changed."""
    import numpy as np

    key = _key(con, mid)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    table = con.execute(
        "SELECT content_hash, vector FROM vectors WHERE model_id = ? ORDER BY content_hash", [mid]
    ).fetch_arrow_table()
    hashes = np.array(table.column("content_hash").to_pylist(), dtype=object)
    vec = table.column("vector").combine_chunks()
    flat = vec.flatten().to_numpy(zero_copy_only=False).astype("float32", copy=False)
    mat = flat.reshape(len(hashes), -1) if len(hashes) else np.zeros((0, 1), "float32")
    for k in [k for k in _cache if k[:2] == key[:2]]:
        del _cache[k]  # one live copy per vault and model
    _cache[key] = (hashes, mat)
    return hashes, mat


def ranked(con: duckdb.DuckDBPyConnection, mid: int, query_vec):
    """Every distinct vector's (hash, similarity), best first, as two arrays."""
    import numpy as np

    hashes, mat = matrix(con, mid)
    if not len(hashes):
        return hashes, np.zeros(0, "float32")
    scores = mat @ query_vec.astype("float32")
    order = np.argsort(-scores, kind="stable")
    return hashes[order], scores[order]
