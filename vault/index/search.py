"""Search the vault: keyword (BM25), semantic (embeddings) and hybrid (reciprocal rank fusion).

    search(con, "flaky test", mode="hybrid", limit=20, filters=SearchFilters(project="api"))

returns `Hit`s, best first, each naming its message and session (`vault show SESSION --at MSG_ID`).
`keyword_search` loads no model and is cheap enough to run as a person types.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from vault.index import fts, snippets
from vault.model import Kind
from vault.when import iso_when

MODES = ("keyword", "semantic", "hybrid")
RRF_K = 60  # the usual constant of reciprocal rank fusion
# In hybrid, a keyword hit must hold half the query's terms: otherwise messages sharing one common
# word with a paraphrase outvote the semantic match by appearing in both lists.
HYBRID_MIN_SHARE = 0.5
PHRASE = re.compile(r'"([^"]+)"')
KINDS = tuple(sorted(v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str)))
# Names for groups of kinds, accepted wherever kinds are filtered (`--kind tools`).
KIND_GROUPS = {"typed": (Kind.HUMAN_PROMPT, Kind.QUEUED_PROMPT, Kind.TOOL_REJECTION),
               "tools": (Kind.TOOL_CALL, Kind.TOOL_RESULT)}


def expand_kinds(names) -> tuple[str, ...]:
    """Kinds and group names -> kinds (ValueError naming an unknown one)."""
    out: list[str] = []
    for name in names:
        name = name.strip().lower()
        if name in KIND_GROUPS:
            out += KIND_GROUPS[name]
        elif name in KINDS:
            out.append(name)
        else:
            raise ValueError(f"unknown kind {name!r}; one of {', '.join([*KIND_GROUPS, *KINDS])}")
    return tuple(dict.fromkeys(out))


@dataclass
class SearchFilters:
    project: str | None = None  # substring of the session's project or cwd
    role: str | None = None  # role name from `vault mine` (a subagent takes its parent's)
    session: str | None = None  # session id or prefix; includes its subagent sessions
    since: str | None = None  # message timestamp >= (vault.when: ISO date or time, today, 7d, ...)
    until: str | None = None  # message timestamp <= (a bare date includes that whole day)
    kinds: tuple[str, ...] = ()  # message kinds, e.g. ("human_prompt",)
    human_only: bool = False  # only what a person typed
    source: str | None = None  # only sessions of this source (claude_code, codex, ...)

    def sql(self) -> tuple[str, list[Any]]:
        """Joins and a WHERE clause over messages `m`, sessions `s` and roles; plus its arguments."""
        where, args = [], []
        if self.project:
            where.append("(s.project ILIKE ? OR s.cwd ILIKE ?)")
            args += [f"%{self.project}%"] * 2
        if self.role:
            where.append("coalesce(r.role_name, rp.role_name) = ?")
            args.append(self.role)
        if self.session:
            where.append("(m.session_id LIKE ? ESCAPE '\\')")
            args.append(_like_prefix(self.session))
        if self.since:
            where.append("m.timestamp >= CAST(? AS TIMESTAMP)")
            args.append(iso_when(self.since))
        if self.until:  # a bare date or a day word: through the end of that day
            where.append("m.timestamp <= CAST(? AS TIMESTAMP)")
            args.append(iso_when(self.until, end=True))
        if self.kinds:
            where.append(f"m.kind IN ({', '.join('?' for _ in self.kinds)})")
            args += list(self.kinds)
        if self.human_only:
            where.append("m.is_human")
        if self.source:
            where.append("s.source = ?")
            args.append(self.source)
        joins = ("JOIN sessions s ON s.session_id = m.session_id "
                 "LEFT JOIN roles r ON r.session_id = s.session_id "
                 "LEFT JOIN roles rp ON rp.session_id = s.parent_session_id")
        return joins + (" WHERE " + " AND ".join(where) if where else ""), args


def _like_prefix(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class Hit:
    session_id: str
    msg_id: str
    role: str
    kind: str
    score: float
    snippet: str
    spans: list[tuple[int, int]] = field(default_factory=list)  # matched terms in `snippet`
    timestamp: str | None = None
    project: str | None = None
    role_name: str | None = None
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    tool_name: str | None = None  # of a tool call or result
    is_error: bool = False  # a tool result that failed

    def marked(self, open_: str = "**", close: str = "**") -> str:
        """The snippet with each matched term wrapped in `open_`/`close`."""
        return snippets.marked(self.snippet, self.spans, open_, close)

    def as_json(self) -> dict[str, Any]:
        """The `vault search --json` item (CONTRACTS.md): snippet matches marked **like this**."""
        return {"session_id": self.session_id, "msg_id": self.msg_id, "role": self.role, "score": self.score,
                "snippet": self.marked(), "timestamp": self.timestamp, "kind": self.kind,
                "project": self.project, "role_name": self.role_name,
                "keyword_rank": self.keyword_rank, "semantic_rank": self.semantic_rank,
                "tool_name": self.tool_name, "is_error": self.is_error}


# -- the three modes ---------------------------------------------------------------


def keyword_search(con: duckdb.DuckDBPyConnection, query: str, limit: int = 20,
                   filters: SearchFilters | None = None) -> list[Hit]:
    """BM25 over the indexed messages; "quoted phrases" must also appear verbatim."""
    stems = fts.query_stems(con, query)
    ranked = _keyword_ranked(con, query, limit, filters or SearchFilters(), stems=stems)
    return _hits(con, ranked, query, {msg: {"keyword_rank": i + 1} for i, (msg, _) in enumerate(ranked)}, stems)


def semantic_search(con: duckdb.DuckDBPyConnection, query: str, limit: int = 20,
                    filters: SearchFilters | None = None, model: str | None = None) -> list[Hit]:
    ranked = _semantic_ranked(con, query, limit, filters or SearchFilters(), model)
    extra = {msg: {"semantic_rank": i + 1, "chunk_no": chunk} for i, (msg, _, chunk) in enumerate(ranked)}
    return _hits(con, [(m, s) for m, s, _ in ranked], query, extra)


def hybrid_search(con: duckdb.DuckDBPyConnection, query: str, limit: int = 20,
                  filters: SearchFilters | None = None, model: str | None = None) -> list[Hit]:
    """Reciprocal rank fusion of keyword and semantic rankings (each taken deeper than `limit`).

    With no vectors yet it is the keyword ranking (at HYBRID_MIN_SHARE), fused alone.
    """
    filters = filters or SearchFilters()
    depth = max(50, 3 * limit)
    stems = fts.query_stems(con, query)
    kw = _keyword_ranked(con, query, depth, filters, min_share=HYBRID_MIN_SHARE, stems=stems)
    sem = _semantic_ranked(con, query, depth, filters, model)
    fused: dict[str, float] = {}
    extra: dict[str, dict] = {}
    for i, (msg, _) in enumerate(kw):
        fused[msg] = fused.get(msg, 0.0) + 1.0 / (RRF_K + i + 1)
        extra.setdefault(msg, {})["keyword_rank"] = i + 1
    for i, (msg, _, chunk) in enumerate(sem):
        fused[msg] = fused.get(msg, 0.0) + 1.0 / (RRF_K + i + 1)
        extra.setdefault(msg, {}).update(semantic_rank=i + 1, chunk_no=chunk)
    best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return _hits(con, best, query, extra, stems)


def search(con: duckdb.DuckDBPyConnection, query: str, mode: str = "hybrid", limit: int = 20,
           filters: SearchFilters | None = None, model: str | None = None) -> list[Hit]:
    """The library entry point for the CLI and the TUI."""
    if mode == "keyword":
        return keyword_search(con, query, limit, filters)
    if mode == "semantic":
        return semantic_search(con, query, limit, filters, model)
    if mode == "hybrid":
        return hybrid_search(con, query, limit, filters, model)
    raise ValueError(f"unknown search mode {mode!r}; one of {', '.join(MODES)}")


def semantic_ready(con: duckdb.DuckDBPyConnection) -> bool:
    from vault.index.embeddings import active_model

    return active_model(con) is not None


# -- rankings: lists of (msg_id, score) best first ----------------------------------


def _keyword_ranked(con, query: str, limit: int, filters: SearchFilters, min_share: float = 0.0,
                    stems: list[str] | None = None) -> list[tuple[str, float]]:
    """BM25 ranking; a message must hold at least `min_share` of the query's distinct terms."""
    stems = fts.query_stems(con, query) if stems is None else stems
    if not stems:
        return []
    terms = fts.query_terms(con, stems)
    if not terms:
        return []
    min_terms = max(1, math.ceil(min_share * len(stems)))
    tail, args = filters.sql()
    phrases = PHRASE.findall(query)
    if phrases:  # a verbatim phrase holds each of its terms: only such messages need the (costly) text check
        min_terms = max(min_terms, len(fts.query_stems(con, " ".join(phrases))))
    if not args and not filters.human_only and not phrases:
        tail = ""  # no filter: skip the joins (messages, sessions, roles) that only filters need
    for phrase in phrases:  # checked on the joined hits only: as a plain filter it would scan every text
        tail += ((" AND " if " WHERE " in tail else " WHERE ")
                 + "CASE WHEN h.score IS NULL THEN false ELSE m.text ILIKE ? ESCAPE '\\' END")
        args.append("%" + _like_prefix(phrase.strip())[:-1] + "%")
    rows = con.execute(fts.bm25_sql(terms, tail, limit), [min_terms, *args]).fetchall()
    return [(m, float(s)) for m, s in rows]


