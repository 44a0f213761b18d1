"""`embed_pending` runs DuckDB under its own small cap (EMBED_MEMORY): the pending query reads every indexed
message's text, and under DuckDB's default cap every block read stayed cached to the end of the run (the 5 GB bench
vault's `vault embed` peaked at 2,647 MB, 1,484 MB capped). A run that runs out of memory under the cap is done again
under DuckDB's default; the vault's own cap is back afterwards either way."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from search_support import SMALL_SESSION

from vault.index import embeddings
from vault.ingest import ingest


class CharModel:
    """No tokenizer (texts ordered by characters), 4 dimensions."""

    def get_embedding_dimension(self) -> int:
        return 4


def cap(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def caps_seen(con, monkeypatch, fail_first: bool = False) -> list[str]:
    """The DuckDB cap each call of the model's encode ran under (the first call raising out of memory if asked)."""
    seen: list[str] = []

    def fake_encode(model, texts, batch_size=embeddings.BATCH_SIZE):
        seen.append(cap(con))
        if fail_first and len(seen) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate (simulated)")
        return np.full((len(texts), 4), 0.5, np.float32)

    monkeypatch.setattr(embeddings, "load_model", lambda name: CharModel())
    monkeypatch.setattr(embeddings, "encode", fake_encode)
    return seen


def capped(value: str) -> str:
    with duckdb.connect() as c:
        c.execute(f"SET memory_limit = '{value}'")
        return c.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def stored(con) -> tuple:
    return (con.execute("SELECT msg_id, chunk_no, model_id, content_hash FROM chunks ORDER BY ALL").fetchall(),
            con.execute("SELECT content_hash FROM vector_store ORDER BY ALL").fetchall())


def test_the_run_is_capped_and_the_vaults_cap_is_back_after(con, monkeypatch):
    ingest(con, [SMALL_SESSION])
    con.execute("SET memory_limit = '3GiB'")  # (a value DuckDB reports exactly: it is restored as reported)
    before = cap(con)
    seen = caps_seen(con, monkeypatch)
    rep = embeddings.embed_pending(con)
    assert rep.embedded > 0 and seen
    assert set(seen) == {capped(embeddings.EMBED_MEMORY)}
    assert cap(con) == before


def test_out_of_memory_under_the_cap_runs_again_under_duckdbs_default(con, monkeypatch, tmp_path):
    ingest(con, [SMALL_SESSION])
    con.execute("SET memory_limit = '3GiB'")  # (a value DuckDB reports exactly: it is restored as reported)
    before = cap(con)
    seen = caps_seen(con, monkeypatch, fail_first=True)
    rep = embeddings.embed_pending(con)
    assert seen[0] == capped(embeddings.EMBED_MEMORY)
    with duckdb.connect() as fresh:
        default = fresh.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert set(seen[1:]) == {default}
    assert cap(con) == before
    assert rep.messages and rep.embedded and embeddings.pending_count(con) == 0
    # the same rows as a run that never ran out
    from vault.store import open_vault

    con2 = open_vault(tmp_path / "other.duckdb")
    try:
        ingest(con2, [SMALL_SESSION])
        caps_seen(con2, monkeypatch)
        embeddings.embed_pending(con2)
        assert stored(con2) == stored(con)
    finally:
        con2.close()


@pytest.mark.parametrize("only", [False, True])
def test_chunk_rows_are_one_per_chunk_of_every_pending_message(con, monkeypatch, only):
    ingest(con, [SMALL_SESSION])
    caps_seen(con, monkeypatch)
    ids = None
    if only:
        ids = (r[0] for r in con.execute(
            f"SELECT m.msg_id {embeddings._pending_sql(con, False)} ORDER BY m.seq LIMIT 3", [-1]).fetchall())
    want = embeddings.pending_count(con)
    rep = embeddings.embed_pending(con, only=ids)
    n = con.execute("SELECT count(DISTINCT msg_id), count(*) FROM chunks").fetchone()
    assert n == ((3 if only else want), rep.chunks)
    texts = dict(con.execute("SELECT msg_id, text FROM messages").fetchall())
    for msg_id, no, h in con.execute("SELECT msg_id, chunk_no, content_hash FROM chunks").fetchall():
        assert embeddings.content_hash(embeddings.chunk_text(texts[msg_id])[no]) == h
