"""Abandoned branches of uuid-chained transcripts (Claude Code): each record names its parent, a rewind or
an edit starts a second child, and only the chain to the file's last message is the conversation as continued.

Formats whose export says which branch was kept (ChatGPT's `current_node`) set `on_main_branch` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from vault.model import Kind, ParseResult
from vault.sources.base import TOUCHED
from vault.sqlstring import sql_string, sql_strings

# A record of a chain, as fetched: (file_id, record_id, parent_id, is_message, seq, kind, turn_id). Plain tuples:
# building a named tuple per record cost more than the walk itself (1.4 s of 7 s on the 1 GB archive).
_FILE, _ID, _PARENT, _IS_MSG, _SEQ, _KIND, _TURN = range(7)

FORK_FILES_PER_QUERY = 100  # files whose uuid chains are held in memory at once: RSS stays flat


def _records_per_file(con, source: str, file_ids: Sequence[int]) -> Iterator[list[tuple]]:
    """The records of the touched sessions in each of these files, a few files at a time."""
    for i in range(0, len(file_ids), FORK_FILES_PER_QUERY):
        chunk = ", ".join(map(str, file_ids[i : i + FORK_FILES_PER_QUERY]))
        # Matched with the messages of the same files first (a filter on file_id: a few row groups), then the ids
        # left, among every message: a join of every message id cost one appended file of the 1 GB vault 20-30 ms.
        rows = con.execute(
            f"""
            SELECT r.file_id, r.record_id, r.parent_id, m.msg_id IS NOT NULL, coalesce(m.seq, -1), m.kind, m.turn_id
            FROM records r JOIN {_SESSIONS} t ON r.session_id = t.sid
            LEFT JOIN (SELECT msg_id, seq, kind, turn_id FROM messages WHERE file_id IN ({chunk})) m
                   ON m.msg_id = r.record_id
            WHERE r.record_id IS NOT NULL AND r.file_id IN ({chunk})
            ORDER BY r.file_id, r.line_no
            """  # in file order, as the parse gives them (`off_branch_of`): of an id written twice the last one wins
        ).fetchall()
        elsewhere = _messages_by_id(con, {r[_ID] for r in rows if not r[_IS_MSG]})
        by_file: dict[int, list[tuple]] = {}
        for r in rows:
            m = None if r[_IS_MSG] else elsewhere.get(r[_ID])
            by_file.setdefault(r[_FILE], []).append(r if m is None else (*r[:_IS_MSG], True, *m))
        yield from by_file.values()


# Below this many ids, messages are found by their key's index (a list of constants: DuckDB scans the index for up to
# `index_scan_max_count` matches); beyond it, by a join with every message id.
INDEX_LOOKUP_IDS = 200


def _messages_by_id(con, ids: set[str]) -> dict[str, tuple]:
    """(seq, kind, turn_id) of the messages among `ids`, by id."""
    if not ids:
        return {}
    if len(ids) <= INDEX_LOOKUP_IDS:
        return {r[0]: r[1:] for r in con.execute(
            f"SELECT msg_id, coalesce(seq, -1), kind, turn_id FROM messages WHERE msg_id IN ({sql_strings(sorted(ids))})").fetchall()}
    import pyarrow as pa

    con.register("_ids", pa.table({"msg_id": pa.array(sorted(ids), pa.string())}))
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT msg_id, coalesce(seq, -1), kind, turn_id FROM messages WHERE msg_id IN (SELECT msg_id FROM _ids)").fetchall()}
    finally:
        con.unregister("_ids")


_SESSIONS = f"(SELECT DISTINCT split_part(session_id, '/', 1) AS sid FROM {TOUCHED})"


# Up to this many touched sessions, `touched_files` names them as constants (a filter in the scan of every record's
# session); beyond it, a join with `TOUCHED`.
SESSION_CONSTANTS = 1000


def touched_files(con, source: str, sessions: Sequence[str] | None = None) -> list[int]:
    """The files of `source` holding records of the touched sessions: every message of those sessions lies in one
    of them (its record does; a record of no session makes no message). `sessions`: the touched session ids (those
    of `TOUCHED`), when the caller has them: up to SESSION_CONSTANTS, matched as constants. The join with `TOUCHED`
    read every record's session and built a hash table of it: a new session of the 1 GB bench vault 14.6-15.6 ms of
    CPU, 9.8-11.9 with the constants (one process each, cold, load ~10)."""
    if sessions is not None and len(sessions) <= SESSION_CONSTANTS:
        sids = sorted({s.split("/", 1)[0] for s in sessions})  # split_part(session_id, '/', 1), as `_SESSIONS`
        if not sids:
            return []
        join, where = "", f"WHERE r.session_id IN ({sql_strings(sids)})"
    else:
        join, where = f"JOIN {_SESSIONS} t ON r.session_id = t.sid", ""
    return [r[0] for r in con.execute(
        f"""SELECT DISTINCT r.file_id FROM records r {join}
            JOIN files f ON f.file_id = r.file_id AND f.source = {sql_string(source)} {where} ORDER BY 1""").fetchall()]


def mark_forks(con, source: str, kept: Mapping[int, list[str]] | None = None,
               files: list[int] | None = None) -> None:
    """Mark the messages of `source`'s files on abandoned branches (rewinds, edits) of uuid-chained sessions.

    Per file, the continued branch is the chain of ancestors of the file's last message
    (a resumed session copies its history into the new file, so chains stay within a file).
    Non-message records (progress, snapshots) in the chain are walked through. `kept`: file id -> its messages off
    the branch, found where the file was parsed (`off_branch_of`); the other files' records are read from the vault
    (on the 1 GB archive, reading them all took 2.5 s of the writer's CPU). `files`: `touched_files`, if known.
    """
    kept = kept or {}
    off: list[str] = [m for ids in kept.values() for m in ids]
    files = touched_files(con, source) if files is None else files
    for recs in _records_per_file(con, source, [f for f in files if f not in kept]):
        off.extend(_off_branch(recs))
    if not files:
        return
    import pyarrow as pa

    con.register("_off", pa.table({"msg_id": pa.array(off, pa.string())}))
    try:
        # Only the rows whose mark changes: rewriting every message of the touched sessions (most of them unchanged)
        # put each in the transaction's undo and the WAL, and made the checkpoint write their segments again. A message
        # of a touched session lies in a file holding its record (`files`): as constants, the scan reads those files'
        # row groups only (the session filter alone read every message's session: ~20 ms on the 1 GB vault).
        con.execute("UPDATE messages SET on_main_branch = (msg_id NOT IN (SELECT msg_id FROM _off)) "
                    f"WHERE file_id IN ({', '.join(map(str, files))}) "
                    f"AND split_part(session_id, '/', 1) IN (SELECT sid FROM {_SESSIONS}) "
                    "AND file_id IN (SELECT file_id FROM files WHERE source = ?) "
                    "AND on_main_branch IS DISTINCT FROM (msg_id NOT IN (SELECT msg_id FROM _off))",
                    [source])
    finally:
        con.unregister("_off")


def off_branch_of(res: ParseResult) -> list[str] | None:
    """`_off_branch` of a file read whole, from its parse: its records as `_records_per_file` gives them, each message's
    rank in the file as its `seq`. The same answer as from the vault when the file's messages are stored from it (the
    ingest checks: `Touched.kept`); None when a record names a session none of the file's rows belongs to (whether the
    vault reads it depends on the other files touched)."""
    msgs: dict[str, tuple[int, str, str | None]] = {}
    for rank, m in enumerate(sorted(res.messages, key=lambda m: (m.line_no, m.sub))):
        msgs.setdefault(m.msg_id, (rank, m.kind, m.turn_id))
    bases = {s.split("/", 1)[0] for s in res.sessions} | {m.session_id.split("/", 1)[0] for m in res.messages}
    recs = []
    for r in res.raw:
        if r.record_id is None or r.session_id is None:
            continue
        if r.session_id not in bases:
            return None
        m = msgs.get(r.record_id)
        recs.append((0, r.record_id, r.parent_id, m is not None, m[0] if m else -1, m[1] if m else None,
                     m[2] if m else None))
    return _off_branch(recs)


def _off_branch(recs: list[tuple]) -> list[str]:
    """The message ids of one file's records that lie on abandoned branches."""
    info = {r[_ID]: r for r in recs}  # (the last record of an id wins, the first fixes its place)
    tip, best = None, None
    for r in recs:
        if r[_IS_MSG] and (best is None or r[_SEQ] > best):
            tip, best = r[_ID], r[_SEQ]
    if tip is None:
        return []
    main: set[str] = set()
    node: str | None = tip
    while node is not None and node not in main:
        main.add(node)
        rec = info.get(node)
        node = rec[_PARENT] if rec is not None else None
    children: dict[str, list[str]] = {}
    for child, rec in info.items():
        if rec[_PARENT] is not None:
            children.setdefault(rec[_PARENT], []).append(child)
    # A fork: a main-branch node with a child off the main branch. Not a fork: the result of a
    # parallel tool call, or the next record of the same API call, hanging off an earlier record.
    stack = [(c, False) for n in main for c in children.get(n, ()) if c not in main]
    if not stack:
        return []
    off: list[str] = []
    seen: set[str] = set()
    while stack:
        n, abandoned = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        is_msg = info[n][_IS_MSG]
        if is_msg and not abandoned:
            if _same_step(n, info):
                continue
            abandoned = True
        if abandoned and is_msg:
            off.append(n)
        stack.extend((c, abandoned) for c in children.get(n, ()))
    return off


_TOOL_ANSWERS = frozenset({Kind.TOOL_RESULT, Kind.TOOL_REJECTION, Kind.USER_ANSWER})


def _same_step(node: str, info: dict[str, tuple]) -> bool:
    """A side child that continues its nearest message ancestor's step: a tool answer, or the same turn."""
    rec = info[node]
    if rec[_KIND] in _TOOL_ANSWERS:
        return True
    turn = rec[_TURN]
    up = rec[_PARENT]
    while up is not None and up in info and not info[up][_IS_MSG]:  # walk through progress records
        up = info[up][_PARENT]
    return turn is not None and up in info and info[up][_TURN] == turn
