"""Search finds what people remember of the work: the commands they ran, the files touched, the errors seen.

Tool calls (their summary and salient arguments) and tool results (head and tail, more of a failure;
identical outputs indexed once) are in the keyword index, filterable by kind, ranked below typed text.
Mechanisms on a generated session (runs on a bare clone), behaviour on the real corpus (`needs_shared`).
"""

from __future__ import annotations

import json

import pytest
from search_support import CLAUDE_CORPUS
from support import needs_shared, run_cli

from vault.index import fts
from vault.index.search import SearchFilters, expand_kinds, keyword_search, search
from vault.ingest import ingest
from vault.store import open_vault, set_meta

SID = "55555555-5555-4555-8555-555555555555"
FILLER = "lorem ipsum " * 400  # 4,800 characters of words no test searches for


def _line(n: int, parent: int | None, type_: str, content, **extra) -> str:
    rec = {"parentUuid": f"00000000-0000-4000-8000-{parent:012d}" if parent else None, "isSidechain": False,
           "userType": "external", "cwd": "/home/USER/projects/demo", "sessionId": SID, "version": "2.1.39",
           "gitBranch": "main", "type": type_,
           "message": {"role": "user", "content": content} if type_ == "user" else
           {"model": "claude-opus-4-6", "id": f"msg_{n}", "type": "message", "role": "assistant", "content": content},
           "uuid": f"00000000-0000-4000-8000-{n:012d}", "timestamp": f"2026-02-01T10:00:{n:02d}.000Z", **extra}
    return json.dumps(rec)


def _call(n: int, tid: str, name: str, inp: dict) -> str:
    return _line(n, n - 1, "assistant", [{"type": "tool_use", "id": tid, "name": name, "input": inp}])


def _result(n: int, tid: str, text: str, error: bool = False) -> str:
    return _line(n, n - 1, "user", [{"type": "tool_result", "tool_use_id": tid, "content": text, "is_error": error}])


