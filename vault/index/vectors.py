"""Vector storage (int8, one scale per vector) and brute-force search over it, held in memory per process.

Stored: `vector_store` holds each distinct chunk text's vector as int8 (`q`, 1 byte per dimension) and
the float32 `scale` that brings it back (`q * scale`): a quarter of float32's bytes, at a recall@10 of
0.98+ against float32 (`bench/vectors_bench.py`). The view `vectors` shows them as FLOAT[] for readers
that want plain unit vectors (the miner).

Searched: vectors are normalised, so cosine similarity is a dot product: one matrix-vector product
over every distinct vector (dequantised once per process into float32), then each message scores as
its best chunk, in numpy. No approximate index is needed at personal scale, and none depends on the
vss extension's experimental HNSW persistence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from vault.sqlstring import sql_string
from vault.store import get_meta, set_meta

TABLE = "vector_store"
FORMAT = "int8"  # what `vault stats` reports
TABLES = (TABLE, "chunks", "embed_models")  # what the embeddings cost in the vault
META_VERSION = "chunks_version"  # bumped by every write to chunks or vectors: in-memory copies reload
LEVELS = 127  # int8 steps on each side of zero; -128 is never used, so the scale is symmetric


def quantize(vecs):
    """float32 rows -> (int8 rows, float32 scale per row) with row ~= q * scale."""
    import numpy as np

    vecs = np.asarray(vecs, dtype=np.float32)
    scale = (np.abs(vecs).max(axis=1) / LEVELS).astype(np.float32) if len(vecs) else np.zeros(0, np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))
    q = np.clip(np.rint(vecs / safe[:, None]), -LEVELS, LEVELS).astype(np.int8)
    return q, scale


def dequantize(q, scale):
    import numpy as np

    return q.astype(np.float32) * np.asarray(scale, np.float32)[:, None]


def store(con: duckdb.DuckDBPyConnection, mid: int, hashes: list[str], vecs) -> None:
    """Insert float32 rows as int8 (those already stored stay as they are)."""
    import numpy as np
    import pyarrow as pa

    q, scale = quantize(vecs)
    dim = q.shape[1]
    offsets = pa.array(np.arange(0, (len(hashes) + 1) * dim, dim, dtype=np.int32))
    table = pa.table({
        "model_id": pa.array([mid] * len(hashes), pa.int32()),
        "content_hash": pa.array(hashes, pa.string()),
        "scale": pa.array(scale, pa.float32()),
        "q": pa.ListArray.from_arrays(offsets, pa.array(q.reshape(-1), pa.int8())),
    })
    con.register("_vecs", table)
    try:
        con.execute(f"INSERT OR IGNORE INTO {TABLE} SELECT model_id, content_hash, scale, q FROM _vecs")
    finally:
        con.unregister("_vecs")


def keep_only(con: duckdb.DuckDBPyConnection, mid: int) -> None:
    """Drop every other model's vectors (the caller switches the vault to model `mid` within one transaction)."""
    con.execute(f"DELETE FROM {TABLE} WHERE model_id <> ?", [mid])


def touch(con: duckdb.DuckDBPyConnection) -> None:
    """Record that chunks or vectors changed: every process's in-memory copy reloads on its next search."""
    set_meta(con, META_VERSION, str(int(get_meta(con, META_VERSION, "0") or 0) + 1))


@dataclass
class Index:
    """A model's vectors and chunks in memory: chunks sorted by message, each pointing at its vector's row."""

    mat: Any  # float32 [vectors, dim]
    chunk_vec: Any  # int32 [chunks]: row of mat
    chunk_no: Any  # int32 [chunks]
    starts: Any  # int64 [messages]: first chunk of each message
    msg_ids: Any  # object [messages], sorted: the tie-break order of equal scores


_cache: dict[tuple, Index] = {}


def _key(con: duckdb.DuckDBPyConnection, mid: int) -> tuple:
    """Which vault, model and state: one query, so checking costs well under a millisecond."""
    row = con.execute(
        f"""SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),
                   (SELECT count(*) FROM {TABLE} WHERE model_id = $mid),
                   (SELECT count(*) FROM chunks WHERE model_id = $mid),
                   (SELECT value FROM meta WHERE key = {sql_string(META_VERSION)})""", {"mid": mid}).fetchone()
    return (row[0] or id(con), mid, *row[1:])


