"""Read-side queries shared by the CLI and the TUI: stats, session lists, one session's messages."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import duckdb

from vault.errors import VaultError
from vault.sqlfilter import Filter
from vault.when import iso_when


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The `vault stats --json` object (CONTRACTS.md), plus a few extra fields."""
    sessions, subagents = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE parent_session_id IS NOT NULL) FROM sessions"
    ).fetchone()
    messages, human = con.execute("SELECT count(*), count(*) FILTER (WHERE is_human) FROM messages").fetchone()
    by_source: dict[str, dict[str, int]] = {}
    for src, n_sess, n_msg, n_human in con.execute(
        """
        SELECT s.source, count(DISTINCT s.session_id), count(m.msg_id), count(m.msg_id) FILTER (WHERE m.is_human)
        FROM sessions s LEFT JOIN messages m USING (session_id)
        GROUP BY s.source ORDER BY s.source
        """
    ).fetchall():
        by_source[src] = {"sessions": n_sess, "messages": n_msg, "human_messages": n_human}
    by_kind = dict(con.execute("SELECT kind, count(*) FROM messages GROUP BY kind ORDER BY 2 DESC, 1").fetchall())
    files, records, errors = con.execute(
        "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(errors), 0) FROM files WHERE source <> 'unrecognised'"
    ).fetchone()
    # A last line left unfinished (no newline, not JSON) when its file was read: not ingested until it is complete.
    unfinished, unfinished_bytes = con.execute(
        "SELECT count(*), coalesce(sum(size - byte_offset), 0) FROM files "
        "WHERE source <> 'unrecognised' AND byte_offset < size"
    ).fetchone()
    first, last = con.execute("SELECT min(timestamp), max(timestamp) FROM messages").fetchone()
    return {
        "sessions": sessions,
        "messages": messages,
        "human_messages": human,
        "by_source": by_source,
        "subagent_sessions": subagents,
        "files": files,
        "records": int(records),
        "skipped_lines": int(errors),
        "unfinished_files": unfinished,
        "unfinished_bytes": int(unfinished_bytes),
        "by_kind": by_kind,
        "first_message": _iso(first),
        "last_message": _iso(last),
    }


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, _dt.datetime):
        return ts.isoformat()
    return str(ts)


@dataclass
class SessionFilter:
    project: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None
    role: str | None = None  # miner role (after `vault mine`)
    include_subagents: bool = False
    limit: int | None = None


def _add_window(w: Filter, lo: str | None, hi: str | None, alias: str = "") -> None:
    """A session falls in the window `lo`..`hi` (ISO, either may be None) when active on or after `lo` and started
    on or before `hi`."""
    if lo:
        w.add(f"{alias}ended_at >= CAST(? AS TIMESTAMP)", lo)
    if hi:
        w.add(f"{alias}started_at <= CAST(? AS TIMESTAMP)", hi)


def list_sessions(con: duckdb.DuckDBPyConnection, f: SessionFilter | None = None) -> list[dict[str, Any]]:
    f = f or SessionFilter()
    w = Filter()
    if not f.include_subagents:
        w.add("s.parent_session_id IS NULL")
    w.add_if(f.project, "s.project ILIKE ? OR s.cwd ILIKE ?", f"%{f.project}%", f"%{f.project}%")
    w.add_if(f.source, "s.source = ?", f.source)
    _add_window(w, iso_when(f.since), iso_when(f.until, end=True), "s.")
    w.add_if(f.role, "r.role_name = ?", f.role)
    sql = f"""
        SELECT s.session_id, s.source, s.project, s.cwd, s.git_branch, s.started_at, s.ended_at,
               s.title, s.parent_session_id, s.agent_type, s.messages, s.human_messages, s.first_prompt,
               r.role_name,
               (SELECT count(*) FROM sessions c WHERE c.parent_session_id = s.session_id) AS subagents
        FROM sessions s LEFT JOIN roles r USING (session_id)
        {w.where()}
        ORDER BY s.started_at DESC NULLS LAST, s.session_id
        {f"LIMIT {int(f.limit)}" if f.limit else ""}
    """
    cols = ["session_id", "source", "project", "cwd", "git_branch", "started_at", "ended_at", "title",
            "parent_session_id", "agent_type", "messages", "human_messages", "first_prompt", "role_name",
            "subagents"]
    out = []
    for row in con.execute(sql, w.params).fetchall():
        d = dict(zip(cols, row, strict=True))
        d["started_at"], d["ended_at"] = _iso(d["started_at"]), _iso(d["ended_at"])
        out.append(d)
    return out