def msg(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def tools_vault(tmp_path_factory):
    root = tmp_path_factory.mktemp("tools")
    lines = [
        _line(1, None, "user", "Please start the stack and check that compose works"),
        _call(2, "t2", "Bash", {"command": "docker compose up --build", "description": "Start services"}),
        _result(3, "t2", "compose: building web\n" + FILLER + "\nError: connect ECONNREFUSED 127.0.0.1:5432", error=True),
        _call(4, "t4", "Grep", {"path": "/home/USER/projects/demo/src", "pattern": "retry_budget_exhausted"}),
        _result(5, "t4", "settings head line\n" + FILLER + " zetamiddle " + FILLER + "\nfinal tailword line"),
        _call(6, "t6", "Bash", {"command": "ls fixtures", "description": "List fixtures"}),
        _result(7, "t6", "alphafile.txt betafile.txt"),
        _call(8, "t8", "Bash", {"command": "ls fixtures", "description": "List fixtures again"}),
        _result(9, "t8", "alphafile.txt betafile.txt"),
        _line(10, 9, "assistant", [{"type": "text", "text": "The compose file is fine; docker started."}]),
    ]
    path = root / "-home-USER-projects-demo" / f"{SID}.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    db = root / "v.duckdb"
    con = open_vault(db)
    ingest(con, [path.parent])
    fts.ensure_index(con)
    con.close()
    return db


@pytest.fixture
def con(tools_vault):
    c = open_vault(tools_vault, read_only=True)
    yield c
    c.close()


def test_commands_files_and_arguments_are_found(con):
    assert msg(2) in [h.msg_id for h in keyword_search(con, "docker compose")]
    # A Grep's pattern: not in the message's summary line (that names the path), found through the call's input.
    assert "retry_budget_exhausted" not in con.execute("SELECT text FROM messages WHERE msg_id = ?",
                                                       [msg(4)]).fetchone()[0]
    hits = keyword_search(con, "retry_budget_exhausted")
    assert [h.msg_id for h in hits] == [msg(4)]
    assert hits[0].kind == "tool_call" and hits[0].tool_name == "Grep"
    assert "**retry**_**budget**_**exhausted**" in hits[0].marked()  # the snippet shows the argument


def test_outputs_are_cut_to_head_and_tail_errors_keep_their_end(con):
    err = keyword_search(con, "ECONNREFUSED")
    assert [(h.msg_id, h.kind, h.is_error, h.tool_name) for h in err] == [(msg(3), "tool_result", True, "Bash")]
    assert [h.msg_id for h in keyword_search(con, "tailword")] == [msg(5)]
    assert keyword_search(con, "zetamiddle") == []  # the middle of a long output is not indexed


def test_identical_outputs_are_one_document_that_finds_each_message(con):
    assert sorted(h.msg_id for h in keyword_search(con, "alphafile")) == [msg(7), msg(9)]
    docs = con.execute("SELECT count(DISTINCT doc), count(*) FROM fts_results WHERE msg_id IN (?, ?)",
                       [msg(7), msg(9)]).fetchone()
    assert docs == (1, 2)


def test_typed_text_ranks_above_tool_calls_and_calls_above_output(con):
    kinds = [h.kind for h in keyword_search(con, "compose")]
    assert sorted(kinds[:2]) == ["assistant_text", "human_prompt"] and kinds[2:] == ["tool_call", "tool_result"]


def test_kind_filter_and_groups(con):
    tools = keyword_search(con, "docker", filters=SearchFilters(kinds=expand_kinds(["tools"])))
    assert [h.msg_id for h in tools] == [msg(2)]
    said = keyword_search(con, "docker", filters=SearchFilters(kinds=("assistant_text",)))
    assert [h.msg_id for h in said] == [msg(10)]
    with pytest.raises(ValueError, match="unknown kind 'bogus'"):
        expand_kinds(["bogus"])


def test_cli_json_adds_tool_fields_and_rejects_unknown_kinds(tools_vault):
    db = tools_vault
    code, out, err = run_cli("search", "--mode", "keyword", "--json", "--kind", "tool_result", "ECONNREFUSED", db=db)
    assert code == 0, err
    (hit,) = json.loads(out)
    assert {"session_id", "msg_id", "role", "score", "snippet", "timestamp"} <= set(hit)  # CONTRACTS.md
    assert hit["msg_id"] == msg(3) and hit["tool_name"] == "Bash" and hit["is_error"] is True
    code, out, err = run_cli("search", "--mode", "keyword", "--kind", "bogus", "docker", db=db)
    assert code == 2 and "unknown kind 'bogus'" in err and "Traceback" not in err


def test_a_vault_indexed_before_tools_rebuilds_on_the_next_search(tmp_path, tools_vault):
    db = tools_vault
    old = tmp_path / "old.duckdb"
    old.write_bytes(db.read_bytes())
    con = open_vault(old)
    set_meta(con, fts.META_KINDS, "human_prompt,queued_prompt,assistant_text,tool_rejection")  # as written before
    assert fts.needs_rebuild(con)
    con.close()
    code, out, err = run_cli("search", "--mode", "keyword", "--json", "ECONNREFUSED", db=old)
    assert code == 0, err
    assert [h["msg_id"] for h in json.loads(out)] == [msg(3)]
    con = open_vault(old, read_only=True)
    assert not fts.needs_rebuild(con)
    con.close()


# -- the real corpus ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from support import require_shared

    require_shared()
    con = open_vault(tmp_path_factory.mktemp("real") / "v.duckdb")
    ingest(con, [CLAUDE_CORPUS])
    fts.ensure_index(con)
    yield con
    con.close()


@needs_shared
def test_docker_is_found_in_tool_output(real):
    """Issue 14: `docker` found 0 messages where rg finds lines, all in tool results."""
    hits = keyword_search(real, "docker", limit=50)
    assert len(hits) == 5 and {h.kind for h in hits} == {"tool_result"}
    assert all("**Docker**" in h.marked() for h in hits)


@needs_shared
def test_the_error_someone_saw_is_found_first_among_outputs(real):
    (hit,) = keyword_search(real, "ModuleNotFoundError")
    assert hit.kind == "tool_result" and hit.is_error and hit.tool_name == "Bash"
    assert "No module named 'torch'" in hit.snippet


@needs_shared
def test_a_grep_pattern_finds_its_call(real):
    (mid, text), = real.execute("SELECT m.msg_id, m.text FROM tool_calls tc JOIN messages m ON m.msg_id = tc.call_msg_id "
                                "WHERE (tc.input->>'pattern') = 'toggle_tool_result_group'").fetchall()
    assert "toggle_tool_result_group" not in text  # the summary names the path only
    hits = keyword_search(real, "toggle_tool_result_group", filters=SearchFilters(kinds=("tool_call",)))
    assert mid in [h.msg_id for h in hits]


@needs_shared
@pytest.mark.parametrize("query", ["npm", "vitest", "migration"])
def test_tiers_on_real_hits(real, query):
    """One-word queries: typed and said text, then tool calls, then failed output, then other output."""
    tier = {"tool_call": 1, "tool_result": 3}
    hits = keyword_search(real, query, limit=200)
    tiers = [tier.get(h.kind, 0) - (1 if h.is_error else 0) for h in hits]
    assert tiers == sorted(tiers) and 0 in tiers and 1 in tiers and 3 in tiers


@needs_shared
def test_identical_real_errors_are_indexed_once(real):
    rows = real.execute("SELECT msg_id FROM messages WHERE kind = 'tool_result' AND text = "
                        "'<tool_use_error>File has not been read yet. Read it first before writing to it.</tool_use_error>'"
                        ).fetchall()
    assert len(rows) == 14
    docs = real.execute(f"SELECT count(DISTINCT doc) FROM fts_results WHERE msg_id IN ({', '.join('?' * 14)})",
                        [r[0] for r in rows]).fetchone()[0]
    assert docs == 1
    hits = search(real, '"has not been read yet"', mode="keyword", limit=50,
                  filters=SearchFilters(kinds=("tool_result",)))
    assert {r[0] for r in rows} <= {h.msg_id for h in hits}


# -- the keyword query path against brute force (issue 14: top-n, phrases, the query's words) ---------


def _ranked_by_brute_force(con, query: str, limit: int, min_terms: int = 1, phrase: str | None = None) -> list:
    """Every document holding enough terms, every message of each, ordered as search promises."""
    _, terms = fts.lookup(con, query)
    check = "JOIN messages m ON m.msg_id = dm.msg_id WHERE m.text ILIKE ?" if phrase else ""
    return [(m, float(s)) for m, s in con.execute(
        f"""SELECT dm.msg_id, sc.score FROM ({fts._scored(terms)}) sc JOIN {fts.SCHEMA}.doc_msgs dm USING (docid)
            {check} ORDER BY sc.matched DESC, sc.tier, sc.score DESC, dm.msg_id LIMIT {limit}""",
        [min_terms, *([f"%{phrase}%"] if phrase else [])]).fetchall()]


@needs_shared
@pytest.mark.parametrize("query,limit", [("npm", 5), ("error", 20), ("test file", 20), ("read yet", 3),
                                         ("read yet", 20), ("docker", 50), ("file", 10)])
def test_the_best_documents_are_the_head_of_the_full_ranking(real, query, limit):
    """`fts.best` reads `limit` documents (a top-n; a shared tool output's messages capped at `limit`),
    yet returns what ranking every message of every matching document returns."""
    _, terms = fts.lookup(real, query)
    expected = _ranked_by_brute_force(real, query, limit)
    assert expected and fts.best(real, terms, 1, limit) == expected


@needs_shared
@pytest.mark.parametrize("phrase", ["has not been read yet", "git push", "pre-commit", "test file", "npm run"])
@pytest.mark.parametrize("limit", [1, 5, 20])
def test_a_phrase_is_checked_on_the_best_candidates_as_on_all_of_them(real, phrase, limit):
    stems, _ = fts.lookup(real, phrase)
    expected = [m for m, _ in _ranked_by_brute_force(real, phrase, limit, len(stems), phrase)]
    hits = keyword_search(real, f'"{phrase}"', limit=limit)
    assert expected and [h.msg_id for h in hits] == expected


@needs_shared
@pytest.mark.parametrize("query", ["Running TESTS, e404 v2.0", "café résumé", "naïve_über-Straße", "the and with",
                                   "日本語 commit", "x.y_z--w", "", "Ünïcödé tests. testing, tested"])
def test_query_words_are_split_and_stemmed_as_the_index_tokenizer_does(real, query):
    """An ASCII query is split in Python; any query gets the stems the extension's tokenizer gives."""
    fts.load_extension(real)
    assert sorted(fts.lookup(real, query)[0]) == sorted(r[0] for r in real.execute(fts._STEMS, [query]).fetchall())


@needs_shared
def test_a_stale_index_naming_a_deleted_message_gives_no_hit_rather_than_an_error(real):
    from vault.index.search import _hits

    assert _hits(real, [("no-such-message", 1.0)], "docker", {}) == []
