"""Search the vault: keyword (BM25), semantic (embeddings) and hybrid (reciprocal rank fusion).

    search(con, "flaky test", mode="hybrid", limit=20, filters=SearchFilters(project="api"))

returns `Hit`s, best first, each naming its message and session (`vault show SESSION --at MSG_ID`).
`keyword_search` loads no model and is cheap enough to run as a person types.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import weakref
from collections import namedtuple
from typing import Any

import duckdb

from vault.index import fts, snippets
from vault.index.fts_build import literals as _literals
from vault.kinds import Kind
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


# SearchFilters and Hit are named tuples made by collections.namedtuple: a dataclass (importing dataclasses, and inspect
# with it) or a typing.NamedTuple (compiling each field's annotation) costs a cold `vault search` 3-7 ms of CPU.
_FILTER_FIELDS = {  # field: what it keeps (None, (), False: no filter)
    "project": None,  # substring of the session's project or cwd
    "role": None,  # role name from `vault mine` (a subagent takes its parent's)
    "session": None,  # session id or prefix; includes its subagent sessions
    "since": None,  # message timestamp >= (vault.when: ISO date or time, today, 7d, ...)
    "until": None,  # message timestamp <= (a bare date includes that whole day)
    "kinds": (),  # message kinds, e.g. ("human_prompt",)
    "human_only": False,  # only what a person typed
    "source": None,  # only sessions of this source (claude_code, codex, ...)
}


class SearchFilters(namedtuple("SearchFilters", _FILTER_FIELDS, defaults=_FILTER_FIELDS.values())):
    """What a search keeps: `SearchFilters(project="api", human_only=True)` (every field: `_FILTER_FIELDS`)."""

    __slots__ = ()

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


class Hit(namedtuple("Hit", "session_id msg_id role kind score snippet spans timestamp project role_name keyword_rank "
                       "semantic_rank tool_name is_error", defaults=((), None, None, None, None, None, None, False))):
    """One search result. `spans`: the matched terms in `snippet`, [(start, end)]; `tool_name`: of a tool call or
    result; `is_error`: a tool result that failed."""

    __slots__ = ()

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
    first = fts.opening(con, stems)
    if not first.terms:
        return []
    with fts.point_lookups(con, before=first.setting):
        ranked = _keyword_ranked(con, query, limit, filters or SearchFilters(), stems=stems, terms=first.terms,
                                 st=first.stats)
        return _hits(con, ranked, query, {msg: {"keyword_rank": i + 1} for i, (msg, _) in enumerate(ranked)}, stems,
                     first.version)


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
    with fts.point_lookups(con):
        return _hybrid(con, query, limit, filters or SearchFilters(), model)


def _hybrid(con, query: str, limit: int, filters: SearchFilters, model: str | None) -> list[Hit]:
    depth = max(50, 3 * limit)
    encoding = _encode_ahead(con, query, model)
    try:
        stems = fts.query_stems(con, query)
        kw = _keyword_ranked(con, query, depth, filters, min_share=HYBRID_MIN_SHARE, stems=stems)
    finally:
        encoded = encoding.result() if encoding is not None else None  # (raises what the encoding raised)
    sem = _semantic_ranked(con, query, depth, filters, model, encoded=encoded) if encoded is not None else []
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
                    stems: list[str] | None = None, terms: list[tuple[int, int]] | None = None,
                    st: fts.Stats | None = None) -> list[tuple[str, float]]:
    """BM25 ranking; a message must hold at least `min_share` of the query's distinct terms.

    `stems` and `terms` (from `fts.lookup`), and the index's statistics `st`, save their round trips when the caller
    has them."""
    if stems is None:
        stems, terms = fts.lookup(con, query)
    if not stems:
        return []
    terms = fts.query_terms(con, stems) if terms is None else terms
    if not terms:
        return []
    min_terms = max(1, math.ceil(min_share * len(stems)))
    tail, args = filters.sql()
    phrases = [p.strip() for p in PHRASE.findall(query) if p.strip()]
    if phrases:  # a verbatim phrase holds each of its terms: only such messages need the (costly) text check
        only_phrases = not re.search(r"[^\W_]", PHRASE.sub(" ", query))  # then its terms are the query's
        min_terms = max(min_terms, len(stems) if only_phrases else len(fts.query_stems(con, " ".join(phrases))))
    if args or filters.human_only:
        def ranking(n: int) -> list[tuple[str, float]]:
            return [(m, float(s)) for m, s in con.execute(fts.bm25_sql(terms, tail, n), [min_terms, *args]).fetchall()]
    else:  # no filter: messages, sessions and roles are not joined
        def ranking(n: int) -> list[tuple[str, float]]:
            return fts.best(con, terms, min_terms, n, st)
    return _with_phrases(con, ranking, phrases, limit) if phrases else ranking(limit)


def _with_phrases(con, ranking, phrases: list[str], limit: int) -> list[tuple[str, float]]:
    """The best `limit` of `ranking(n)` whose text holds every phrase (case-insensitive).

    The text is read for the best candidates only, in rank order, in batches (`limit`, then twice as
    many each time) looked up by key, rather than for every message holding the phrase's terms; the
    ranking is taken deeper (4x each time) while too few pass."""
    likes = " AND ".join("text ILIKE ? ESCAPE '\\'" for _ in phrases)
    patterns = ["%" + _like_prefix(p)[:-1] + "%" for p in phrases]
    out: list[tuple[str, float]] = []
    depth, done, size = max(4 * limit, 100), 0, limit
    while True:
        ranked = ranking(depth)
        while done < len(ranked):
            batch = ranked[done:done + size]
            done, size = done + len(batch), 2 * size
            ids = [m for m, _ in batch]
            # Materialized first: with the ILIKE beside it, the IN list would not use the key's index.
            ok = {r[0] for r in fts.key_rows(
                con, f"WITH t AS MATERIALIZED (SELECT msg_id, text FROM messages WHERE msg_id IN ({_literals(ids)})) "
                f"SELECT msg_id FROM t WHERE {likes}", len(ids), patterns)}
            out += [(m, s) for m, s in batch if m in ok]
            if len(out) >= limit:
                return out[:limit]
        if len(ranked) < depth:
            return out
        depth *= 4


def _semantic_ranked(con, query: str, limit: int, filters: SearchFilters, model: str | None,
                     encoded: tuple | None = None) -> list[tuple[str, float, int]]:
    """(msg_id, cosine, best chunk) best first: the message scores as its best chunk.

    Ranked in memory (`vault.index.vectors`); filters are checked by key on the best candidates only,
    and by one pass over the filters when they let few of those through.
    `encoded`: ((model_id, name), query vector) already computed (hybrid encodes while the keyword ranking runs).
    """
    from vault.index import vectors

    if encoded is None:
        active = _semantic_model(con, model) if query.strip() else None
        if active is None:
            return []
        encoded = active, _query_vector(active[1], query)
    (mid, _), qvec = encoded
    idx = vectors.index(con, mid)
    scores, per_chunk = vectors.message_scores(idx, qvec)
    tail, args = filters.sql()
    if " WHERE " not in tail:  # no filter: messages are not needed to rank
        picked = vectors.best(scores, limit)
    else:
        picked = _filtered_best(con, idx, scores, limit, tail, args)
    return [(idx.msg_ids[m], float(scores[m]), vectors.best_chunk(idx, per_chunk, m)) for m in picked]


def _filtered_best(con, idx, scores, limit: int, tail: str, args: list) -> list[int]:
    """The best messages that pass the filters: the best candidates checked by key (4 x limit, at least 100:
    enough when the filters keep a quarter), else one pass over the filtered messages. On the 1 GB bench
    vault, 100 keys cost 4 ms, 1,600 keys 12 ms, the pass of a --human-only filter 4 ms: widening step by
    step costs more than that pass."""
    import numpy as np

    from vault.index import vectors

    top = vectors.best(scores, max(4 * limit, 100))
    ids = idx.msg_ids[top].tolist()
    ok = {r[0] for r in con.execute(
        f"SELECT m.msg_id FROM messages m {tail} AND m.msg_id IN ({', '.join('?' for _ in ids)})",
        [*args, *ids]).fetchall()} if ids else set()
    picked = [m for m, i in zip(top, ids) if i in ok]
    if len(picked) >= limit or len(top) == len(scores):  # enough, or every message was a candidate
        return picked[:limit]
    ok = {r[0] for r in con.execute(f"SELECT m.msg_id FROM messages m {tail}", args).fetchall()}
    allowed = np.fromiter((i in ok for i in idx.msg_ids), bool, len(idx.msg_ids))
    return list(vectors.best(scores, limit, allowed))


def _semantic_model(con, model: str | None) -> tuple[int, str] | None:
    """(model_id, name) of the vectors to search: the vault's model, or the one asked for if it has vectors."""
    from vault.index import embeddings

    if model is None:
        active = embeddings.active_model(con)
        return (active[0], active[1]) if active else None
    from vault.index.settings import model_name

    name = model_name(con, model)
    mid = embeddings.model_id(con, name)
    return (mid, name) if mid is not None else None


