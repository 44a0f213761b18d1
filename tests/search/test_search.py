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
