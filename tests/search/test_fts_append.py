"""The keyword index's append path (`fts_build._append`): an update that only adds the messages the index does not
hold yet, taken when the sessions' fingerprints say that nothing it holds of them changed. Whenever that cannot be
told (a held message changed, fingerprints written by other code, none stored), the whole comparison runs instead,
and either way the index equals a full rebuild.

Runs on the bundled examples (no ../shared needed).
"""

from __future__ import annotations

from fts_state import index_contents, queries_of, rankings
from test_fts_incremental import _append, _connect, _examples_vault, _ingest, _rebuilt


def _same_as_rebuild(db, tmp_path, what: str) -> None:
    con = _connect(db, read_only=True)
    ref = _rebuilt(db, tmp_path)
    try:
        assert index_contents(con) == index_contents(ref), what
        queries = queries_of(ref)[:12] + ["zebrafish quokka", "quokka", "secret"]
        assert rankings(con, queries) == rankings(ref, queries), what
    finally:
        con.close()
        ref.close()


def test_an_append_after_fingerprints_from_elsewhere_compares_whole_then_appends_again(tmp_path):
    from vault.index import fts_build
    from vault.store import set_meta

    db, path = _examples_vault(tmp_path)
    _append(path, "an output only this session printed: platypus", False)
    assert _ingest(db, path)["index"]["fts_appended"] is True
    _same_as_rebuild(db, tmp_path, "appended")

    # Another version updated the index since (it does not stamp the fingerprints): they are not trusted.
    con = _connect(db)
    set_meta(con, fts_build.META_FINGERPRINTS, "-1")
    con.close()
    _append(path, "an output only this session printed: wallaby", True)
    assert _ingest(db, path)["index"]["fts_appended"] is False
    _same_as_rebuild(db, tmp_path, "compared whole")
    _append(path, "an output only this session printed: bilby", False)
    assert _ingest(db, path)["index"]["fts_appended"] is True  # its fingerprint was written again
    _same_as_rebuild(db, tmp_path, "appended again")


def test_a_held_message_changed_beside_new_ones_is_compared_whole(tmp_path):
    from vault.index import fts, fts_build
    from vault.store import bump_content_version, transaction

    db, path = _examples_vault(tmp_path)
    _append(path, "an output only this session printed: platypus", False)
    _ingest(db, path)
    # A message the index holds changes in the same update that brings new ones (as a derivation may change a
    # message's kind): the fingerprint differs, so nothing is assumed.
    _append(path, "an output only this session printed: wallaby", False)
    con = _connect(db)
    sid, = con.execute("SELECT session_id FROM messages WHERE text LIKE '%platypus%'").fetchone()
    with transaction(con):
        con.execute("UPDATE messages SET text = 'the secret numbat' WHERE msg_id = (SELECT min(msg_id) FROM messages "
                    "WHERE session_id = ? AND kind = 'assistant_text')", [sid])
        con.execute("INSERT OR IGNORE INTO pending_sessions VALUES (?)", [sid])
        bump_content_version(con)
    out = fts.ensure_index(con)
    con.close()
    assert out["fts_appended"] is False and out["fts_removed"] >= 1
    _same_as_rebuild(db, tmp_path, "changed")
    con = _connect(db, read_only=True)
    try:
        n, = con.execute(f"SELECT n FROM {fts_build.FINGERPRINTS} WHERE session_id = ?", [sid]).fetchone()
        held, = con.execute(f"SELECT count(*) FROM {fts_build.S}.doc_msgs WHERE session_id = ?", [sid]).fetchone()
        assert n == held > 0
    finally:
        con.close()
    _ingest(db, path)  # the wallaby turn itself
    _same_as_rebuild(db, tmp_path, "then the file read")
