"""Full-text search: a BM25 index over the indexed messages, kept up to date incrementally.

Words are split and stemmed as DuckDB's fts extension does (its `stem`, loaded from the pinned
`duckdb-extension-fts` package, never downloaded; the tokenizer is its macro). The tables and how they
are built and updated are `vault.index.fts_build`'s: a main segment of postings ranked per term, a delta
of the documents added since, exact statistics. After an ingest only the sessions it touched are read
again (`ensure_index`); a full build happens for a new vault, another layout or other indexed kinds.

Besides what was typed and said, it holds what people remember of the work: tool calls (the
message's summary and the salient arguments: command, path, pattern...) and tool output (its
head and tail, more of it for a failure). Identical outputs are one document (named by their
content hash, mapped back to their messages by `doc_msgs` and `fts_results`). Each document carries a
tier: among hits holding as many of the query's terms, typed and said text ranks first, then tool calls,
then failed tool output, then other output; BM25 orders within a tier.

Scoring is the extension's BM25 formula, computed at query time from each posting's term frequency and
document length and the current statistics (documents, average length, the term's document frequency),
so an updated index ranks as a rebuilt one. A one-term query reads the head of its term's postings in
the main segment (`r`, the rank at the main segment's statistics, bounds how deep the current ranking
can reach) and the delta's best; a longer one sums its terms' weights over both. A query then names its
best documents' messages through `doc_msgs`, by an index; every lookup is by key, with constants.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import namedtuple

import duckdb

from vault import store
from vault.index import fts_build, stem
from vault.index.fts_build import (  # noqa: F401  (the tiers and limits, as callers name them)
    ARG_CHARS, ARG_KEYS, AVGDL, BM25_B, BM25_K, ERROR_HEAD, ERROR_TAIL, MAIN_AVGDL, OUTPUT_HEAD, OUTPUT_TAIL,
    TEXT_TIER, TOOL_CALL_TIER, TOOL_ERROR_TIER, TOOL_OUTPUT_TIER, idf_sql, weight_sql)
from vault.index.settings import META_EXTRAS, keyword_kinds_of
from vault.sqlstring import sql_string, sql_strings
from vault.store import get_meta, set_meta

SCHEMA = fts_build.S
META_VERSION = "fts_built_at_version"
META_KINDS = "fts_built_kinds"
# DuckDB's cap while a whole index is built: it spills its staging to disk past it. A whole build of the 1 GB
# archive's vault in a process that just opened it peaked at 1,019 MB under 1 GB, 462 MB under 256 MB, for 8% more
# wall time. (Right after a cold ingest in the same connection it still peaks near 1.1 GB: docs/foundation.md.)
# A build that still runs out of memory here is done again under ROOMY_BUILD_MEMORY.
BUILD_MEMORY = "256MB"
ROOMY_BUILD_MEMORY = "1GB"
# DuckDB's English list drops words people search for ("hello", "again", "above"...): a short list instead.
STOPWORDS = ("a an and are as at be by for from i in is it of on or that the this to was we with you "
             "your my me our they them he she his her its were been has have had do does did so if").split()
# Letters and digits make words (the default drops digits: "E404", "v2", "python3").
IGNORE = r"(\.|[^a-z0-9])+"
# Bumped when what the index holds changes: an existing vault rebuilds it on its next ingest or search.
LAYOUT = "7"  # 2: tool calls and results; 3: postings hold BM25 weights; 4: docids by first message,
# doc_msgs; 5: postings ranked per term, dictionary indexed; 6: scores at query time, a delta segment,
# updated incrementally; 7: a term's head postings name their message (`msg`; a layout-6 index gains it by m018)


# DuckDB rewrites a list of constants (`msg_id IN ('a', 'b', ...)`) into a join with the list, whose planning costs more
# than the lookup itself (20 keys: 1.6-2.0 ms, 0.9-1.1 without the rewrite, which keeps the list as a filter that the
# key's index answers). A search's statements are such lookups: it runs with the rewrite off (`point_lookups`). The
# setting is the database's, not the connection's (DuckDB allows no other): a query another thread plans meanwhile is
# planned without the rewrite too (the same rows, maybe slower), and it is put back when the search ends.
NO_IN_REWRITE = "in_clause"
MANY_KEYS = 100  # past this many keys the rewrite's join is the cheaper (400 docids: 12 ms with it, 22 without)
SETTING = "current_setting('disabled_optimizers')"


@contextlib.contextmanager
def point_lookups(con: duckdb.DuckDBPyConnection, off: bool = True, before: str | None = None):
    """Run the block with DuckDB's IN-list rewrite off (NO_IN_REWRITE; on again with `off=False`), then put back what
    the connection had (`before`: that setting, when the caller read it already)."""
    if before is None:
        before = con.execute(f"SELECT {SETTING}").fetchone()[0]
    have = {n for n in before.split(",") if n}
    want = have | {NO_IN_REWRITE} if off else have - {NO_IN_REWRITE}
    if want == have:
        yield
        return
    con.execute(f"SET disabled_optimizers = {sql_string(','.join(sorted(want)))}")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = {sql_string(before)}")


def key_rows(con: duckdb.DuckDBPyConnection, sql: str, keys: int, params: list | None = None) -> list[tuple]:
    """The rows of `sql`, a lookup of `keys` constants: with DuckDB's IN-list rewrite when they are many."""
    if keys <= MANY_KEYS:
        return con.execute(sql, params).fetchall()
    with point_lookups(con, off=False):
        return con.execute(sql, params).fetchall()


