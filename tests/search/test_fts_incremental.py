"""The keyword index updated in place (issue 14): after each of several successive small ingests (new
sessions, another source, a session grown by a turn, a file rewritten with messages changed and gone,
tool outputs shared across sessions changing tier), the index holds what a full rebuild holds and ranks
exactly as it does, and as BM25 computed by brute force over every document.

Runs on the bundled examples and tests/corpus (no ../shared needed).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import uuid
from pathlib import Path

import pytest

from fts_state import index_contents, misnamed_postings, queries_of, rankings
from support import EXAMPLES, ROOT, run_cli

CORPUS = ROOT / "tests" / "corpus" / "conversations"


def _connect(db: Path, read_only: bool = False):
    from vault.store import connect

    return connect(db, read_only=read_only)


def _ingest(db: Path, *paths: Path) -> dict:
    code, out, err = run_cli("ingest", *map(str, paths), "--no-embed", "--json", db=db)
    assert code == 0, err
    return json.loads(out)


def _rebuilt(db: Path, tmp: Path):
    """A copy of the vault with its keyword index built from scratch."""
    from vault.index import fts

    ref = tmp / f"ref-{uuid.uuid4().hex[:6]}.duckdb"
    shutil.copyfile(db, ref)
    if Path(f"{db}.wal").exists():  # a small ingest leaves its changes in the WAL (`store.settle`)
        shutil.copyfile(f"{db}.wal", f"{ref}.wal")
    con = _connect(ref)
    fts.ensure_index(con, force=True)
    return con


def _examples_vault(tmp: Path) -> tuple[Path, Path]:
    """A vault of a copy of the bundled examples (one ingest), and the copy's largest file (to grow or cut)."""
    arch = tmp / "archive"
    shutil.copytree(EXAMPLES / "claude-code", arch)
    db = tmp / "v.duckdb"
    _ingest(db, arch)
    return db, max(arch.rglob("*.jsonl"), key=lambda p: p.stat().st_size)


class BruteForce:
    """BM25 of every document, computed here from its term counts (the index's tokenizer, no index table):
    the ranking `fts.best` promises (more terms, tier, score, msg_id)."""

    def __init__(self, con):
        from vault.index import fts, fts_build

        fts.load_extension(con)
        fts_build._stage(con, "true")
        con.execute("CREATE OR REPLACE TEMP TABLE _bf AS SELECT doc, text FROM _docs")
        fts_build._tokenize(con, "_bf")
        self.con = con
        self.tf = con.execute("SELECT doc, term, tf FROM _tf").fetchall()
        self.tier = dict(con.execute("SELECT doc, tier FROM _docs").fetchall())
        self.msgs = con.execute("SELECT doc, msg_id FROM _dmsgs").fetchall()
        self.length = dict.fromkeys(self.tier, 0)
        self.df: dict[str, int] = {}
        for doc, term, n in self.tf:
            self.length[doc] += n
            self.df[term] = self.df.get(term, 0) + 1

    def ranking(self, query: str, limit: int) -> list[tuple[str, float]]:
        from vault.index import fts

        n_docs, avgdl = len(self.tier), sum(self.length.values()) / len(self.tier)
        stems = set(fts.query_stems(self.con, query))
        score: dict[str, int] = {}
        matched: dict[str, int] = {}
        k, b = fts.BM25_K, fts.BM25_B
        for doc, term, n in self.tf:
            if term in stems:
                df = self.df[term]
                idf = math.log((n_docs - df + 0.5) / (df + 0.5) + 1)
                w = n * (k + 1) / (n + k * ((1 - b) + b * self.length[doc] / avgdl))
                score[doc] = score.get(doc, 0) + round(idf * w * fts.SCALE)
                matched[doc] = matched.get(doc, 0) + 1
        ranked = sorted((-matched[d], self.tier[d], -score[d], m) for d, m in self.msgs if d in score)[:limit]
        return [(m, -s / fts.SCALE) for _, _, s, m in ranked]


