"""Acceptance: `vault ingest ../shared/corpora/claude-code` reads every file, skips no valid line,
and `vault stats --json` matches counts derived independently from the raw files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

from support import CLAUDE_CORPUS, CORPORA, needs_shared, run_cli

pytestmark = needs_shared

sys.path.insert(0, str(Path(__file__).parent))
import cc_raw_counts  # noqa: E402


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    db = tmp_path_factory.mktemp("cc") / "vault.duckdb"
    code, out, _ = run_cli("ingest", str(CLAUDE_CORPUS), "--json", "--no-embed", db=db)
    assert code == 0
    return db, json.loads(out)


@pytest.fixture(scope="module")
def raw():
    return cc_raw_counts.count(CLAUDE_CORPUS)


def test_every_file_ingested_with_no_skipped_line(ingested, raw):
    _, rep = ingested
    files = sorted(CLAUDE_CORPUS.rglob("*.jsonl"))
    assert rep["files"] == len(files) > 20
    assert rep["skipped_lines"] == 0 and rep["errors"] == [] and rep["unrecognised"] == []
    assert raw.bad_lines == 0
    lines = sum(1 for f in files for ln in f.read_bytes().splitlines() if ln.strip())
    assert rep["records"] == lines  # every line kept raw


def test_stats_match_independent_counts(ingested, raw):
    db, _ = ingested
    code, out, _ = run_cli("stats", "--json", db=db)
    st = json.loads(out)
    assert code == 0
    assert (st["sessions"], st["messages"], st["human_messages"]) == (
        len(raw.sessions), len(raw.messages), len(raw.human))
    assert st["by_source"]["claude_code"]["sessions"] == len(raw.sessions)


def test_same_messages_and_sessions_not_just_same_numbers(ingested, raw):
    db, _ = ingested
    con = duckdb.connect(str(db), read_only=True)
    try:
        sessions = {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
        msgs = dict(con.execute("SELECT msg_id, is_human FROM messages WHERE kind <> 'queued_prompt' "
                                "AND msg_id NOT LIKE 'queue-%'").fetchall())
        queued = {r[0] for r in con.execute(
            "SELECT text FROM messages WHERE msg_id LIKE 'queue-%' AND is_human").fetchall()}
    finally:
        con.close()
    assert sessions == raw.sessions
    raw_uuids = {m for m in raw.messages if not m.startswith("queue:")}
    assert set(msgs) == raw_uuids
    assert {m for m, h in msgs.items() if h} == raw.human & raw_uuids
    assert queued == {k.rsplit(":", 1)[-1] for k in raw.human if k.startswith("queue:")}


def test_second_run_adds_nothing(ingested):
    db, first = ingested
    code, out, _ = run_cli("ingest", str(CLAUDE_CORPUS), "--json", "--no-embed", db=db)
    rep = json.loads(out)
    assert code == 0
    assert (rep["files"], rep["records"], rep["messages_added"]) == (0, 0, 0)
    assert rep["files_unchanged"] == first["files"]


# The one dev label that predates issue #11's convention: an AskUserQuestion answer typed in "Other"
# ("main was clean; fix the issues") is the person's text (labels-wild-dev labels the same case human).
FREE_ANSWER = "95b994d4-cb05-46ca-9267-9a615aed06fa"


def test_hand_labels_agree_with_is_human(ingested):
    """labels-dev.jsonl: `not_human` rows are not human; every other label but interrupt is."""
    db, _ = ingested
    labels = [json.loads(line) for line in (CORPORA / "labels-dev.jsonl").read_text().splitlines()]
    labels = [r for r in labels if r["file"].startswith("claude-code/")]
    assert len(labels) > 500
    con = duckdb.connect(str(db), read_only=True)
    try:
        human = dict(con.execute("SELECT msg_id, is_human FROM messages").fetchall())
    finally:
        con.close()
    missing = [r["msg_id"] for r in labels if r["msg_id"] not in human]
    assert missing == []
    wrong = [(r["label"], r["msg_id"], r["text"][:60]) for r in labels if r["label"] != "interrupt"
             and human[r["msg_id"]] != (r["label"] != "not_human") and r["msg_id"] != FREE_ANSWER]
    assert wrong == []
    assert human[FREE_ANSWER]
    assert all(not human[r["msg_id"]] for r in labels if r["label"] == "interrupt")


def test_sessions_and_show_json(ingested, raw):
    db, _ = ingested
    code, out, _ = run_cli("sessions", "--json", "--subagents", db=db)
    rows = json.loads(out)
    assert code == 0 and {r["session_id"] for r in rows} == raw.sessions
    code, out, _ = run_cli("sessions", "--json", db=db)
    assert {r["session_id"] for r in json.loads(out)} == {s for s in raw.sessions if "/" not in s}
    sid = "55604662-cf2a-4331-851a-ec234028f8ca"  # spotter/short.jsonl
    code, out, _ = run_cli("show", sid[:8], "--json", db=db)
    shown = json.loads(out)
    assert code == 0 and shown["session"]["session_id"] == sid
    assert {m["msg_id"] for m in shown["messages"]} == {
        m for m in raw.messages if m in (CLAUDE_CORPUS / "spotter/short.jsonl").read_text()}
    assert shown["messages"][0]["text"] == "mix phx.server doesnt seem to start"