def load_extension(con: duckdb.DuckDBPyConnection, name: str = "fts") -> None:
    """Load a DuckDB extension from its pinned PyPI package (no download at run time)."""
    store.load_extension(con, name)


def index_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'docs'", [SCHEMA]
    ).fetchone()[0])


def built_kinds(con: duckdb.DuckDBPyConnection) -> str:
    """What `META_KINDS` holds once the index is built: the layout and the kinds indexed."""
    return _built_kinds(get_meta(con, META_EXTRAS, "") or "")


def _built_kinds(extras: str) -> str:
    """`built_kinds` for the vault's `META_EXTRAS` value."""
    return f"v{LAYOUT}:" + ",".join(keyword_kinds_of(extras))


def needs_rebuild(con: duckdb.DuckDBPyConnection) -> bool:
    return _state(con) != "fresh"


# `_state`'s one query: its constants written once.
_STATE_SQL = ("SELECT " + ", ".join(f"(SELECT value FROM meta WHERE key = {sql_string(k)})"
                                    for k in ("content_version", META_VERSION, META_KINDS, META_EXTRAS))
              + f", EXISTS (SELECT 1 FROM duckdb_tables() WHERE schema_name = {sql_string(SCHEMA)} "
              "AND table_name = 'docs' AND database_name = current_database())")


def _state(con: duckdb.DuckDBPyConnection) -> str:
    """'fresh', 'stale' (an update brings it up to date) or 'other' (missing, or of another layout or kinds: built
    whole). One query with constants (every search asks; five parameterised ones cost a cold search 5 ms)."""
    version, built, kinds, extras, exists = con.execute(
        _STATE_SQL).fetchone()
    if kinds != _built_kinds(extras or "") or not exists:
        return "other"
    return "fresh" if built == (version or "0") else "stale"


def call_args_sql(literals: str) -> str:
    """A query of (msg_id, arguments indexed beside its text) for the tool-call messages named by
    `literals` (SQL string constants), those that have some; by key."""
    return f"SELECT msg_id, args FROM fts_call_args WHERE msg_id IN ({literals})"


def ensure_index(con: duckdb.DuckDBPyConnection, force: bool = False) -> dict | None:
    """Bring the BM25 index up to date: built whole when missing, of another layout or kinds (or `force`),
    else updated with the sessions changed since (`fts_build.refresh`). Returns what it did, or None."""
    state = "other" if force else _state(con)
    if state == "fresh":
        return None
    if state == "other":
        load_extension(con)  # `stem` (an update stems in Python: `fts_build._tokenize`)
        return _rebuild(con)
    out = fts_build.refresh(con)
    out["fts_docs"] = con.execute(f"SELECT num_docs FROM {SCHEMA}.stats").fetchone()[0]
    store.settle(con)  # a small update stays in the WAL: no checkpoint (~1 s on a 1 GB vault), closing included
    return out