def _turn(last: dict, records: list[dict]) -> list[str]:
    """Claude Code lines continuing after `last`, with fresh ids."""
    parent, now, lines = last["uuid"], _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.UTC), []
    for i, rec in enumerate(records):
        base = {k: last[k] for k in ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch") if k in last}
        base.update(rec, parentUuid=parent, uuid=str(uuid.uuid4()),
                    timestamp=(now + _dt.timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        lines.append(json.dumps(base))
        parent = base["uuid"]
    return lines


def _append(path: Path, shared_output: str, error: bool) -> None:
    """A typed prompt, a tool call, its output (`shared_output`, which other sessions printed too) and an answer."""
    last = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    last = next(r for r in reversed(last) if r.get("sessionId") and r.get("uuid"))
    use = f"toolu_{uuid.uuid4().hex[:24]}"
    msg = lambda content: {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant",  # noqa: E731
                           "model": "claude-opus-4-6", "content": content, "stop_reason": "end_turn"}
    lines = _turn(last, [
        {"type": "user", "message": {"role": "user", "content": "zebrafish quokka: run the linter again, please"}},
        {"type": "assistant", "message": msg([{"type": "tool_use", "id": use, "name": "Bash",
                                                "input": {"command": "ruff check quokka_module.py"}}])},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": use, "content": shared_output, "is_error": error}]}},
        {"type": "assistant", "message": msg([{"type": "text", "text": "The quokka linter passes; zebrafish next."}])},
    ])
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _rewrite(path: Path) -> None:
    """The file rewritten: its second half gone, and a word changed in what is left (same ids)."""
    lines = [x for x in path.read_text().splitlines() if x.strip()]
    kept = lines[: max(2, len(lines) // 2)]
    path.write_text("\n".join(x.replace("the ", "the wombat ", 1) for x in kept) + "\n")


@pytest.fixture(params=["delta", "merge"])
def merging(request, monkeypatch):
    """`delta`: the delta is never merged (statistics drift from the main segment's); `merge`: merged at every update,
    with only the first 2 postings of a term naming their message (`HEAD_MSGS`: the others' through `doc_msgs`)."""
    from vault.index import fts_build

    monkeypatch.setattr(fts_build, "MERGE_SHARE", 1e9 if request.param == "delta" else 0.0)
    if request.param == "merge":
        monkeypatch.setattr(fts_build, "HEAD_MSGS", 2)
    return request.param


def test_successive_small_ingests_equal_a_full_rebuild_and_brute_force(tmp_path, merging):
    from vault.index import fts

    arch = tmp_path / "archive"
    shutil.copytree(EXAMPLES / "claude-code", arch / "cc")
    shutil.copytree(CORPUS, arch / "conv")
    projects = sorted(p for p in (arch / "cc").iterdir() if p.is_dir())
    db = tmp_path / "v.duckdb"
    first = _ingest(db, projects[0])
    assert first["index"]["fts_docs"] > 0 and "fts_added" not in first["index"]  # a new vault: a full build

    con = _connect(db, read_only=True)
    shared_output, = con.execute("SELECT text FROM messages WHERE kind = 'tool_result' AND NOT is_error "
                                 "GROUP BY text HAVING count(*) > 1 ORDER BY count(*) DESC, text LIMIT 1").fetchone()
    con.close()
    grown = sorted(projects[0].glob("*.jsonl"))[0]
    rewritten = sorted(projects[1].glob("*.jsonl"))[-1]
    # (what, the files, whether the update only adds: `fts_build._append`, else `_diff`)
    steps = [
        ("new sessions", lambda: projects[1:], True),
        ("another source", lambda: [arch / "conv"], True),
        ("a session grown by a turn sharing an output, as an error", lambda: _append(grown, shared_output, True) or [grown],
         True),
        ("the same session grown again, the output not an error", lambda: _append(grown, shared_output, False) or [grown],
         True),
        ("a file rewritten: half its messages gone, text changed", lambda: _rewrite(rewritten) or [rewritten], False),
        ("the grown session rewritten back to its start", lambda: _rewrite(grown) or [grown], False),
    ]
    for what, step, appends in steps:
        rep = _ingest(db, *step())
        assert rep["files"] >= 1, what
        index = rep["index"]
        assert "fts_added" in index, (what, index)  # updated in place, not rebuilt
        assert index["fts_appended"] is appends, (what, index)
        con = _connect(db, read_only=True)
        assert not fts.needs_rebuild(con)
        ref = _rebuilt(db, tmp_path)
        try:
            assert index_contents(con) == index_contents(ref), what
            assert misnamed_postings(con) == misnamed_postings(ref) == [], what
            queries = queries_of(ref) + ["zebrafish quokka", "quokka", "wombat", '"quokka linter"']
            assert rankings(con, queries) == rankings(ref, queries), what
            brute = BruteForce(ref)
            for q in queries[::3] + ["quokka", "zebrafish quokka"]:
                _, terms = fts.lookup(con, q)
                assert fts.best(con, terms, 1, 10) == brute.ranking(q, 10), (what, q)
        finally:
            con.close()
            ref.close()
    # What the steps did: documents removed and moved (a shared output's tier), and new words found.
    con = _connect(db, read_only=True)
    try:
        from vault.index.search import keyword_search

        assert not keyword_search(con, "quokka")  # the grown session was cut back before the turns
        assert keyword_search(con, "wombat")
    finally:
        con.close()


def test_deleted_and_changed_messages_leave_the_results(tmp_path):
    from vault.index import fts
    from vault.index.search import keyword_search

    db, path = _examples_vault(tmp_path)
    _append(path, "an output only this session printed: platypus", False)
    _ingest(db, path)
    con = _connect(db, read_only=True)
    hits = {h.msg_id for h in keyword_search(con, "platypus quokka", limit=50)}
    con.close()
    assert len(hits) >= 3  # the prompt, the call, its output and the answer
    lines = [x for x in path.read_text().splitlines() if x.strip()]
    path.write_text("\n".join(lines[:-4]).replace("quokka", "numbat") + "\n")  # the turn gone again
    rep = _ingest(db, path)
    assert rep["index"]["fts_removed"] >= 3
    con = _connect(db, read_only=True)
    try:
        assert not keyword_search(con, "platypus") and not keyword_search(con, "quokka")
        stems = [t for t, in con.execute("SELECT term FROM fts_main_fts_docs.dict WHERE term IN ('platypu', 'quokka')").fetchall()]
        assert stems == []  # words no document holds any more leave the dictionary, as in a rebuild
        assert not fts.needs_rebuild(con)
    finally:
        con.close()


def _rebuilt_under_cap(db, tmp_path, monkeypatch, cap: str):
    """The index rebuilt whole with `fts.BUILD_MEMORY` = cap: (the memory_limit of each build attempt, connection)."""
    from vault.index import fts

    caps = []
    real_build = fts.fts_build.build

    def build(con, *args):
        caps.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real_build(con, *args)

    monkeypatch.setattr(fts.fts_build, "build", build)
    monkeypatch.setattr(fts, "BUILD_MEMORY", cap)
    return caps, _rebuilt(db, tmp_path)


def test_a_build_out_of_memory_under_its_cap_is_done_again_under_the_roomy_one(tmp_path, monkeypatch):
    """The whole build runs under a small DuckDB cap (it spills); one that still runs out of memory starts over
    under ROOMY_BUILD_MEMORY and gives the same index."""
    db = tmp_path / "v.duckdb"
    _ingest(db, EXAMPLES / "claude-code", CORPUS)
    expected = index_contents(_rebuilt(db, tmp_path))
    caps, con = _rebuilt_under_cap(db, tmp_path, monkeypatch, "1MB")  # too small for anything: the first try fails
    assert len(caps) == 2 and caps[0] != caps[1]
    assert index_contents(con) == expected


def _args_grouped(con) -> list[tuple]:
    """`_args` as the build made it before it stopped grouping every call (`list()` over all of them, held in memory
    whole): the reference the new statement must equal."""
    from vault.index import fts_build

    paths = "[" + ", ".join(f"'$.{k}'" for k in fts_build.ARG_KEYS) + "]"
    return sorted(con.execute(f"""
        SELECT msg_id, args FROM (
            SELECT m.msg_id, array_to_string(list_filter(a.args, x -> NOT contains(m.text, x)), ' ') AS args
            FROM messages m JOIN (
                SELECT call_msg_id, flatten(list(list_transform(json_extract_string(input, {paths}),
                                                                x -> left(x, {fts_build.ARG_CHARS})))) AS args
                FROM tool_calls WHERE call_msg_id IS NOT NULL GROUP BY call_msg_id
            ) a ON a.call_msg_id = m.msg_id
            WHERE m.kind = 'tool_call')
        WHERE args <> ''""").fetchall())


def test_call_arguments_are_those_of_every_call_of_a_message(tmp_path):
    """A message's calls are grouped only when it has several (one list of their arguments, as when every call was
    grouped); a message of one call takes its list as it is. Same `_args`, whole build or update."""
    from vault.index import fts_build

    db = tmp_path / "v.duckdb"
    _ingest(db, EXAMPLES / "claude-code", CORPUS)
    con = _connect(db)
    try:
        msg = con.execute("SELECT call_msg_id FROM tool_calls WHERE call_msg_id IS NOT NULL ORDER BY 1 LIMIT 1").fetchone()[0]
        con.execute("""INSERT INTO tool_calls SELECT * REPLACE (tool_use_id || '-2' AS tool_use_id,
                                                               '{"command": "zzqq second call"}'::JSON AS input)
                       FROM tool_calls WHERE call_msg_id = ?""", [msg])
        assert con.execute("SELECT count(*) FROM tool_calls WHERE call_msg_id = ?", [msg]).fetchone()[0] >= 2
        fts_build._stage(con, "true")
        staged = sorted(con.execute("SELECT msg_id, args FROM _args").fetchall())
        assert staged == _args_grouped(con)
        assert "zzqq second call" in dict(staged)[msg]
        assert len(staged) > 3
        # An update names the scope's call messages (`calls`): its calls are then read by rowid, with the same result.
        calls = [r[0] for r in con.execute("SELECT msg_id FROM messages WHERE kind = 'tool_call'").fetchall()]
        for named in (calls, [msg], [c for c in calls if c != msg][:3], []):
            fts_build._stage(con, "true", calls=named)
            assert sorted(con.execute("SELECT msg_id, args FROM _args").fetchall()) == [
                (m, a) for m, a in staged if m in set(named)], len(named)
    finally:
        con.close()


def _many_calls(db: Path, n: int) -> None:
    """`n` more tool-call messages (copies of one, each with its own call of two ~500-character arguments)."""
    con = _connect(db)
    try:
        msg = con.execute("SELECT call_msg_id FROM tool_calls WHERE call_msg_id IS NOT NULL ORDER BY 1 LIMIT 1").fetchone()[0]
        con.execute(f"""INSERT INTO messages SELECT m.* REPLACE (msg_id || '-' || i AS msg_id)
                        FROM messages m, range({n}) r(i) WHERE msg_id = ?""", [msg])
        con.execute(f"""INSERT INTO tool_calls SELECT t.* REPLACE (tool_use_id || '-' || i AS tool_use_id,
                            call_msg_id || '-' || i AS call_msg_id,
                            json_object('command', repeat(md5(i::VARCHAR), 16),
                                        'description', repeat(md5((i + 1)::VARCHAR), 16)) AS input)
                        FROM tool_calls t, range({n}) r(i) WHERE call_msg_id = ?""", [msg])
        con.execute("CHECKPOINT")
    finally:
        con.close()


def test_a_whole_build_under_a_small_cap_fits_without_starting_over(tmp_path, monkeypatch):
    """The whole build stays within a small DuckDB cap (one attempt: no start over under ROOMY_BUILD_MEMORY) and gives
    the index built under the usual one. With 50,000 calls of ~1 KB of arguments, `_args` as one `list()` over every
    call (held in memory whole) ran out of 128 MB (as the 5 GB bench vault's did of the build's 256 MB: it started
    over under 1 GB); grouped only where a message has several calls, it fits."""
    db = tmp_path / "v.duckdb"
    _ingest(db, EXAMPLES / "claude-code", CORPUS)
    _many_calls(db, 50_000)
    expected = index_contents(_rebuilt(db, tmp_path))
    caps, con = _rebuilt_under_cap(db, tmp_path, monkeypatch, "128MB")
    assert len(caps) == 1, caps
    assert index_contents(con) == expected