def _semantic_ranked(con, query: str, limit: int, filters: SearchFilters,
                     model: str | None) -> list[tuple[str, float, int]]:
    """(msg_id, cosine, best chunk) best first: the message scores as its best chunk."""
    import pyarrow as pa

    from vault.index import embeddings, vectors

    active = embeddings.active_model(con)
    if model is not None:
        from vault.index.settings import model_name

        name = model_name(con, model)
        mid = embeddings.model_id(con, name)
        active = (mid, name, 0) if mid is not None else None
    if active is None or not query.strip():
        return []
    mid, name, _ = active
    qvec = embeddings.encode_query(embeddings.load_query_model(name), query)
    hashes, scores = vectors.ranked(con, mid, qvec)
    tail, args = filters.sql()
    if args or filters.human_only:
        tail = "JOIN messages m ON m.msg_id = c.msg_id " + tail
    else:
        tail = ""  # no filter: messages are not needed to rank
    # Take the best vectors, map them to messages under the filters; widen until enough messages.
    n = max(4 * limit, 100)
    while True:
        con.register("_sem", pa.table({"content_hash": hashes[:n].tolist(), "score": scores[:n].tolist()}))
        try:
            rows = con.execute(
                f"""
                SELECT c.msg_id, max(h.score) AS score, arg_max(c.chunk_no, h.score) AS chunk_no
                FROM _sem h JOIN chunks c ON c.content_hash = h.content_hash AND c.model_id = {int(mid)}
                {tail}
                GROUP BY c.msg_id ORDER BY score DESC, c.msg_id LIMIT ?
                """, [*args, limit]
            ).fetchall()
        finally:
            con.unregister("_sem")
        if len(rows) >= limit or n >= len(hashes):
            return [(m, float(s), int(c)) for m, s, c in rows]
        n *= 4


