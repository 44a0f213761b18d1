"""Search on the shared real corpora: keyword, semantic, hybrid, filters, incremental embedding.

One vault is built per module, in two steps as a person's vault grows: the Claude Code corpus,
then one neutral conversation file, so the second embedding run is an incremental one.
(No conftest.py here: a second `conftest` module would shadow the root one for other test folders.)
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from support import require_shared
from search_support import CLAUDE_CORPUS, SECOND_FILE, SMALL_SESSION

from vault.index import after_ingest
from vault.index.embeddings import embed_pending, pending_count
from vault.index.search import SearchFilters, search
from vault.ingest import ingest
from vault.store import open_vault


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    require_shared()
    path = tmp_path_factory.mktemp("search") / "vault.duckdb"
    con = open_vault(path)
    try:
        ingest(con, [CLAUDE_CORPUS])
        first = after_ingest(con, embed=True)
        ingest(con, [SECOND_FILE])
        pending = pending_count(con)
        second = after_ingest(con, embed=True)
    finally:
        con.close()
    return {"path": path, "first": first, "second": second, "pending_before_second": pending}


@pytest.fixture
def scon(built):
    c = open_vault(built["path"], read_only=True)
    yield c
    c.close()


def _ids(hits):
    return [h.msg_id for h in hits]


def _msg_with(con, needle: str) -> str:
    rows = con.execute("SELECT msg_id FROM messages WHERE kind = 'human_prompt' AND text LIKE ?",
                       [f"%{needle}%"]).fetchall()
    assert len(rows) == 1, f"expected one message holding {needle!r}, found {len(rows)}"
    return rows[0][0]


# -- keyword -------------------------------------------------------------------------


def test_known_phrase_is_found_by_keyword(scon):
    target = _msg_with(scon, "webinspector wont open")
    hits = search(scon, '"webinspector wont open"', mode="keyword", limit=5)
    assert _ids(hits)[0] == target
    assert hits[0].session_id == scon.execute("SELECT session_id FROM messages WHERE msg_id = ?",
                                              [target]).fetchone()[0]
    assert "**webinspector**" in hits[0].marked().lower()


def test_stopword_hello_and_digits_are_searchable(scon):
    hello = search(scon, "hello", mode="keyword", limit=50)
    assert hello and all("hello" in scon.execute("SELECT lower(text) FROM messages WHERE msg_id = ?",
                                                 [h.msg_id]).fetchone()[0] for h in hello)
    # Stemming: the snippet marks the word as written, whatever its inflection.
    tests = search(scon, "testing", mode="keyword", limit=10)
    assert tests and all(h.spans for h in tests)


# -- semantic ------------------------------------------------------------------------


def test_paraphrase_without_shared_words_is_found_semantically(scon):
    target = _msg_with(scon, "im on ipados and the webinspector wont open after i hit start")
    paraphrase = "Safari developer tools refuse to launch using my iPad tablet"
    original = set(scon.execute("SELECT lower(text) FROM messages WHERE msg_id = ?", [target]).fetchone()[0].split())
    assert not original & set(paraphrase.lower().split())
    assert target not in _ids(search(scon, paraphrase, mode="keyword", limit=100))
    assert target in _ids(search(scon, paraphrase, mode="semantic", limit=3))
    assert target in _ids(search(scon, paraphrase, mode="hybrid", limit=5))


def test_hybrid_fuses_both_rankings(scon):
    hits = search(scon, "pre-commit hooks configuration", mode="hybrid", limit=10)
    assert hits and any(h.keyword_rank and h.semantic_rank for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["keyword", "semantic"])
def test_filters_restrict(scon, mode):
    query = "commit and push the changes"
    everything = search(scon, query, mode=mode, limit=200)
    projects = {h.project for h in everything}
    assert len(projects) > 1
    project = sorted(projects - {None})[0]
    only = search(scon, query, mode=mode, limit=200, filters=SearchFilters(project=project))
    assert only and {h.project for h in only} == {project}

    human = search(scon, query, mode=mode, limit=200, filters=SearchFilters(human_only=True))
    assert human and all(scon.execute("SELECT is_human FROM messages WHERE msg_id = ?", [h.msg_id]).fetchone()[0]
                         for h in human)
    kind = search(scon, query, mode=mode, limit=200, filters=SearchFilters(kinds=("assistant_text",)))
    assert kind and {h.kind for h in kind} == {"assistant_text"}

    sid = everything[0].session_id.split("/")[0]
    in_session = search(scon, query, mode=mode, limit=200, filters=SearchFilters(session=sid[:8]))
    assert in_session and all(h.session_id.startswith(sid) for h in in_session)

    stamped = sorted(h.timestamp for h in everything if h.timestamp)
    cut = stamped[len(stamped) // 2]
    since = search(scon, query, mode=mode, limit=200, filters=SearchFilters(since=cut))
    until = search(scon, query, mode=mode, limit=200, filters=SearchFilters(until=cut))
    assert since and all(h.timestamp >= cut for h in since)
    assert until and all(h.timestamp and h.timestamp <= cut for h in until)


def test_role_filter_goes_through_roles_and_subagents_inherit(built, tmp_path):
    path = tmp_path / "roles.duckdb"
    shutil.copy(built["path"], path)
    con = open_vault(path)
    try:
        parent = con.execute("SELECT parent_session_id FROM sessions WHERE parent_session_id IS NOT NULL "
                             "ORDER BY session_id LIMIT 1").fetchone()[0]
        con.execute("INSERT INTO roles VALUES (?, 'reviewer', 'test')", [parent])
        hits = search(con, "file code test", mode="keyword", limit=500, filters=SearchFilters(role="reviewer"))
        hits += search(con, "file test code", mode="semantic", limit=500, filters=SearchFilters(role="reviewer"))
        assert hits and {h.session_id.split("/")[0] for h in hits} == {parent}
        assert {h.role_name for h in hits} == {"reviewer"}
        assert any("/" in h.session_id for h in hits)  # a subagent of the session counts as its role
    finally:
        con.close()


# -- embedding: incremental, dedupe, resume, model change -----------------------------------


def test_reembedding_after_adding_messages_embeds_only_the_new_ones(built, scon):
    first, second = built["first"]["embed"], built["second"]["embed"]
    assert first["messages"] > 500
    # The second run took exactly the messages the new file brought, not the earlier ones.
    assert second["messages"] == built["pending_before_second"] > 0
    new_indexed = scon.execute(
        "SELECT count(DISTINCT c.msg_id) FROM chunks c JOIN messages m USING (msg_id) JOIN files f USING (file_id) "
        "WHERE f.path LIKE '%brain_explore.jsonl'"
    ).fetchone()[0]
    assert second["messages"] == new_indexed
    assert second["embedded"] <= second["distinct"] <= second["chunks"]
    assert pending_count(scon) == 0


def test_identical_texts_are_embedded_once(scon):
    chunks, distinct = scon.execute("SELECT count(*), count(DISTINCT content_hash) FROM chunks").fetchone()
    vectors = scon.execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert vectors == distinct < chunks  # the corpus repeats some texts ("Now let me run the tests")


def test_nothing_to_embed_loads_no_model(built, tmp_path, monkeypatch):
    from vault.index import embeddings

    path = tmp_path / "copy.duckdb"
    shutil.copy(built["path"], path)
    monkeypatch.setattr(embeddings, "load_model", lambda name: pytest.fail("model loaded with nothing to embed"))
    con = open_vault(path)
    try:
        t = time.perf_counter()
        rep = ingest(con, [CLAUDE_CORPUS, SECOND_FILE])
        out = after_ingest(con, embed=True)
        assert rep.messages_added == 0 and out is None
        assert time.perf_counter() - t < 1.0
    finally:
        con.close()


def test_interrupted_run_resumes_without_reembedding(con, monkeypatch):
    from vault.index import embeddings

    ingest(con, [SMALL_SESSION])
    monkeypatch.setattr(embeddings, "GROUP", 2)
    calls = []

    def stop_after_two_groups(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_pending(con, on_progress=stop_after_two_groups)
    kept = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert kept == 4 and pending_count(con) > 0  # two groups committed; no chunk rows yet
    rep = embed_pending(con)
    assert rep.distinct > 4 and rep.reused == 4 and rep.embedded == rep.distinct - 4
    assert pending_count(con) == 0


def test_model_change_reembeds_and_never_mixes(con):
    from vault.index.embeddings import active_model
    from vault.index.settings import DEFAULT_MODEL, model_location

    ingest(con, [SMALL_SESSION])
    first = embed_pending(con)
    assert active_model(con)[1] == DEFAULT_MODEL
    # The same weights under another name are, for the vault, another model: everything is redone.
    other = model_location(DEFAULT_MODEL)
    second = embed_pending(con, other)
    assert second.messages == first.messages and second.embedded == first.distinct
    assert second.switched_from == [DEFAULT_MODEL]
    mid, name, _ = active_model(con)
    assert name == other
    assert con.execute("SELECT DISTINCT model_id FROM chunks").fetchall() == [(mid,)]
    assert con.execute("SELECT DISTINCT model_id FROM vectors").fetchall() == [(mid,)]
    assert search(con, "music from text embeddings", mode="semantic", limit=3)


# -- the command line ------------------------------------------------------------------------


def test_cli_search_json_contract(built):
    from support import run_cli

    code, out, err = run_cli("search", "commit and push", "--limit", "5", "--json", db=built["path"])
    assert code == 0
    hits = json.loads(out)
    assert 0 < len(hits) <= 5
    for h in hits:
        assert isinstance(h["session_id"], str) and isinstance(h["msg_id"], str)
        assert h["role"] in ("user", "assistant") and isinstance(h["score"], float)
        assert isinstance(h["snippet"], str) and (h["timestamp"] is None or isinstance(h["timestamp"], str))
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    code, out, _ = run_cli("show", hits[0]["session_id"], "--at", hits[0]["msg_id"], "--json", db=built["path"])
    assert code == 0 and hits[0]["msg_id"] in {m["msg_id"] for m in json.loads(out)["messages"]}


def test_cli_ingest_embeds_unless_no_embed(tmp_path):
    from support import run_cli

    db = tmp_path / "v.duckdb"
    code, out, _ = run_cli("ingest", str(SMALL_SESSION), "--no-embed", "--json", db=db)
    assert code == 0 and "embed" not in json.loads(out)["index"] and json.loads(out)["index"]["fts_docs"] > 0
    code, out, _ = run_cli("ingest", str(SMALL_SESSION), "--json", db=db)
    assert code == 0 and json.loads(out)["index"]["embed"]["messages"] > 0
    code, out, _ = run_cli("embed", "--json", db=db)
    assert code == 0 and json.loads(out)["messages"] == 0


# -- vector storage (int8) and the in-memory ranking ---------------------------------------------


def _brute_force(con, query: str, filters: SearchFilters | None = None) -> list[tuple[str, float]]:
    """Every message's best chunk against the query, straight from the `vectors` view, filtered in SQL."""
    import numpy as np

    from vault.index import embeddings

    qv = embeddings.encode_query(embeddings.load_model(embeddings.active_model(con)[1]), query)
    tail, args = (filters or SearchFilters()).sql()
    allowed = {r[0] for r in con.execute(f"SELECT m.msg_id FROM messages m {tail}", args).fetchall()}
    best: dict[str, float] = {}
    for msg, vec in con.execute("SELECT c.msg_id, v.vector FROM chunks c JOIN vectors v USING (model_id, content_hash)"
                                ).fetchall():
        if msg in allowed:
            best[msg] = max(best.get(msg, -2.0), float(np.asarray(vec, np.float32) @ qv))
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))


