"""What an ingest stored, as plain values, for tests that compare two vaults built differently
(`from vault_tables import vault_tables`): one ingest against another with other workers, or a run
killed and re-run against a clean one.

File ids, chunk ids and `seq` depend on the order of commits, so rows are keyed by paths and ids and
sorted; each table is a sorted list of tuples, so a difference names the table it is in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

# How each message's place is given: its ordinal in its file (`seq` less the file's base), or its rank
# in its session (which stays the same when a file's messages are read in another order or commit).
SEQ_IN = {"file": "m.seq - (m.file_id::BIGINT << 40)",
          "session": "row_number() OVER (PARTITION BY m.session_id ORDER BY m.seq)"}


def vault_tables(db: Path, *, raw_slices: bool = True, seq: str = "file", text_md5: bool = False,
                 derived: bool = False, words: Iterable[str] = ()) -> dict:
    """Every table an ingest writes: files (all columns but the id and the time), records, each record's
    raw bytes (as an md5), sessions, messages, tool calls.

    - `raw_slices=False` leaves out where a record's bytes lie in its frame (`raw_start`, `raw_len`): the
      frames differ when a file's records were committed in other groups (after a crash), the bytes not.
    - `seq`: "file" or "session" (see SEQ_IN). `text_md5`: message texts as their md5 (shorter diffs).
    - `derived`: also what is left pending to derive (should be nothing: rows a settled ingest derived and left
      pending for the next one to delete, `vault.unchanged.derived_pending`, are not) and whether the keyword index
      is stale;
      `words`: the ids of each word's first 10 keyword hits.
    """
    from vault.rawstore import read_raw
    from vault.store import connect
    from vault.unchanged import derived_pending

    done = derived_pending(db) or ([], [])  # (before the open: asked of the file as the next ingest would)
    con = connect(db, read_only=True)
    try:
        paths = dict(con.execute("SELECT file_id, path FROM files").fetchall())

        def rows(sql: str) -> list[tuple]:
            return sorted(con.execute(sql).fetchall(), key=repr)

        not_records = "file_id, chunk_id" + ("" if raw_slices else ", raw_start, raw_len")
        not_messages, text = ("file_id, seq, text", "md5(m.text), ") if text_md5 else ("file_id, seq", "")
        out = {
            "files": rows("SELECT * EXCLUDE (file_id, ingested_at) FROM files"),
            "records": rows(f"SELECT f.path, r.* EXCLUDE ({not_records}) "
                            "FROM records r JOIN files f USING (file_id)"),
            "raw": sorted((paths[f], n, hashlib.md5(raw.encode()).hexdigest()) for f, n, raw in read_raw(con)),
            "sessions": rows("SELECT s.* EXCLUDE (file_id), f.path FROM sessions s LEFT JOIN files f USING (file_id)"),
            "messages": rows(f"SELECT m.* EXCLUDE ({not_messages}), {text}f.path, {SEQ_IN[seq]} "
                             "FROM messages m LEFT JOIN files f USING (file_id)"),
            "tool_calls": rows("SELECT * FROM tool_calls"),
        }
        if derived:
            from vault.index import fts
            from vault.index.search import search

            out["pending"] = sorted(
                [(s,) for (s,) in con.execute("SELECT session_id FROM pending_sessions").fetchall() if s not in done[0]]
                + [(str(f),) for (f,) in con.execute("SELECT file_id FROM pending_files").fetchall()
                   if f not in done[1]], key=repr)
            out["fts_stale"] = fts.needs_rebuild(con)
            out["hits"] = {w: [h.msg_id for h in search(con, w, mode="keyword", limit=10)] for w in words}
        return out
    finally:
        con.close()
