"""The records `mark_forks` walks, read from the vault (`forks._records_per_file`): matched with the messages of their
own file first, then the ids left among every message (by the key's index for a few ids, by a join for many). Both
ways must give exactly what one join of every record with every message gives (the query they replace), including
records whose message was stored from another file: a summary naming a leaf elsewhere, a session's copy of its
history."""

from __future__ import annotations

import json

import pytest

from support import copy_mixed_archive
from vault.ingest import ingest
from vault.sources import forks
from vault.sources.base import TOUCHED
from vault.store import open_vault

# The query `_records_per_file` replaced: every record of the touched sessions in the files, joined with every message.
REFERENCE = f"""
    SELECT r.file_id, r.record_id, r.parent_id, m.msg_id IS NOT NULL, coalesce(m.seq, -1), m.kind, m.turn_id
    FROM records r JOIN (SELECT DISTINCT split_part(session_id, '/', 1) AS sid FROM {TOUCHED}) t ON r.session_id = t.sid
    JOIN files f ON f.file_id = r.file_id AND f.source = 'claude_code'
    LEFT JOIN messages m ON m.msg_id = r.record_id
    WHERE r.record_id IS NOT NULL
"""


def _copied_session(src, dest) -> None:
    """A resumed session's file: `src`'s records (their uuids kept, as Claude Code copies them) then one new turn."""
    lines = src.read_text().splitlines()
    last = json.loads(lines[-1])
    lines.append(json.dumps({**last, "uuid": "resumed-0001", "parentUuid": last.get("uuid"), "type": "user",
                             "message": {"role": "user", "content": "and now?"}}))
    dest.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("lookup_ids", "per_query"), [(0, 1), (3, 1), (10**6, 1), (forks.INDEX_LOOKUP_IDS, 100)])
def test_records_read_as_one_join_reads_them(tmp_path, monkeypatch, lookup_ids, per_query):
    """`per_query` 1: each file alone, so a message stored from another file is always found in the second step."""
    archive = copy_mixed_archive(tmp_path / "archive")
    src = next((archive / "fixtures-cc").rglob("*.jsonl"))
    _copied_session(src, tmp_path / "archive" / "resumed.jsonl")
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [archive])
    monkeypatch.setattr(forks, "INDEX_LOOKUP_IDS", lookup_ids)
    monkeypatch.setattr(forks, "FORK_FILES_PER_QUERY", per_query)
    con.execute(f"CREATE TEMP TABLE {TOUCHED} AS SELECT DISTINCT session_id FROM sessions")
    expected = sorted(con.execute(REFERENCE).fetchall())
    files = forks.touched_files(con, "claude_code")
    got = sorted(r for recs in forks._records_per_file(con, "claude_code", files) for r in recs)
    elsewhere = con.execute(f"""SELECT count(*) FROM records r JOIN messages m ON m.msg_id = r.record_id
                                WHERE m.file_id <> r.file_id AND r.file_id IN ({', '.join(map(str, files))})""")
    assert elsewhere.fetchone()[0] > 3  # the second step's both ways are taken across the parameters
    assert len(expected) > 100 and got == expected
    con.close()


def test_the_marks_equal_the_session_wide_update(tmp_path):
    """The update reads the touched files' row groups only (their ids as constants): the same marks as the update over
    every message of the touched sessions (the statement it replaced)."""
    import pyarrow as pa

    archive = copy_mixed_archive(tmp_path / "archive")
    _copied_session(next((archive / "fixtures-cc").rglob("*.jsonl")), archive / "resumed.jsonl")
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [archive])
    con.execute(f"CREATE TEMP TABLE {TOUCHED} AS SELECT DISTINCT session_id FROM sessions")
    marks = "SELECT msg_id, on_main_branch FROM messages ORDER BY 1"
    con.execute("UPDATE messages SET on_main_branch = true")
    forks.mark_forks(con, "claude_code")
    got = con.execute(marks).fetchall()
    by_file: dict[int, list[tuple]] = {}
    for r in con.execute(REFERENCE).fetchall():
        by_file.setdefault(r[0], []).append(r)
    off = [m for recs in by_file.values() for m in forks._off_branch(recs)]
    con.execute("UPDATE messages SET on_main_branch = true")
    con.register("_off", pa.table({"msg_id": pa.array(off, pa.string())}))
    con.execute("UPDATE messages SET on_main_branch = (msg_id NOT IN (SELECT msg_id FROM _off)) "
                f"WHERE split_part(session_id, '/', 1) IN (SELECT DISTINCT split_part(session_id, '/', 1) FROM {TOUCHED}) "
                "AND file_id IN (SELECT file_id FROM files WHERE source = 'claude_code') "
                "AND on_main_branch IS DISTINCT FROM (msg_id NOT IN (SELECT msg_id FROM _off))")
    expected = con.execute(marks).fetchall()
    assert got == expected
    assert sum(m is False for _, m in got) >= 1 and sum(m is True for _, m in got) > 100
    con.close()


def test_queued_copies_marked_from_the_touched_files_only(tmp_path):
    """`_mark_queued_copies` reads the touched files' rows only: the same kinds as reading every Claude Code file's."""
    from vault.model import Kind
    from vault.sources import claude_code

    archive = copy_mixed_archive(tmp_path / "archive")
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [archive])
    con.execute(f"CREATE TEMP TABLE {TOUCHED} AS SELECT DISTINCT session_id FROM sessions")
    kinds = "SELECT msg_id, kind, is_human, extra FROM messages ORDER BY 1"
    stored = con.execute(kinds).fetchall()
    queued = [r[0] for r in stored if r[1] in (Kind.QUEUED_DUPLICATE, Kind.QUEUED_PROMPT)]
    con.execute(f"UPDATE messages SET kind = '{Kind.HUMAN_PROMPT}' WHERE kind = '{Kind.QUEUED_PROMPT}'")
    every = [r[0] for r in con.execute("SELECT file_id FROM files WHERE source = 'claude_code'").fetchall()]
    claude_code._mark_queued_copies(con, "claude_code", every)
    by_every_file = con.execute(kinds).fetchall()
    con.execute(f"UPDATE messages SET kind = '{Kind.HUMAN_PROMPT}' WHERE kind = '{Kind.QUEUED_PROMPT}'")
    claude_code._mark_queued_copies(con, "claude_code", forks.touched_files(con, "claude_code"))
    assert con.execute(kinds).fetchall() == by_every_file == stored and len(queued) >= 2
    con.close()