@pytest.mark.parametrize("filters", [None, SearchFilters(human_only=True), SearchFilters(kinds=("assistant_text",)),
                                     SearchFilters(session="0")])
def test_semantic_ranking_is_the_brute_force_ranking(scon, filters):
    """The in-memory ranking (ties by msg_id, filters checked on widening candidates) is exactly what
    scoring every message in SQL gives: the same messages, the same order, the same scores."""
    for query in ("commit and push the changes", "Safari developer tools refuse to launch on my tablet"):
        want = _brute_force(scon, query, filters)[:30]
        got = search(scon, query, mode="semantic", limit=30, filters=filters)
        assert [round(h.score, 4) for h in got] == [round(s, 4) for _, s in want]
        # Scores equal to 1e-6 may come in either order (float sums); everything else in the same.
        assert {h.msg_id for h in got} == {m for m, _ in want} or abs(want[-1][1] - want[-2][1]) < 1e-6
        for h, (m, s) in zip(got, want):
            assert h.msg_id == m or any(abs(s - s2) < 1e-6 for m2, s2 in want if m2 == h.msg_id)


def test_vectors_are_int8_and_the_view_gives_unit_vectors(scon):
    import numpy as np

    types = dict(scon.execute("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = 'vector_store'").fetchall())
    assert types["q"] == "TINYINT[]" and types["scale"] == "FLOAT"
    norms = [float(np.linalg.norm(v)) for (v,) in scon.execute("SELECT vector FROM vectors LIMIT 200").fetchall()]
    assert norms and all(abs(n - 1) < 0.01 for n in norms)


