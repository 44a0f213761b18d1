"""What `vault mcp` serves: read-only, redacted, size-bounded answers about the vault (no MCP code here).

The calls read through `vault.mcp_reader.SnapshotReader`: the vault read-only and let go whenever a writer wants
it (`vault ingest` and the hooks write between calls), a copy while another process holds the write lock. The
one write is the derived keyword index, rebuilt when stale and the vault is free, as `vault search` does.

Every text that leaves is redacted (vault/redact.py) and cut to a character budget; lists are paged
(`offset`, `limit`, and `next_offset` when there is more). Bad arguments raise `ToolInputError` with one
line naming the argument.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import threading
import time
from pathlib import Path
from typing import Any

from vault.errors import VaultError
from vault.mcp_reader import SnapshotReader
from vault.model import Kind
from vault.render import HIDDEN, one_line
from vault.sqlfilter import Filter

MAX_PAGE_CHARS = 40_000  # one get_session page, all messages together
LINE_CHARS = 200  # a tool call shown on one line


def _shown(m: dict[str, Any]) -> bool:
    """What `vault show` prints without --all (`HIDDEN` is its list): no machine records, tool output only when it
    failed."""
    kind = m["kind"]
    if kind in HIDDEN or (kind == Kind.TOOL_RESULT and not m.get("is_error")):
        return False
    return not (kind == Kind.ASSISTANT_TEXT and not (m["text"] or "").strip())


class ToolInputError(VaultError):
    """A tool argument that cannot be used; the message names it."""


# -- checking arguments --------------------------------------------------------------------

def check_time(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        _dt.datetime.fromisoformat(value)
    except ValueError:
        raise ToolInputError(f"{name}: expected a date or time like 2026-01-31 or 2026-01-31T14:00, "
                             f"got {value!r}") from None
    return value


# The bounds of the tools' whole-number arguments, (tool, argument) -> (lowest, highest): each tool checks them
# (`check_range`) and the MCP server states them in its schemas (vault/mcp_server.py, `bounded`), from this one table.
RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("search", "limit"): (1, 50),
    ("search", "offset"): (0, 1000),
    ("search", "max_chars"): (40, 4000),
    ("get_session", "offset"): (0, 10_000_000),
    ("get_session", "limit"): (1, 200),
    ("get_session", "max_chars"): (100, 20_000),
    ("corrections", "limit"): (1, 50),
    ("corrections", "offset"): (0, 100_000),
    ("corrections", "max_chars"): (100, 8000),
    ("persona", "max_chars"): (200, 20_000),
    ("stats", "troubled_limit"): (0, 100),
}


def check_range(tool: str, name: str, value: int) -> int:
    """`value` of the argument `name` of `tool`, if a whole number within its RANGES entry."""
    lo, hi = RANGES[tool, name]
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ToolInputError(f"{name}: expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def check_choice(name: str, value: str | None, known: list[str], what: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in known:
        listed = ", ".join(known[:30]) or "none yet"
        raise ToolInputError(f"{name}: no {what} {value!r} in this vault (known: {listed})")
    return value


def cut(text: str | None, budget: int, keep: str = "head") -> str:
    """At most `budget` characters, saying how much was left out."""
    text = text or ""
    if len(text) <= budget:
        return text
    note = f" …[{len(text) - budget} more chars]"
    return text[:budget] + note if keep == "head" else f"[{len(text) - budget} earlier chars]… " + text[-budget:]


def assistant_step(kind: str, text: str | None) -> str | None:
    """How a correction's context shows an assistant-side message: its text, a tool call on one line after ⚙;
    None for anything else (thinking, tool results, meta), which is left out."""
    if kind == Kind.ASSISTANT_TEXT:
        return text or ""
    if kind == Kind.TOOL_CALL:
        return "⚙ " + one_line(text, LINE_CHARS)
    return None


# -- the tools -----------------------------------------------------------------------------

class VaultTools:
    """The five tools as plain methods returning JSON-able dicts (the server wraps them)."""

    def __init__(self, db: Path, settings=None) -> None:
        """`settings`: the one settings object (`vault mcp` passes its own); none: `Settings()`, the defaults alone
        (no config file, no environment), as any library call without settings."""
        from vault.redact import Redactor
        from vault.settings import Settings

        self.reader = SnapshotReader(db)
        self.settings = Settings() if settings is None else settings
        self.redactor = Redactor.from_settings(self.settings)  # [redact]
        self.first_semantic_seconds: float | None = None
        self._model_lock = threading.Lock()

    def close(self) -> None:
        self.reader.close()

    def warm_up(self) -> None:
        """Load what the first call would (search code, redaction plugins), while the client connects."""
        import vault.index.search  # noqa: F401
        from vault.index import stem

        self.redactor.redact("password = 'warm-up-token-1234567890abcdefXYZ' for you@example.com")
        stem.porter(["warming"])  # a search stems its words in Python (no fts extension to load: vault.index.stem)
        with contextlib.suppress(Exception), self.reader.read():
            pass  # the reader keeps the vault open for the first call, if it comes soon

    def r(self, text: str | None) -> str:
        return self.redactor.redact(text or "")

    def _stamp(self, out: dict[str, Any], taken: str | None) -> dict[str, Any]:
        if taken:
            out["snapshot"] = f"the vault is busy (an ingest is writing): read a copy taken at {taken}"
        return out

    # -- search ----------------------------------------------------------------------------
    def search(self, query: str, mode: str = "hybrid", project: str | None = None, role: str | None = None,
               since: str | None = None, until: str | None = None, source: str | None = None,
               human_only: bool = False, kind: list[str] | None = None, limit: int = 10, offset: int = 0,
               max_chars: int = 400) -> dict[str, Any]:
        from vault.index.search import MODES, SearchFilters, expand_kinds, search, semantic_ready

        if not query or not query.strip():
            raise ToolInputError("query: give some words to search for")
        if mode not in MODES:
            raise ToolInputError(f"mode: one of {', '.join(MODES)}, got {mode!r}")
        check_range("search", "limit", limit)
        check_range("search", "offset", offset)
        check_range("search", "max_chars", max_chars)
        try:
            kinds = expand_kinds(kind or [])
        except ValueError as e:
            raise ToolInputError(f"kind: {e}") from None
        filters = SearchFilters(project=project or None, role=role or None, since=check_time("since", since),
                                until=check_time("until", until), source=source or None, human_only=human_only,
                                kinds=kinds)
        notes = []
        if mode != "semantic":
            stale = self.reader.refresh_keyword_index()
            if stale:
                notes.append(stale)
        with self.reader.read() as (con, taken):
            self._check_filters(con, role=role, source=source, assigned=True)
            used = mode
            if mode != "keyword" and not semantic_ready(con):
                notes.append("no embeddings yet (run `vault embed`): " +
                             ("searched by keyword only" if mode == "hybrid" else "semantic search finds nothing"))
                used = "keyword" if mode == "hybrid" else mode
            t0 = time.perf_counter()
            with self._model_lock if used != "keyword" else contextlib.nullcontext():
                hits = search(con, query, mode=used, limit=offset + limit + 1, filters=filters)
            if used != "keyword" and self.first_semantic_seconds is None and semantic_ready(con):
                self.first_semantic_seconds = round(time.perf_counter() - t0, 3)
                notes.append(f"first semantic query: loaded the embedding model in "
                             f"{self.first_semantic_seconds:.1f} s")
            if not hits:  # as `vault search` says on stderr: a window no session falls in, with the vault's dates
                from vault.queries import window_note

                window = window_note(con, filters.since, filters.until, ("since", "until"))
                if window:
                    notes.append(window)
        page = hits[offset:offset + limit]
        out = {"mode": used, "results": [{
            "session_id": h.session_id, "msg_id": h.msg_id, "role": h.role, "kind": h.kind,
            "score": h.score, "timestamp": h.timestamp, "project": self.r(h.project) if h.project else None,
            "role_name": h.role_name, "snippet": cut(self.r(h.marked()), max_chars)} for h in page]}
        if len(hits) > offset + limit:
            out["next_offset"] = offset + limit
        if notes:
            out["notes"] = notes
        return self._stamp(out, taken)

    def _check_filters(self, con, role: str | None = None, source: str | None = None, assigned: bool = False) -> None:
        """ToolInputError for a source or role no session has, said as the command line says them
        (`vault.queries.source_unmatched`, `miner.tables.role_unmatched`); `assigned`: the tool reads only the roles
        `vault mine` stored."""
        from vault.queries import source_unmatched

        why = source_unmatched(con, source)
        if why:
            raise ToolInputError(f"source: {why}")
        if role:
            from miner.roles import load_rules
            from miner.tables import role_unmatched

            why = role_unmatched(con, load_rules(self.settings), role, assigned)
            if why:
                raise ToolInputError(f"role: {why}")

    # -- one session -----------------------------------------------------------------------
    def get_session(self, session: str, offset: int = 0, limit: int = 40, at: str | None = None,
                    include_all: bool = False, max_chars: int = 2000) -> dict[str, Any]:
        from vault import queries

        if not session or not session.strip():
            raise ToolInputError("session: give a session id, a unique prefix of one, or a message id")
        check_range("get_session", "offset", offset)
        check_range("get_session", "limit", limit)
        check_range("get_session", "max_chars", max_chars)
        with self.reader.read() as (con, taken):
            sid = queries.resolve_session(con, session.strip())
            if sid is None:
                raise ToolInputError(f"session: no session matches {session!r} (search first: each result names "
                                     "its session_id)")
            info = queries.session_info(con, sid)
            msgs = queries.session_messages(con, sid)
        shown = [m for m in msgs if include_all or _shown(m)]
        if at:
            idx = next((i for i, m in enumerate(shown) if m["msg_id"] == at), None)
            if idx is None:
                raise ToolInputError(f"at: message {at!r} is not among this session's shown messages")
            offset = idx
        lines, used = [], 0
        end = offset
        for m in shown[offset:offset + limit]:
            item = self._line(m, max_chars)
            if lines and used + len(item["text"]) > MAX_PAGE_CHARS:
                break
            lines.append(item)
            used += len(item["text"])
            end += 1
        out = {
            "session": {
                "session_id": sid, "title": self.r(one_line(info.get("title") or info.get("first_prompt"), 300)),
                "source": info.get("source"), "project": self.r(info.get("project")) or None,
                "git_branch": info.get("git_branch"), "started_at": info.get("started_at"),
                "ended_at": info.get("ended_at"), "parent_session_id": info.get("parent_session_id"),
                "subagents": [s["session_id"] for s in info.get("subagents", [])][:50],
                "messages_shown": len(shown), "messages_total": len(msgs)},
            "offset": offset, "messages": lines}
        if end < len(shown):
            out["next_offset"] = end
        return self._stamp(out, taken)

    def _line(self, m: dict[str, Any], budget: int) -> dict[str, Any]:
        """One message as `vault show` prints it: who, and the text (a tool call on one line)."""
        kind = m["kind"]
        if kind in Kind.HUMAN_TYPED:
            who, text = "you", cut(self.r(m["text"]), budget)
        elif kind == Kind.ASSISTANT_TEXT:
            who, text = "assistant", cut(self.r(m["text"]), budget)
        elif kind == Kind.TOOL_CALL:
            sub = f" → {m['subagent_session_id']}" if m.get("subagent_session_id") else ""
            who, text = "tool call", self.r(one_line(m["text"], LINE_CHARS)) + sub
        elif kind == Kind.TOOL_RESULT:
            who = "tool error" if m.get("is_error") else "tool result"
            text = cut(self.r(m["text"]), min(budget, 500))
        elif kind == Kind.INTERRUPT:
            who, text = "interrupt", "⏹ interrupted"
        elif kind == Kind.TOOL_REJECTION:
            who, text = "rejection", "✗ tool use rejected" + (f": {self.r(m['text'])}" if m.get("is_human") else "")
        else:
            who, text = kind, cut(self.r(m["text"]), min(budget, 500))
        item = {"msg_id": m["msg_id"], "timestamp": m["timestamp"], "who": who, "text": text}
        if m.get("label"):
            item["label"] = m["label"]
        if not m.get("on_main_branch", True):
            item["abandoned_branch"] = True
        return item

    # -- corrections -----------------------------------------------------------------------
    def corrections(self, project: str | None = None, role: str | None = None, since: str | None = None,
                    limit: int = 5, offset: int = 0, max_chars: int = 800) -> dict[str, Any]:
        check_range("corrections", "limit", limit)
        check_range("corrections", "offset", offset)
        check_range("corrections", "max_chars", max_chars)
        since = check_time("since", since)
        numerator = list(self.settings.corrections.numerator)
        f = (Filter().add(f"e.label IN ({', '.join('?' for _ in numerator)})", *numerator)
             .add_if(project, "s.project ILIKE ? OR s.cwd ILIKE ?", f"%{project}%", f"%{project}%")
             .add_if(role, "coalesce(r.role_name, rp.role_name) = ?", role)
             .add_if(since, "e.timestamp >= CAST(? AS TIMESTAMP)", since))
        with self.reader.read() as (con, taken):
            self._check_filters(con, role=role, assigned=True)
            labelled = con.execute("SELECT count(*) FROM labels").fetchone()[0]
            rows = con.execute(f"""
                SELECT e.msg_id, e.session_id, e.timestamp, e.label, m.text, m.seq, s.project,
                       coalesce(r.role_name, rp.role_name)
                FROM effective_labels e JOIN messages m USING (msg_id) JOIN sessions s ON s.session_id = e.session_id
                LEFT JOIN roles r ON r.session_id = s.session_id
                LEFT JOIN roles rp ON rp.session_id = s.parent_session_id
                {f.where()}
                ORDER BY e.timestamp DESC NULLS LAST, e.msg_id LIMIT ? OFFSET ?""",
                [*f.params, limit + 1, offset]).fetchall()
            items = [self._correction(con, row, max_chars) for row in rows[:limit]]
        out: dict[str, Any] = {"labels": numerator, "corrections": items}
        if len(rows) > limit:
            out["next_offset"] = offset + limit
        if not labelled:
            out["notes"] = ["no turn is labelled yet: run `vault mine` to find the corrections"]
        return self._stamp(out, taken)

    def _correction(self, con, row, budget: int) -> dict[str, Any]:
        msg_id, sid, ts, label, text, seq, project, role = row
        around = 80  # messages looked at on each side
        before = con.execute(
            "SELECT kind, text FROM messages WHERE session_id = ? AND seq < ? AND on_main_branch "
            "ORDER BY seq DESC LIMIT ?", [sid, seq, around]).fetchall()
        after = con.execute(
            "SELECT kind, text, msg_id FROM messages WHERE session_id = ? AND seq > ? AND on_main_branch "
            "ORDER BY seq LIMIT ?", [sid, seq, around]).fetchall()
        corrected: list[str] = []
        for kind, t in before:  # back to the previous human-side turn
            if kind in Kind.HUMAN_SIDE:
                break
            if (step := assistant_step(kind, t)) is not None:
                corrected.append(step)
        followed: list[str] = []
        then = None
        for kind, t, mid in after:  # up to the next human-side turn
            if kind in Kind.HUMAN_SIDE:
                lab = con.execute("SELECT label FROM effective_labels WHERE msg_id = ?", [mid]).fetchone()
                then = {"msg_id": mid, "label": lab[0] if lab else None, "text": cut(self.r(t), 300)}
                break
            if (step := assistant_step(kind, t)) is not None:
                followed.append(step)
        ts_iso = ts.isoformat() if isinstance(ts, _dt.datetime) else ts
        return {"session_id": sid, "msg_id": msg_id, "timestamp": ts_iso, "label": label,
                "project": self.r(project) or None, "role": role,
                "assistant_before": cut(self.r("\n".join(reversed(corrected))), budget, keep="tail"),
                "correction": cut(self.r(text), budget),
                "assistant_after": cut(self.r("\n".join(followed)), budget),
                "next_human_turn": then}

    # -- persona ---------------------------------------------------------------------------
    def persona(self, role: str | None = None, max_chars: int = 6000) -> dict[str, Any]:
        from miner.tables import load_personas

        check_range("persona", "max_chars", max_chars)
        with self.reader.read() as (con, taken):
            self._check_filters(con, role=role)
            rows = load_personas(con)
        known = [p["role_name"] for p in rows]
        if role:
            check_choice("role", role, known, "persona for the role")
            rows = [p for p in rows if p["role_name"] == role]
        out = {"personas": [{
            "role": p["role_name"], "text": cut(self.r(p["text"]), max_chars),
            "rules": [self.r(r.get("rule") if isinstance(r, dict) else str(r)) for r in (p["rules"] or [])][:50],
            "edited": p["edited"], "updated_at": str(p["updated_at"]) if p["updated_at"] else None} for p in rows]}
        if not known:
            out["notes"] = ["no persona yet: run `vault mine` then `vault personas`"]
        return self._stamp(out, taken)

    # -- stats -----------------------------------------------------------------------------
    def stats(self, role: str | None = None, troubled_limit: int = 10) -> dict[str, Any]:
        from miner.analytics import configured_report

        from vault import queries

        check_range("stats", "troubled_limit", troubled_limit)
        with self.reader.read() as (con, taken):
            self._check_filters(con, role=role)
            st = queries.stats(con)
            rep = configured_report(con, self.settings, role=role or None)
            titles = {}
            troubled = rep["troubled"][:troubled_limit]
            if troubled:
                ids = [t["session_id"] for t in troubled]
                titles = dict(con.execute(
                    f"SELECT session_id, coalesce(title, first_prompt) FROM sessions "
                    f"WHERE session_id IN ({', '.join('?' for _ in ids)})", ids).fetchall())
        out = {
            "sessions": st["sessions"], "messages": st["messages"], "human_messages": st["human_messages"],
            "by_source": st["by_source"], "first_message": st["first_message"], "last_message": st["last_message"],
            "corrections": {
                "definition": rep["definition"]["text"], "threshold": rep["definition"]["threshold"],
                "labelled_turns": rep["labelled_turns"], "unlabelled_turns": rep["unlabelled_turns"],
                "abandoned_branch_turns": rep["abandoned_branch_turns"],
                "overall": rep["overall"],
                "roles": rep["roles"][:30],
                "troubled_sessions": [{**{k: t[k] for k in ("session_id", "role", "source", "started_at",
                                                             "human_turns", "corrections", "rate")},
                                       "project": self.r(t["project"]) or None,
                                       "title": self.r(one_line(titles.get(t["session_id"]), 160))}
                                      for t in troubled],
                "troubled_total": len(rep["troubled"])}}
        if not rep["labelled_turns"]:
            out["notes"] = ["no turn is labelled yet: run `vault mine` for correction rates"]
        return self._stamp(out, taken)
