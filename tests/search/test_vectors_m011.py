"""m011_vectors_int8: a vault with float32 vectors (the layout before m011) migrates, with its backup copy,
to int8 vectors that are exactly what `vectors.quantize` makes of them, and search keeps its answers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from search_support import SMALL_SESSION
from support import forget_migration

from vault.index import embeddings, vectors
from vault.index.search import search
from vault.ingest import ingest
from vault.store import applied_migrations, connect, open_vault

QUERY = "music from text embeddings"


def to_float32_layout(path) -> tuple[list[str], np.ndarray]:
    """Rewrite an embedded vault as m010 left it: `vectors` a table of float32 vectors (freshly encoded)."""
    con = connect(path)
    try:
        texts = {}
        for (text,) in con.execute("SELECT text FROM messages").fetchall():
            for chunk in embeddings.chunk_text(text or ""):
                texts[embeddings.content_hash(chunk)] = chunk
        mid, hashes = con.execute("SELECT any_value(model_id), list(content_hash ORDER BY content_hash) "
                                  "FROM vector_store").fetchone()
        f32 = embeddings.encode(embeddings.load_model(embeddings.active_model(con)[1]), [texts[h] for h in hashes])
        con.execute("DROP VIEW vectors; DROP TABLE vector_store")
        con.execute("CREATE TABLE vectors (model_id INTEGER NOT NULL, content_hash VARCHAR NOT NULL, "
                    "vector FLOAT[] NOT NULL, PRIMARY KEY (model_id, content_hash))")
        con.register("_v", pa.table({"h": hashes, "v": list(f32)}))
        con.execute("INSERT INTO vectors SELECT ?, h, v FROM _v", [mid])
        forget_migration(con, "m011_vectors_int8")
        con.execute("CHECKPOINT")
        return hashes, f32
    finally:
        con.close()


def test_float32_vectors_migrate_to_int8_with_a_backup(tmp_path):
    path = tmp_path / "v.duckdb"
    con = open_vault(path)
    ingest(con, [SMALL_SESSION])
    embeddings.embed_pending(con)
    con.close()
    hashes, f32 = to_float32_layout(path)
    con = connect(path, read_only=True)
    assert "m011_vectors_int8" not in applied_migrations(con)
    want = [m for m, _ in con.execute(
        "SELECT c.msg_id, max(list_dot_product(v.vector, ?::FLOAT[])) AS s FROM chunks c JOIN vectors v "
        "USING (model_id, content_hash) GROUP BY c.msg_id ORDER BY s DESC, c.msg_id",
        [embeddings.encode(embeddings.load_model("all-MiniLM-L6-v2"), [QUERY])[0].tolist()]).fetchall()]
    con.close()

    con = open_vault(path)
    try:
        assert list(tmp_path.glob("v.duckdb.bak-*"))  # the copy of the float32 vault
        assert "m011_vectors_int8" in applied_migrations(con)
        rows = con.execute("SELECT content_hash, scale, q FROM vector_store ORDER BY content_hash").fetchall()
        assert [r[0] for r in rows] == hashes
        q, scale = vectors.quantize(f32)
        assert np.allclose([r[1] for r in rows], scale, rtol=1e-6)
        # SQL rounds halves away from zero, numpy to even: at most one step apart, on exact halves only.
        stored = np.array([r[2] for r in rows], np.int16)
        assert np.abs(stored - q).max() <= 1 and (stored != q).mean() < 0.001
        view = np.array([v for (v,) in con.execute("SELECT vector FROM vectors ORDER BY content_hash").fetchall()])
        assert np.abs(view - f32).max() <= scale.max() / 2 + 1e-6
        got = [h.msg_id for h in search(con, QUERY, mode="semantic", limit=len(want))]
        assert sorted(got) == sorted(want) and got[:2] == want[:2]
    finally:
        con.close()
