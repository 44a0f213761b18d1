"""An incremental ingest inserts messages and tool calls by plain INSERTs (`vault.ingest._write`, `plain`); a batch that
meets an id stored already is rolled back and written again with INSERT OR IGNORE / ON CONFLICT. Both ways must leave
the same vault as writing every batch the old way."""

from __future__ import annotations

import json
import shutil

from support import ROOT
from vault import ingest as ingest_mod
from vault.ingest import ingest
from vault.store import open_vault

FIXTURES = ROOT / "tests" / "fixtures" / "claude_code"
# (records without their chunk ids: a batch written again draws new ones; their bytes are compared by `read_raw`)
TABLES = {"messages": "msg_id", "tool_calls": "tool_use_id", "sessions": "session_id", "files": "file_id"}


def _archive(root):
    """A session split in two ingests: its head, then (second run) its tail appended and a resumed copy of it in a new
    file (every uuid, tool call and result again: stored already), then a third run with a new session only."""
    src = max(FIXTURES.rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    lines = src.read_text().splitlines()
    head, tail = lines[: len(lines) // 2], lines[len(lines) // 2:]
    root.mkdir(parents=True)
    session = root / src.name
    session.write_text("\n".join(head) + "\n")
    steps = [lambda: None]

    def grow():
        with open(session, "a") as fh:
            fh.write("\n".join(tail) + "\n")
        (root / "resumed.jsonl").write_text("\n".join(lines) + "\n" + json.dumps(
            {**json.loads(lines[-1]), "uuid": "resumed-new-0001", "parentUuid": json.loads(lines[-1]).get("uuid"),
             "type": "user", "message": {"role": "user", "content": "one more thing"}}) + "\n")

    def new_session():
        other = next(p for p in sorted(FIXTURES.rglob("*.jsonl")) if p.name != src.name and "subagents" not in p.parts)
        (root / "other.jsonl").write_text(other.read_text())

    return [*steps, grow, new_session]


def _run(tmp_path, name, monkeypatch, plain_first: bool) -> tuple[dict, list[int]]:
    tried: list[int] = []
    real = ingest_mod.Ingester._write_batch

    def write_batch(self, batch, file_ids, plain):
        assert plain_first or not plain
        try:
            return real(self, batch, file_ids, plain)
        except Exception:
            tried.append(len(batch))
            raise

    monkeypatch.setattr(ingest_mod.Ingester, "_write_batch", write_batch)
    monkeypatch.setattr(ingest_mod.Ingester, "_plain_inserts", plain_first, raising=False)
    root = tmp_path / "archive"  # the same paths for both ways: the files table names them
    shutil.rmtree(root, ignore_errors=True)
    db = tmp_path / f"{name}.duckdb"
    added = []
    for step in _archive(root):
        step()
        con = open_vault(db, appends=db.exists())
        ing = ingest_mod.Ingester(con)
        ing._plain_inserts = plain_first
        rep = ing.run([root])
        assert not rep.errors and rep.files
        added.append(rep.messages_added)
        con.close()
    con = open_vault(db, read_only=True)
    from vault.rawstore import read_raw

    raw = list(read_raw(con, columns=("file_id", "line_no", "byte_offset", "record_type", "record_id", "parent_id")))
    out = {"records": raw, **{t: con.execute(f"SELECT * EXCLUDE (ingested_at, mtime) FROM {t} ORDER BY {k}").fetchall() if t == "files" else
           con.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in TABLES.items()}}
    con.close()
    return {"tables": out, "added": added}, tried


def test_plain_inserts_leave_the_vault_the_old_way_leaves(tmp_path, monkeypatch):
    new_way, failed = _run(tmp_path, "plain", monkeypatch, plain_first=True)
    old_way, _ = _run(tmp_path, "old", monkeypatch, plain_first=False)
    assert failed == [2]  # the second run's batch (the tail and the resumed copy) met stored ids, once
    assert new_way == old_way
    assert new_way["added"][1] > 1 and new_way["added"][2] > 0 and len(new_way["tables"]["tool_calls"]) > 0


def test_a_library_ingest_still_counts_duplicates_once(tmp_path):
    root = tmp_path / "archive"
    steps = _archive(root)
    con = open_vault(tmp_path / "v.duckdb")
    counts = []
    for step in steps:
        step()
        counts.append(ingest(con, [root]).messages_added)
    total = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    con.close()
    assert sum(counts) == total