def _query_vector(name: str, query: str):
    from vault.index import embeddings

    return embeddings.encode_query(embeddings.load_query_model(name), query)


_encoder_pool = None


def _encode_ahead(con, query: str, model: str | None):
    """Start encoding the query in a worker thread (torch and DuckDB both release the GIL), so that the
    keyword ranking runs meanwhile; None when there is nothing to encode."""
    global _encoder_pool
    active = _semantic_model(con, model) if query.strip() else None
    if active is None:
        return None
    if _encoder_pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _encoder_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-query-encoder")
    return _encoder_pool.submit(lambda: (active, _query_vector(active[1], query)))


# -- hits with snippets --------------------------------------------------------------


def _hits(con, ranked: list[tuple[str, float]], query: str, extra: dict[str, dict],
          stems: list[str] | None = None, version: str | None = None) -> list[Hit]:
    """`ranked` as hits. `version`: the vault's `fts.versions` when the caller read them (`fts.opening`)."""
    if not ranked:
        return []
    # Point lookups by key (each table's index) with the keys as constants, rather than joins, which
    # would scan every message (or every call): a few small queries. Sessions come from `_sessions`.
    ids = [m for m, _ in ranked]
    rows = con.execute("SELECT msg_id, session_id, role, kind, text, timestamp, tool_name, is_error "
                       f"FROM messages WHERE msg_id IN ({_literals(ids)})").fetchall()
    if not rows:  # a stale index naming messages since deleted
        return []
    # A tool call's snippet shows what was indexed (its arguments too: the match may be there); a tool
    # result is named by its call; a hit names its session's project and role (a subagent: its parent's).
    calls = [r[0] for r in rows if r[3] == Kind.TOOL_CALL]
    unnamed = [r[0] for r in rows if r[3] == Kind.TOOL_RESULT and r[6] is None]
    # The call ids of unnamed results only: read for every hit, that column's blocks cost a cold search 2 ms.
    # (Only the key in the WHERE clause: a condition beside it would make the lookup a scan.)
    use_of = {m: u for m, u in con.execute(f"SELECT msg_id, tool_use_id FROM messages WHERE msg_id IN "
                                           f"({_literals(unnamed)})").fetchall() if u is not None} if unnamed else {}
    uses = sorted(set(use_of.values()))
    args: dict[str, str] = {}
    names: dict[str, str] = {}
    if calls or uses:
        for tag, key, value in con.execute(" UNION ALL ".join(part for part in (
            calls and f"SELECT 'a', * FROM ({fts.call_args_sql(_literals(calls))})",
            uses and f"SELECT 't', tool_use_id, name FROM tool_calls WHERE tool_use_id IN ({_literals(uses)})",
        ) if part)).fetchall():
            (args if tag == "a" else names)[key] = value
    if version is None:
        version = fts.versions(con.execute(fts.versions_sql("v", 2)).fetchall())
    sess = _sessions(con, version)
    rows = [(*r[:4], " ".join(filter(None, (r[4], args.get(r[0])))), r[5], r[6] or names.get(use_of.get(r[0])), r[7])
            for r in rows]
    info = {r[0]: r[:6] + sess.get(r[1], (None, None)) + r[6:] for r in rows}
    qstems = set(fts.query_stems(con, query) if stems is None else stems)
    match_words = snippets.matching_words([r[4] or "" for r in rows], qstems)
    snips: dict[tuple[str, int], tuple] = {}  # identical texts (a shared tool output) make the same snippet
    out = []
    win = None
    for msg_id, score in ranked:
        r = info.get(msg_id)
        if r is None:
            continue
        ex = extra.get(msg_id, {})
        start = 0
        if "chunk_no" in ex:
            from vault.index.embeddings import chunk_offset

            if ex["chunk_no"] and win is None:
                from vault.index.embeddings import window
                from vault.index.settings import model_name

                win = window(model_name(con))  # where the chunks were cut: the model's window in tokens
            start = chunk_offset(r[4] or "", ex["chunk_no"], win)
        key = (r[4] or "", start)
        if key not in snips:
            snips[key] = snippets.make(r[4] or "", match_words, start)
        snip, spans = snips[key]
        out.append(Hit(session_id=r[1], msg_id=msg_id, role=r[2], kind=r[3], score=round(score, 6),
                       snippet=snip, spans=list(spans), timestamp=_iso(r[5]), project=r[6], role_name=r[7],
                       keyword_rank=ex.get("keyword_rank"), semantic_rank=ex.get("semantic_rank"),
                       tool_name=r[8], is_error=bool(r[9])))
    return out


# Per connection: (versions, {session_id: (project, role name)}) of every session, read whole when a search first needs
# it and again when `fts.versions` moved (an ingest, `vault roles`): a hit's project and role then cost no lookup (they
# cost a search ~1.6 ms; the 1 GB bench vault's whole table ~1 ms, once). Weakly keyed: dropped with its connection.
_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sessions(con, version: str) -> dict[str, tuple[str | None, str | None]]:
    """session -> (project, role name: the session's, else its parent's), as of `version` (`fts.versions`)."""
    got = _SESSIONS.get(con)
    if got is not None and got[0] == version:
        return got[1]
    parents, roles = {}, {}
    for tag, sid, value, parent in con.execute(
            "SELECT 's', session_id, project, parent_session_id FROM sessions "
            "UNION ALL SELECT 'r', session_id, role_name, NULL FROM roles").fetchall():
        if tag == "s":
            parents[sid] = (value, parent)
        else:
            roles[sid] = value
    sess = {sid: (project, roles[sid] if roles.get(sid) is not None else roles.get(parent))
            for sid, (project, parent) in parents.items()}
    _SESSIONS[con] = (version, sess)
    return sess


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    return ts.isoformat() if isinstance(ts, _dt.datetime) else str(ts)