def test_quantize_error_is_half_a_step():
    import numpy as np

    from vault.index.vectors import dequantize, quantize

    rng = np.random.default_rng(1)
    v = rng.standard_normal((500, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v[0] = 0  # a zero vector stays zero (no division by a zero scale)
    q, scale = quantize(v)
    back = dequantize(q, scale)
    assert q.dtype == np.int8 and np.abs(q).max() == 127 and not back[0].any()
    assert (np.abs(back - v) <= scale[:, None] / 2 + 1e-7).all()
    cos = (back[1:] * v[1:]).sum(1) / np.linalg.norm(back[1:], axis=1)
    assert cos.min() > 0.999


def test_search_in_one_process_sees_vectors_added_later(con):
    """The in-memory copy of vectors and chunks reloads when they change (a long-lived TUI or MCP server)."""
    ingest(con, [SMALL_SESSION])
    embed_pending(con)
    ids = [h.msg_id for h in search(con, "music from text embeddings", mode="semantic", limit=50)]
    assert len(ids) > 2
    con.execute(f"DELETE FROM chunks WHERE msg_id IN ({', '.join('?' for _ in ids[1:])})", ids[1:])
    assert [h.msg_id for h in search(con, "music from text embeddings", mode="semantic", limit=50)] == ids[:1]
    embed_pending(con)  # the chunks again (their vectors are still there)
    assert [h.msg_id for h in search(con, "music from text embeddings", mode="semantic", limit=50)] == ids
    # Chunks dropped (their message re-read away): gone from the next search.
    con.execute("DELETE FROM messages WHERE msg_id = ?", [ids[0]])
    from vault.index import drop_orphan_chunks

    assert drop_orphan_chunks(con) >= 1
    assert ids[0] not in {h.msg_id for h in search(con, "music from text embeddings", mode="semantic", limit=50)}


def test_stats_show_what_the_embeddings_take(built):
    from support import run_cli
    from vault.cli.archive import times

    code, out, err = run_cli("stats", "--json", db=built["path"])
    assert code == 0, err
    sz = json.loads(out)["storage"]
    emb = sz["embeddings"]
    assert emb["format"] == "int8"
    assert emb["bytes"] == sum(sz["tables"][t]["bytes"] for t in ("vector_store", "chunks", "embed_models")) > 0
    assert emb["ratio_to_archive"] == round(emb["bytes"] / sz["archive_bytes"], 4)
    code, text, err = run_cli("stats", db=built["path"])
    assert code == 0 and f"{times(emb['ratio_to_archive'])} the archive" in text and "embeddings (int8" in text
