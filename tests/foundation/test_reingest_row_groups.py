"""A small ingest into a vault that holds data leaves the stored row groups as they were (`open_vault(appends=True)`).

DuckDB appends a small commit to a table with an index into its last row group, and the next checkpoint rewrites
that row group whole (on the 1 GB vault ~1 s for two new messages). Attached with `store.APPEND_ROW_GROUP`, a
stored row group of that many rows counts as full: the new rows start a row group of their own.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid

import pytest

from vault.ingest import Ingester
from vault.store import APPEND_ROW_GROUP, open_vault, settle

SESSION = "0b5e5510-0000-4000-8000-000000000001"
MESSAGES = APPEND_ROW_GROUP + 400  # one stored row group larger than APPEND_ROW_GROUP


def _append(path, n: int, start: int) -> None:
    """`n` records of a Claude Code session (a prompt, then answers), with fresh ids."""
    t0 = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    lines = []
    for i in range(start, start + n):
        role = "user" if i % 2 == 0 else "assistant"
        content = f"question {i} about the build" if role == "user" else [{"type": "text", "text": f"answer {i}"}]
        message = {"role": role, "content": content}
        if role == "assistant":
            message.update(id=f"msg_{i:08d}", type="message", model="claude-opus-4-6", stop_reason="end_turn")
        lines.append(json.dumps({
            "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/u/p", "sessionId": SESSION,
            "version": "2.1.0", "type": role, "uuid": str(uuid.uuid4()), "message": message,
            "timestamp": (t0 + _dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")}))
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _stored(con, table: str) -> dict[int, set]:
    """Each row group of `table`: its rows and where its column segments are stored."""
    groups: dict[int, set] = {}
    for rg, column, count, block, offset in con.execute(
            f"SELECT row_group_id, column_name, count, block_id, block_offset FROM pragma_storage_info('{table}') "
            "WHERE persistent").fetchall():
        groups.setdefault(rg, set()).add((column, count, block, offset))
    return groups


def _ingest(db, path, appends: bool) -> None:
    con = open_vault(db, appends=appends)
    try:
        Ingester(con).run([path])
        settle(con)
    finally:
        con.close()


@pytest.mark.parametrize("appends", [True, False])
def test_small_ingest_leaves_stored_row_groups(tmp_path, appends):
    db, session = tmp_path / "v.duckdb", tmp_path / "archive" / f"{SESSION}.jsonl"
    session.parent.mkdir()
    _append(session, MESSAGES, 0)
    _ingest(db, session, appends=False)  # a cold ingest: DuckDB's row groups
    con = open_vault(db, read_only=True)
    before = {t: _stored(con, t) for t in ("messages", "records")}
    con.close()
    assert [len(g) for g in before.values()] == [1, 1]  # one row group each, larger than APPEND_ROW_GROUP

    _append(session, 2, MESSAGES)
    _ingest(db, session, appends=appends)
    con = open_vault(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == MESSAGES + 2
        after = _stored(con, "messages")
    finally:
        con.close()
    if appends:  # the stored row group untouched; the two new messages in a row group of their own
        assert after[0] == before["messages"][0]
        assert {count for _, count, _, _ in after[1]} == {2}
    else:  # DuckDB 1.5.5 without it: appended to the stored row group, which the checkpoint wrote again
        assert len(after) == 1 and after[0] != before["messages"][0]
        assert {count for _, count, _, _ in after[0]} == {MESSAGES + 2}