def source_unmatched(con: duckdb.DuckDBPyConnection, source: str | None) -> str | None:
    """Why no session matches `source`, one phrase after the argument's name (`--source …` on the command line,
    `source: …` in the MCP tools): the one wording of an unknown source, listing the vault's. None when a session
    has it, or no source is given."""
    if not source:
        return None
    if con.execute("SELECT 1 FROM sessions WHERE source = ? LIMIT 1", [source]).fetchone():
        return None
    have = [r[0] for r in con.execute("SELECT DISTINCT source FROM sessions ORDER BY 1").fetchall()]
    return f"{source!r} matches no session in the vault (sources: {', '.join(have) or 'none'})"


def window_unmatched(con: duckdb.DuckDBPyConnection, since: str | None, until: str | None,
                     names: tuple[str, str] = ("--since", "--until")) -> str | None:
    """Why no session falls in the window `since`..`until` (as `list_sessions` reads them: active on or after
    `since`, started on or before `until`), one phrase after the options (`--since '3 days ago': …`): the vault's
    first and last session dates. None when a session falls in it, or no bound is given. A search's messages lie
    within their sessions, so no session in the window means no message in it either. `names`: what the caller
    calls the two bounds (the command line's options; the MCP search tool's `since`/`until` arguments)."""
    if not since and not until:
        return None
    lo, hi = iso_when(since), iso_when(until, end=True)
    w = Filter()
    _add_window(w, lo, hi)
    if con.execute(f"SELECT 1 FROM sessions {w.where()} LIMIT 1", w.params).fetchone():
        return None
    first, last = con.execute("SELECT min(coalesce(started_at, ended_at)), max(coalesce(ended_at, started_at)) "
                              "FROM sessions").fetchone()
    if first is None:
        have = "the vault has no dated session"
    else:
        a, b = str(first)[:10], str(last)[:10]
        have = f"the vault's sessions are all on {a}" if a == b else f"the vault's sessions run from {a} to {b}"
    inverted = f" ({names[0]} is after {names[1]})" if lo and hi and lo > hi else ""
    return f"no session falls in this window{inverted}; {have}"


def window_note(con: duckdb.DuckDBPyConnection, since: str | None, until: str | None,
                names: tuple[str, str] = ("--since", "--until")) -> str | None:
    """`window_unmatched` after the bounds as the person gave them (`--since '2030-01-01': no session falls …`):
    the one line the CLI prints on stderr and the MCP search tool adds to its `notes`. None when a session falls in
    the window, or no bound is given."""
    why = window_unmatched(con, since, until, names)
    if not why:
        return None
    bounds = " ".join(f"{name} {value!r}" for name, value in zip(names, (since, until), strict=True) if value)
    return f"{bounds}: {why}"


def short_ids(con: duckdb.DuckDBPyConnection, ids: list[str], least: int = 8) -> dict[str, str]:
    """Each top-level session id of `ids` cut to its shortest prefix of at least `least` characters that
    `resolve_session` takes for that session alone (unique among the vault's top-level ids); a subagent's id
    (`<parent>/agent-…`) cut to `least` as before. What `vault sessions` shows: eight characters named three
    sessions of one neutral export alike (`BookMind`), and `vault show BookMind` was ambiguous."""
    import bisect
    from os.path import commonprefix

    top = sorted(r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall() if "/" not in r[0])
    out = {}
    for sid in ids:
        if "/" in sid:
            out[sid] = sid[:least]
            continue
        i = bisect.bisect_left(top, sid)
        near = [top[j] for j in (i - 1, i + 1 if i < len(top) and top[i] == sid else i) if 0 <= j < len(top)]
        need = max([len(commonprefix([sid, other])) + 1 for other in near if other != sid] + [least])
        out[sid] = sid[:need]
    return out