# -- hits with snippets --------------------------------------------------------------


def _hits(con, ranked: list[tuple[str, float]], query: str, extra: dict[str, dict],
          stems: list[str] | None = None) -> list[Hit]:
    if not ranked:
        return []
    # Two point lookups (by primary key) rather than one join, which would scan every message.
    ids = [m for m, _ in ranked]
    rows = con.execute("SELECT msg_id, session_id, role, kind, text, timestamp, tool_name, is_error, tool_use_id "
                       f"FROM messages WHERE msg_id IN ({', '.join('?' for _ in ids)})", ids).fetchall()
    # A tool call's snippet shows what was indexed (its arguments too: the match may be there); a tool
    # result is named by its call. Point lookups by key, as above.
    args = fts.call_args(con, [r[0] for r in rows if r[3] == Kind.TOOL_CALL])
    uses = [r[8] for r in rows if r[3] == Kind.TOOL_RESULT and r[6] is None and r[8]]
    names = dict(con.execute(f"SELECT tool_use_id, name FROM tool_calls WHERE tool_use_id IN "
                             f"({', '.join('?' for _ in uses)})", uses).fetchall()) if uses else {}
    rows = [(*r[:4], " ".join(filter(None, (r[4], args.get(r[0])))), r[5], r[6] or names.get(r[8]), r[7])
            for r in rows]
    sids = sorted({r[1] for r in rows})
    sess = {r[0]: r[1:] for r in con.execute(
        f"""
        SELECT s.session_id, s.project, coalesce(r.role_name, rp.role_name)
        FROM sessions s LEFT JOIN roles r ON r.session_id = s.session_id
        LEFT JOIN roles rp ON rp.session_id = s.parent_session_id
        WHERE s.session_id IN ({', '.join('?' for _ in sids)})
        """, sids).fetchall()}
    info = {r[0]: r[:6] + sess.get(r[1], (None, None)) + r[6:] for r in rows}
    qstems = set(fts.query_stems(con, query) if stems is None else stems)
    match_words = snippets.matching_words(con, [r[4] or "" for r in rows], qstems)
    out = []
    for msg_id, score in ranked:
        r = info.get(msg_id)
        if r is None:
            continue
        ex = extra.get(msg_id, {})
        start = 0
        if "chunk_no" in ex:
            from vault.index.embeddings import chunk_offset

            start = chunk_offset(r[4] or "", ex["chunk_no"])
        snip, spans = snippets.make(r[4] or "", match_words, start)
        out.append(Hit(session_id=r[1], msg_id=msg_id, role=r[2], kind=r[3], score=round(score, 6),
                       snippet=snip, spans=spans, timestamp=_iso(r[5]), project=r[6], role_name=r[7],
                       keyword_rank=ex.get("keyword_rank"), semantic_rank=ex.get("semantic_rank"),
                       tool_name=r[8], is_error=bool(r[9])))
    return out


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    return ts.isoformat() if isinstance(ts, _dt.datetime) else str(ts)