def _rebuild(con: duckdb.DuckDBPyConnection) -> dict:
    t0 = time.perf_counter()
    version = get_meta(con, "content_version", "0")
    set_meta(con, META_KINDS, "")  # committed first: a build killed midway is done again, not updated
    # Its own cap (the ingest's ~128 MB may still hold), set back afterwards. Out of memory, or a commit that could
    # not pin a block under the cap: started over from an empty index under the roomy one.
    docs = store.with_roomy_retry(con, lambda: fts_build.build(con, STOPWORDS, IGNORE), ROOMY_BUILD_MEMORY,
                                  cap=BUILD_MEMORY, errors=(duckdb.OutOfMemoryException, duckdb.TransactionException))
    set_meta(con, META_VERSION, str(version))
    set_meta(con, fts_build.META_FINGERPRINTS, str(version))  # the build wrote every session's fingerprint
    set_meta(con, META_KINDS, built_kinds(con))
    con.execute("CHECKPOINT")
    return {"fts_docs": docs, "fts_seconds": round(time.perf_counter() - t0, 3)}


# The extension's own query stemming, kept as the reference `vault.index.stem` is tested against.
_STEMS = (f"SELECT DISTINCT stem(t, 'porter') AS stem FROM (SELECT unnest({SCHEMA}.tokenize(?)) AS t) "
          "WHERE t <> '' AND t NOT IN (SELECT sw FROM fts_stopwords)")


