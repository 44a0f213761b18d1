"""Search indexes over the vault: BM25 full-text (`fts`), embeddings (`embeddings`, `vectors`), and
the search itself (`search`). Heavy libraries (torch, sentence-transformers) load only when a
model is needed: nothing to embed means no model load.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb


def after_ingest(con: duckdb.DuckDBPyConnection, *, embed: bool = True, model: str | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 on_stage: Callable[[str], None] | None = None) -> dict | None:
    """Called by `vault ingest`: rebuild the BM25 index if content changed, then embed new messages
    (with `model`, the `embed.model` setting; None: the vault's model, else the default).
    `on_progress(done, total)` and `on_stage(text)` hear about the embedding, only when there is any.

    Returns what was done (for the ingest JSON under "index"), or None when nothing was.
    """
    from vault.faults import crash_point
    from vault.index import fts

    out: dict = {}
    built = fts.ensure_index(con)
    if built:
        out.update(built)
        drop_orphan_chunks(con)
    crash_point("fts-done")
    if embed and not _embeddings().up_to_date(con, model):
        # Even with nothing left to encode: a run killed after its last chunk had not yet switched
        # the vault to its model nor marked itself complete; this one does (no model is loaded).
        rep = _embeddings().embed_pending(con, model, on_progress=on_progress, on_stage=on_stage)
        if rep.messages or rep.switched_from:
            out["embed"] = rep.as_dict()
    from vault.store import settle

    settle(con)  # what the ingest and the updates wrote: one checkpoint (`Ingester.finish` leaves a small WAL to it)
    return out or None


def _embeddings():
    """vault.index.embeddings, imported only when embeddings are asked for (`--no-embed`, the hook: never)."""
    from vault.index import embeddings

    return embeddings


def drop_orphan_chunks(con: duckdb.DuckDBPyConnection) -> int:
    """Chunk rows of messages that a re-read file no longer has (`vault.index.embeddings`, the chunks' owner,
    imported only when the vault holds a chunk: `--no-embed` vaults and the hook never load it)."""
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM chunks LIMIT 1)").fetchone()[0]:
        return 0
    from vault.index import embeddings

    return embeddings.drop_orphan_chunks(con)


def note_roles_changed(con: duckdb.DuckDBPyConnection) -> None:
    """The roles table was rewritten (`miner.tables.assign_roles`): bump its version, so that a search's cache of
    session roles (`vault.index.search._sessions`, keyed by `fts.VERSION_KEYS`) reads them again."""
    from vault.store import get_meta, set_meta

    set_meta(con, "roles_version", str(int(get_meta(con, "roles_version", "0") or 0) + 1))