class AmbiguousSessionError(VaultError):
    """A prefix shared by several sessions; the message lists them."""


def resolve_session(con: duckdb.DuckDBPyConnection, ref: str) -> str | None:
    """A session id from a full id, a unique prefix, or a message id inside it.

    A prefix of several top-level sessions raises AmbiguousSessionError listing them (a session and
    its own subagents, `<id>/agent-...`, are not ambiguous: the session is meant).
    """
    row = con.execute("SELECT session_id FROM sessions WHERE session_id = ?", [ref]).fetchone()
    if row:
        return row[0]
    rows = con.execute(
        "SELECT session_id, started_at, coalesce(title, first_prompt, '') FROM sessions "
        "WHERE session_id LIKE ? ESCAPE '\\' ORDER BY length(session_id), started_at DESC, session_id",
        [ref.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"],
    ).fetchall()
    top = [r for r in rows if "/" not in r[0]]
    if len(rows) == 1 or len(top) == 1:
        return (top or rows)[0][0]
    row = con.execute("SELECT session_id FROM messages WHERE msg_id = ?", [ref]).fetchone()
    if row:
        return row[0]
    if rows:
        shown = [f"{sid} ({_iso(t)[:16] if t else 'undated'}, {' '.join(label.split())[:40]!r})"
                 for sid, t, label in (top or rows)[:8]]
        more = f" and {len(top or rows) - 8} more" if len(top or rows) > 8 else ""
        raise AmbiguousSessionError(f"{ref!r} is the start of {len(top or rows)} sessions: "
                                    + "; ".join(shown) + more + ". Give more of the id.")
    return None


def session_info(con: duckdb.DuckDBPyConnection, session_id: str) -> dict[str, Any] | None:
    rows = con.execute("SELECT * FROM sessions WHERE session_id = ?", [session_id]).fetchall()
    if not rows:
        return None
    cols = [d[0] for d in con.description]
    d = dict(zip(cols, rows[0], strict=True))
    d["started_at"], d["ended_at"] = _iso(d["started_at"]), _iso(d["ended_at"])
    d["subagents"] = [
        {"session_id": r[0], "agent_type": r[1], "title": r[2], "parent_tool_use_id": r[3]}
        for r in con.execute(
            "SELECT session_id, agent_type, title, parent_tool_use_id FROM sessions "
            "WHERE parent_session_id = ? ORDER BY started_at", [session_id]
        ).fetchall()
    ]
    return d


MESSAGE_COLUMNS = ["msg_id", "session_id", "parent_id", "timestamp", "role", "kind", "text", "model", "turn_id",
                   "is_human", "is_sidechain", "agent_id", "tool_name", "tool_use_id", "is_error", "on_main_branch",
                   "extra", "label", "confidence", "subagent_session_id"]


def session_messages(con: duckdb.DuckDBPyConnection, session_id: str) -> list[dict[str, Any]]:
    """Messages of a session in conversation order, with miner labels and subagent links when known."""
    rows = con.execute(
        """
        SELECT m.msg_id, m.session_id, m.parent_id, m.timestamp, m.role, m.kind, m.text, m.model, m.turn_id,
               m.is_human, m.is_sidechain, m.agent_id, m.tool_name, m.tool_use_id, m.is_error,
               m.on_main_branch, m.extra, l.label, l.confidence, tc.subagent_session_id
        FROM messages m
        LEFT JOIN labels l USING (msg_id)
        LEFT JOIN tool_calls tc ON tc.call_msg_id = m.msg_id AND tc.tool_use_id = m.tool_use_id
        WHERE m.session_id = ?
        ORDER BY m.timestamp NULLS LAST, m.seq
        """,
        [session_id],
    ).fetchall()
    out = []
    for r in rows:
        d = dict(zip(MESSAGE_COLUMNS, r, strict=True))
        d["timestamp"] = _iso(d["timestamp"])
        out.append(d)
    return out