def query_stems(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The query's terms as the index stores them (lowercased, split, stemmed, stopwords out).

    Stemmed in Python (`vault.index.stem`: the same libstemmer Porter stemmer), so a search never
    loads the fts extension."""
    return stem.stems(con, query, STOPWORDS)


def query_terms(con: duckdb.DuckDBPyConnection, stems: list[str]) -> list[tuple[int, int]]:
    """(termid, document frequency) of the stems the index knows (by the index on term: constants);
    none when there is no index yet."""
    if not stems:
        return []
    terms = sql_strings(stems)
    try:
        return con.execute(f"SELECT termid, df FROM {SCHEMA}.dict WHERE term IN ({terms})").fetchall()
    except duckdb.CatalogException:
        if index_exists(con):
            raise
        return []


class Opening(namedtuple("Opening", "terms stats setting version", defaults=(None,))):
    """What a search reads first, in one statement (`opening`): (termid, df) of the query's known stems, the index's
    `Stats`, the connection's `disabled_optimizers` (for `point_lookups`) and the vault's `content_version`
    (`versions`: what the search's per-connection caches are valid for)."""

    __slots__ = ()


# Meta keys whose values name what a search may cache per connection (`vault.index.search`'s sessions and roles): an
# ingest bumps the content version, `miner.tables.assign_roles` the roles' (`vault.index.note_roles_changed`).
VERSION_KEYS = ("content_version", "roles_version")


def versions_sql(tag: str, width: int) -> str:
    """A SELECT of (tag, NULL x (width - 2), value) rows: the `VERSION_KEYS` the vault has (`versions` reads them)."""
    return (f"SELECT {sql_string(tag)} || key, {'NULL, ' * (width - 2)}value FROM meta "
            f"WHERE key IN ({sql_strings(VERSION_KEYS)})")


def versions(rows) -> str:
    """The versions the caches are keyed by, from `versions_sql`'s rows [(tag + key, ..., value)]."""
    got = {r[0][1:]: r[-1] for r in rows}
    return "/".join(str(got.get(k)) for k in VERSION_KEYS)


def opening(con: duckdb.DuckDBPyConnection, stems: list[str]) -> Opening:
    """`query_terms`, `read_stats`, the optimizer setting and the versions in one statement (three cost a search 0.4
    ms more); no terms (and no statistics read) when the index is missing or knows none of `stems`."""
    if not stems:
        return Opening([], None, None)
    words = sql_strings(stems)
    try:
        rows = con.execute(
            f"SELECT 't', termid, df, NULL, NULL, NULL, NULL FROM {SCHEMA}.dict WHERE term IN ({words}) UNION ALL "
            f"SELECT 's', num_docs, total_len, main_docs, main_len, delta_rows, {SETTING} FROM {SCHEMA}.stats "
            f"UNION ALL {versions_sql('v', 7)}").fetchall()
    except duckdb.CatalogException:
        if index_exists(con):
            raise
        return Opening([], None, None)
    terms = [(r[1], r[2]) for r in rows if r[0] == "t"]
    st = next((r for r in rows if r[0] == "s"), None)
    if not terms or st is None:
        return Opening([], None, None)
    return Opening(terms, Stats(*st[1:6]), st[6], versions([r for r in rows if r[0][0] == "v"]))


def lookup(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple[int, int]]]:
    """`query_stems` and `query_terms`: (stems, [(termid, df) of those the index knows]).

    The stems go in as constants, so the dictionary is read by its index on term."""
    stems = query_stems(con, query)
    return stems, query_terms(con, stems)


# Scores are summed as integers (units of 2**-32): a sum that does not depend on the order the scan adds the
# terms in, so equal documents tie whichever segment or row order they come in (`fsum` did not always).
SCALE = 1 << 32


class Stats(namedtuple("Stats", "num_docs total_len main_docs main_len delta_rows")):
    """The index's statistics (`stats`, integers), read once per ranking: scored with them as constants.
    (collections.namedtuple: a typing.NamedTuple compiles each field's annotation when a cold search imports it.)"""

    __slots__ = ()

    def avgdl(self) -> float:
        """`AVGDL`, the same double (an integer sum over an integer count, as DuckDB divides them)."""
        return self.total_len / self.num_docs

    def main_avgdl(self) -> float:
        """`MAIN_AVGDL` (1.0 for an empty main segment, which has no posting to weigh)."""
        return self.main_len / self.main_docs if self.main_docs else 1.0

    def idf(self, df: int) -> float:
        """`idf_sql`, the same double: glibc's log of the same IEEE operations in the same order (tested)."""
        return math.log((self.num_docs - df + 0.5) / (df + 0.5) + 1)


def read_stats(con: duckdb.DuckDBPyConnection) -> Stats:
    return Stats(*con.execute(f"SELECT num_docs, total_len, main_docs, main_len, delta_rows FROM {SCHEMA}.stats"
                              ).fetchone())


def _double(x: float) -> str:
    """A SQL DOUBLE constant equal to `x` to the bit (a string cast: a decimal literal would go through DECIMAL)."""
    return sql_string(repr(x)) + "::DOUBLE"


def _score_sql(terms: list[tuple[int, int]], st: Stats | None = None) -> str:
    """A posting `p`'s BM25 score in units of 1/SCALE: its term's idf (from the df `lookup` read) times its weight.
    Over `stats st` in the query, or, given `st`, with its figures as constants: the same doubles (the idf and the
    average length computed alike in Python; tests/search/test_fts_incremental.py), and a shorter plan for DuckDB
    to bind (a one-term ranking: 1.1 ms rather than 1.7 ms, warm)."""
    def idf(df: int) -> str:
        return idf_sql(str(int(df))) if st is None else _double(st.idf(int(df)))

    if len(terms) == 1:
        idf_expr = idf(terms[0][1])
    else:
        idf_expr = "CASE p.termid " + " ".join(f"WHEN {int(t)} THEN {idf(df)}" for t, df in terms) + " END"
    return f"round({idf_expr} * {weight_sql(AVGDL if st is None else _double(st.avgdl()))} * {SCALE})::BIGINT"


def weight(tf: int, length: int, avgdl: float) -> float:
    """`weight_sql` in Python: the same IEEE operations in the same order (tests/search/test_fts_constants.py)."""
    return tf * (BM25_K + 1) / (tf + BM25_K * ((1 - BM25_B) + BM25_B * length / avgdl))


def score(idf: float, w: float) -> int:
    """`_score_sql` in Python: round(idf * w * SCALE) as DuckDB rounds a double (half away from zero; scores are
    positive). x - floor(x) is exact, so no addition of 0.5 can round the wrong way."""
    x = idf * w * SCALE
    n = math.floor(x)
    return n + 1 if x - n >= 0.5 else n


def _segment_rows(terms: list[tuple[int, int]], table: str, extra: str = "", st: Stats | None = None) -> str:
    ids = ", ".join(str(int(t)) for t, _ in terms)
    stats = f", {SCHEMA}.stats st" if st is None else ""
    return (f"SELECT p.docid, p.tier, {_score_sql(terms, st)} AS score{extra} FROM {SCHEMA}.{table} p{stats} "
            f"WHERE p.termid IN ({ids})")


def _scored(terms: list[tuple[int, int]]) -> str:
    """Documents holding at least (parameter) of `terms`: (docid, score, matched, tier), over both segments.

    `terms` come from `query_terms`; they are written into the query as constants, so that the
    scan of the postings (sorted by termid) skips the row groups of other terms."""
    return (f"SELECT docid, sum(score)::DOUBLE / {SCALE} AS score, count(*) AS matched, min(tier) AS tier FROM "
            f"({_segment_rows(terms, 'postings')} UNION ALL {_segment_rows(terms, 'delta')}) "
            "GROUP BY docid HAVING count(*) >= ?")


ORDER = "matched DESC, tier, score DESC"  # then msg_id: hits holding more terms, typed text, BM25
DEPTH_SLACK = 1e-9  # relative: the bound of `_one_term` is loosened by this much against rounding


def best(con: duckdb.DuckDBPyConnection, terms: list[tuple[int, int]], min_terms: int,
         limit: int, st: Stats | None = None) -> list[tuple[str, float]]:
    """The best `limit` messages, (msg_id, score) best first, holding at least `min_terms` of `terms`.

    Two small queries rather than one join: the best `limit` documents of each segment (the main
    segment's equal scores go by docid, in the order of the documents' first messages; the delta's by
    that first message), then their messages by docid (at most `limit` each: a shared tool output may
    stand for thousands). Either segment's best `limit` documents hold the best `limit` messages.
    `st`: the index's statistics, when the caller read them (`opening`), in the same read of the vault."""
    if not terms:
        return []
    if len(terms) == 1 and min_terms > 1:
        return []
    st = st or read_stats(con)  # its figures go into the ranking as constants; an empty delta is not read
    if len(terms) == 1:
        docs = _one_term(con, terms[0], limit, st)
    else:
        seg = f"GROUP BY docid HAVING count(*) >= {int(min_terms)} ORDER BY {ORDER}"
        parts = [f"(SELECT docid, sum(score)::DOUBLE / {SCALE} AS score, count(*) AS matched, min(tier) AS tier, "
                 f"max(msg) FROM ({_segment_rows(terms, 'postings', ', p.msg', st)}) {seg}, docid LIMIT {int(limit)})"]
        if st.delta_rows:
            parts.append(f"(SELECT docid, sum(score)::DOUBLE / {SCALE} AS score, count(*) AS matched, min(tier) AS tier, "
                         f"CASE WHEN min(tier) <= {TOOL_CALL_TIER} THEN any_value(first) END "
                         f"FROM ({_segment_rows(terms, 'delta', ', p.first', st)}) {seg}, any_value(first) "
                         f"LIMIT {int(limit)})")
        docs = con.execute(" UNION ALL ".join(parts)).fetchall()  # no parameter: DuckDB would import decimal (and
        # probe for pandas) to bind them
    if not docs:
        return []
    key = {d[0]: d[1:4] for d in docs}
    # (docid, score, matched, tier, msg): a typed text's or a call's message came with its postings (the main segment's
    # head: `msg`, the delta: its first message); the others are named through `doc_msgs`.
    msgs = [(d[0], d[4]) for d in docs if d[4] is not None]
    rest = [d for d in docs if d[4] is None]
    if rest:
        ids = ", ".join(str(d[0]) for d in rest)
        if all(d[3] <= TOOL_CALL_TIER for d in rest):  # typed text and calls: a document per message (named by it)
            sql = f"SELECT docid, msg_id FROM {SCHEMA}.doc_msgs WHERE docid IN ({ids})"
        else:  # a tool output may stand for thousands of messages: its first `limit` (materialized: the key's index)
            sql = (f"WITH t AS MATERIALIZED (SELECT docid, msg_id, n FROM {SCHEMA}.doc_msgs WHERE docid IN ({ids})) "
                   f"SELECT docid, msg_id FROM t WHERE n <= {int(limit)}")
        msgs += key_rows(con, sql, len(rest))
    rows = sorted((-key[d][1], key[d][2], -key[d][0], msg) for d, msg in msgs)[:limit]
    return [(msg, -score) for _, _, score, msg in rows]


def _one_term(con: duckdb.DuckDBPyConnection, term: tuple[int, int], limit: int, st: Stats) -> list[tuple]:
    """The best `limit` documents of each segment for one term: (docid, score, 1, tier, msg or None).

    The main segment's postings are ranked (`r`) by weight at the statistics it was written at, whose
    average length `a0` differs from today's `a1`. A posting's weight changes by a factor between
    min(1, a1/a0) and max(1, a1/a0) (its length part is the only one that moves), so with b the
    `limit`-th live posting in `r` order, any posting of today's best `limit` has a tier below b's or
    the same tier and a weight at `a0` of at least b's times lo/hi: the head read (`r <= depth`) and the
    postings past it that pass this bound hold today's best, ranked exactly at today's statistics."""
    termid = int(term[0])
    a1, a0 = st.avgdl(), st.main_avgdl()
    idf = st.idf(int(term[1]))
    # The main segment's postings come raw (tf, len) and are scored here (`score`: the same doubles as `_score_sql`,
    # tested): binding the two weight expressions cost DuckDB more than the scan (1.4 ms against 0.6, warm).
    main = f"SELECT 0, p.docid, p.tier, p.tf, p.len, p.r, p.msg FROM {SCHEMA}.postings p"
    delta = (f" UNION ALL (SELECT 1, p.docid, p.tier, {_score_sql([term], st)} AS score, NULL, NULL, "
             f"CASE WHEN p.tier <= {TOOL_CALL_TIER} THEN p.first END "
             f"FROM {SCHEMA}.delta p WHERE p.termid = {termid} ORDER BY p.tier, score DESC, p.first "
             f"LIMIT {int(limit)})") if st.delta_rows else ""

    def scored(rows) -> list[tuple]:  # (0, docid, tier, score, weight at a0, r, msg)
        return [(0, d, tier, score(idf, weight(tf, ln, a1)), weight(tf, ln, a0), r, msg)
                for _, d, tier, tf, ln, r, msg in rows]

    depth, deepest = max(4 * limit, limit + 100), None
    while True:
        rows = con.execute(f"{main} WHERE p.termid = {termid} AND p.r <= {depth}{delta}").fetchall()
        head = sorted(scored(r for r in rows if r[0] == 0), key=lambda r: r[5])
        if len(head) >= limit or depth >= st.main_docs:
            break
        if deepest is None:  # a short head: a rare term (every posting read already), or removed documents' gaps
            deepest = con.execute(f"SELECT max(r) FROM {SCHEMA}.postings WHERE termid = {termid}").fetchone()[0] or 0
        if depth >= deepest:
            break
        depth *= 4
    if len(head) >= limit and depth < st.main_docs:
        b = head[limit - 1]
        ratio = a1 / a0
        bound = b[4] * min(1.0, ratio) / max(1.0, ratio) * (1 - DEPTH_SLACK)
        last = head[-1]
        if last[2] == b[2] and last[4] >= bound:  # the head may stop inside what the bound lets through
            head += scored(con.execute(f"{main} WHERE p.termid = {termid} AND p.r > {depth} AND p.tier = {b[2]} "
                                       f"AND {weight_sql(_double(a0))} >= {_double(bound)}").fetchall())
    top = sorted(head, key=lambda r: (r[2], -r[3], r[1]))[:limit]
    return [(r[1], r[3] / SCALE, 1, r[2], r[6]) for r in top + [r for r in rows if r[0] == 1]]


def bm25_sql(terms: list[tuple[int, int]], tail: str, limit: int) -> str:
    """A query returning (msg_id, score) best first, at most `limit`, for parameters (min terms, *filter args):
    the ranking of `best` under filters. `tail` (joins and a WHERE clause from `vault.index.search`)
    follows a join to messages `m`; every document holding enough terms is joined to its messages."""
    return f"""
        SELECT dm.msg_id, sc.score
        FROM ({_scored(terms)}) sc JOIN {SCHEMA}.doc_msgs dm USING (docid)
        JOIN messages m ON m.msg_id = dm.msg_id {tail}
        ORDER BY sc.{ORDER.replace(", ", ", sc.")}, dm.msg_id
        LIMIT {int(limit)}
    """
