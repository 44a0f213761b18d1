"""The keyword index's append path (`fts_build._append`): an update that only adds the messages the index does not
hold yet, taken when the sessions' fingerprints say that nothing it holds of them changed. Whenever that cannot be
told (a held message changed, fingerprints written by other code, none stored), the whole comparison runs instead,
and either way the index equals a full rebuild.

Runs on the bundled examples (no ../shared needed).
"""

from __future__ import annotations

from fts_state import index_contents, misnamed_postings, queries_of, rankings
from test_fts_incremental import _append, _connect, _examples_vault, _ingest, _rebuilt


def _same_as_rebuild(db, tmp_path, what: str) -> None:
    con = _connect(db, read_only=True)
    ref = _rebuilt(db, tmp_path)
    try:
        assert index_contents(con) == index_contents(ref), what
        assert misnamed_postings(con) == [], what
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


def _append_results(path, output: str, result_ids: list[str]) -> None:
    """A turn of tool calls, each answered by `output`, the results' records (their messages' ids) `result_ids`."""
    import json
    import uuid

    last = next(r for r in reversed([json.loads(x) for x in path.read_text().splitlines() if x.strip()])
                if r.get("sessionId") and r.get("uuid"))
    base = {k: last[k] for k in ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch") if k in last}
    parent, lines = last["uuid"], []
    for rid in result_ids:
        use = f"toolu_{uuid.uuid4().hex[:24]}"
        call = {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
                "content": [{"type": "tool_use", "id": use, "name": "Bash", "input": {"command": "ls numbat_dir"}}]}
        for rec in ({"type": "assistant", "message": call, "uuid": str(uuid.uuid4())},
                    {"type": "user", "uuid": rid, "message": {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": use, "content": output, "is_error": False}]}}):
            lines.append(json.dumps({**base, **rec, "parentUuid": parent, "timestamp": "2026-01-02T03:04:05.000Z"}))
            parent = rec["uuid"]
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def test_a_held_output_gains_messages_before_between_and_after_its_own(tmp_path):
    """A tool output the index holds for several messages gains new ones (`fts_build._gain`): the held ones after each
    new one in msg_id order are numbered again (`n`), the first message changes when a new one comes first (the
    document moves to the delta), and two new ones in one update take their places; each time equal to a rebuild."""
    db, path = _examples_vault(tmp_path)
    con = _connect(db, read_only=True)
    output, low, high = con.execute(
        "SELECT text, min(msg_id), max(msg_id) FROM messages WHERE kind = 'tool_result' AND NOT is_error "
        "AND length(text) > 0 GROUP BY text HAVING count(*) >= 3 ORDER BY count(*) DESC, text LIMIT 1").fetchone()
    con.close()
    middle = f"{low[:-1]}~"  # after the first held message, before the others (ids are hex and dashes)
    for what, ids in (("after them all", [f"{high}~"]), ("between", [middle]),
                      ("first, and another after them all", ["0", f"{high}~~"])):
        _append_results(path, output, ids)
        index = _ingest(db, path)["index"]
        assert index["fts_appended"] is True, (what, index)
        _same_as_rebuild(db, tmp_path, what)
    con = _connect(db, read_only=True)
    try:
        first, n = con.execute(
            "SELECT m.msg_id, (SELECT count(*) FROM fts_main_fts_docs.doc_msgs x WHERE x.docid = m.docid) "
            "FROM fts_main_fts_docs.doc_msgs m JOIN messages USING (msg_id) "
            "WHERE m.n = 1 AND messages.text = ? AND messages.kind = 'tool_result'", [output]).fetchone()
        assert first == "0" and n >= 7
    finally:
        con.close()


def test_an_update_leaves_no_temp_table_behind(tmp_path):
    """`fts_build._drop_temps` drops the temp tables that exist (found by one query), on the append path and on the
    whole comparison alike."""
    from vault.index import fts_build
    from vault.store import transaction

    db, path = _examples_vault(tmp_path)
    _append(path, "an output only this session printed: platypus", False)
    con = _connect(db)
    try:
        sid, = con.execute("SELECT session_id FROM messages ORDER BY seq DESC LIMIT 1").fetchone()
        for appended in (True, False):
            with transaction(con):
                con.execute(f"INSERT INTO {fts_build.S}.pending VALUES ('{sid}')")
                if not appended:  # fingerprints from elsewhere: the whole comparison
                    con.execute(f"DELETE FROM {fts_build.FINGERPRINTS}")
            out = fts_build.refresh(con)
            assert out["fts_sessions"] >= 1 and out["fts_appended"] is appended, out
            temps = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
            assert not temps & set(fts_build.TEMPS), (appended, temps)
    finally:
        con.close()
