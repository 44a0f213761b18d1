"""The project (hence the default role and its persona) of neutral JSONL records that name no `source`: the file's
name, or its folder's when the name only says what the file holds (issue 12: roles never merge different people).
Two people's `sessions.jsonl` were one role before: every exported pair of both carried one persona."""

from __future__ import annotations

import json

from vault.ingest import ingest


def _write(path, cid: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"id": cid, "messages": [{"role": "user", "content": text},
                                                        {"role": "assistant", "content": "Done."}]}) + "\n")


def test_generic_file_names_take_their_folder_and_a_named_file_keeps_its_name(con, tmp_path):
    _write(tmp_path / "alice-app" / "sessions.jsonl", "a1", "Add a login page")
    _write(tmp_path / "bob-tool" / "sessions.jsonl", "b1", "Fix the parser")
    _write(tmp_path / "exports" / "BookMinder.jsonl", "m1", "Review the TODO")
    _write(tmp_path / "exports" / "Conversations.json", "c1", "Summarise this")
    ingest(con, [tmp_path])
    got = dict(con.execute("SELECT session_id, project FROM sessions").fetchall())
    assert got == {"a1": "alice-app", "b1": "bob-tool", "m1": "BookMinder", "c1": "exports"}


def test_a_source_field_still_names_the_project(con, tmp_path):
    path = tmp_path / "team" / "sessions.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({"id": "s1", "source": "owner/repo:log/day-1.md",
                                "messages": [{"role": "user", "content": "Go"}]}) + "\n")
    ingest(con, [path])
    assert con.execute("SELECT project FROM sessions").fetchone()[0] == "owner/repo"