def index(con: duckdb.DuckDBPyConnection, mid: int) -> Index:
    """The model's vectors and chunks, loaded once per process and state of the vault."""
    key = _key(con, mid)
    hit = _cache.get(key)
    if hit is None:
        hit = _load(con, mid, key[2])
        for k in [k for k in _cache if k[:2] == key[:2]]:
            del _cache[k]  # one live copy per vault and model
        _cache[key] = hit
    return hit


# Up to this many vectors the load reads them with DuckDB's own numpy conversion; past it, through
# pyarrow, whose import (60 ms of CPU) costs a cold search more than it saves on a small vault, but whose
# bulk conversion is cheaper per vector (about 2.5 us less; 200,000 vectors: 1.1 s against 1.6 s).
ARROW_FROM = 50_000


def _load(con: duckdb.DuckDBPyConnection, mid: int, n: int | None = None) -> Index:
    """`n`: how many vectors the model has, if known (it picks how they are read)."""
    import numpy as np

    if n is None:
        n = con.execute(f"SELECT count(*) FROM {TABLE} WHERE model_id = {int(mid)}").fetchone()[0]
    mat = _matrix(con, mid, arrow=n >= ARROW_FROM)
    n = len(mat)
    ch = con.execute(
        f"""WITH v AS (SELECT content_hash, CAST(row_number() OVER (ORDER BY content_hash) - 1 AS INTEGER) AS row
                       FROM {TABLE} WHERE model_id = {int(mid)})
            SELECT c.msg_id, c.chunk_no, v.row FROM chunks c JOIN v USING (content_hash)
            WHERE c.model_id = {int(mid)} ORDER BY c.msg_id, c.chunk_no""").fetchnumpy()
    msg = np.asarray(ch["msg_id"], dtype=object)
    chunk_vec = np.asarray(ch["row"]).astype(np.int32)
    keep = chunk_vec < n  # a vector deleted between the two reads: its chunks are dropped
    msg, chunk_vec = msg[keep], chunk_vec[keep]
    chunk_no = np.asarray(ch["chunk_no"]).astype(np.int32)[keep]
    first = np.ones(len(msg), bool)
    first[1:] = msg[1:] != msg[:-1]
    starts = np.flatnonzero(first)
    return Index(mat=mat, chunk_vec=chunk_vec, chunk_no=chunk_no, starts=starts, msg_ids=msg[starts])


def _matrix(con: duckdb.DuckDBPyConnection, mid: int, arrow: bool):
    """The model's vectors, dequantised to float32, in content_hash order."""
    import numpy as np

    sql = f"SELECT scale, q FROM {TABLE} WHERE model_id = {int(mid)} ORDER BY content_hash"
    if arrow:
        vec = con.execute(sql).fetch_arrow_table()
        n = vec.num_rows
        if not n:
            return np.zeros((0, 1), np.float32)
        q = vec.column("q").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
        return dequantize(q, vec.column("scale").to_numpy())
    vec = con.execute(sql).fetchnumpy()  # a LIST column comes as an object array of int8 arrays
    if not len(vec["q"]):
        return np.zeros((0, 1), np.float32)
    return dequantize(np.stack(vec["q"]), np.asarray(vec["scale"]))


def message_scores(idx: Index, query_vec):
    """Each message's best chunk: (score per message, chunk offset within it)."""
    import numpy as np

    if not len(idx.starts):
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    per_chunk = (idx.mat @ np.asarray(query_vec, np.float32))[idx.chunk_vec]
    return np.maximum.reduceat(per_chunk, idx.starts), per_chunk


def best(scores, k: int, allowed=None):
    """Indices of the k best messages, best first; equal scores in msg_id order. `allowed`: a mask."""
    import numpy as np

    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
        avail = int(allowed.sum())
    else:
        avail = len(scores)
    k = min(k, avail)
    if k <= 0:
        return np.zeros(0, np.int64)
    if k < len(scores):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        cand = np.flatnonzero(scores >= kth)  # ties at the edge all compete, then msg_id decides
    else:
        cand = np.arange(len(scores))
    cand = cand[np.isfinite(scores[cand])]
    order = np.lexsort((cand, -scores[cand]))  # by score, then by position (msg_id order)
    return cand[order][:k]


def best_chunk(idx: Index, per_chunk, m: int) -> int:
    """The chunk number of message m's best chunk."""
    import numpy as np

    lo = idx.starts[m]
    hi = idx.starts[m + 1] if m + 1 < len(idx.starts) else len(per_chunk)
    return int(idx.chunk_no[lo + int(np.argmax(per_chunk[lo:hi]))])
