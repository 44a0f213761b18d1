"""Full-text search: a BM25 index built by DuckDB's fts extension over the indexed messages.

The extension is loaded from the pinned `duckdb-extension-fts` package, never downloaded.
It indexes a table, not a view, so the indexed texts are staged in `fts_docs`, indexed,
then emptied (the index keeps its own term lists; snippets read `messages`). The index
cannot be updated in place: it is rebuilt when the content version moved.

Besides what was typed and said, it holds what people remember of the work: tool calls (the
message's summary and the salient arguments: command, path, pattern...) and tool output (its
head and tail, more of it for a failure). Identical outputs are one document (named by their
content hash, mapped back to their messages by `fts_results`). Each document carries a tier
(`docs.tier`): among hits holding as many of the query's terms, typed and said text ranks first,
then tool calls, then failed tool output, then other output; BM25 orders within a tier.

Scoring uses the extension's BM25 formula, precomputed: after the build, `postings` holds one row per
term and document with the term's weight in it, ranked within the term, so a one-term query reads its
first `limit` rows and a longer one sums the weights of its terms' rows (the `match_bm25` macro
evaluates per row, which is far slower on a large vault). A query then names its best documents'
messages through `doc_msgs`, by an index; every lookup is by key, with constants.
"""

from __future__ import annotations

import time

import duckdb

from vault import store
from vault.faults import crash_point
from vault.index import stem
from vault.index.settings import WHITESPACE_SQL, keyword_kinds, searchable_sql
from vault.model import Kind
from vault.store import get_meta, set_meta

SCHEMA = "fts_main_fts_docs"
META_VERSION = "fts_built_at_version"
META_KINDS = "fts_built_kinds"
BM25_K, BM25_B = 1.2, 0.75
# DuckDB's English list drops words people search for ("hello", "again", "above"...): a short list instead.
STOPWORDS = ("a an and are as at be by for from i in is it of on or that the this to was we with you "
             "your my me our they them he she his her its were been has have had do does did so if").split()
# Letters and digits make words (the default drops digits: "E404", "v2", "python3").
IGNORE = r"(\.|[^a-z0-9])+"
# Bumped when what the index holds changes: an existing vault rebuilds it on its next ingest or search.
LAYOUT = "5"  # 2: tool calls and results; 3: postings hold BM25 weights; 4: docids by first message,
# doc_msgs; 5: postings ranked per term, dictionary indexed
# Ranking tiers: what a person typed or read first, then what the tools did (errors before output).
TEXT_TIER, TOOL_CALL_TIER, TOOL_ERROR_TIER, TOOL_OUTPUT_TIER = 0, 1, 2, 3
# Characters of a tool's output indexed: its head and its tail (where a failure says what went wrong).
OUTPUT_HEAD, OUTPUT_TAIL = 1500, 500
ERROR_HEAD, ERROR_TAIL = 3000, 1000
# Tool-call arguments worth finding a call by (each cut to ARG_CHARS); code bodies (old_string...) are not.
ARG_KEYS = ("command", "cmd", "file_path", "path", "notebook_path", "pattern", "glob", "url", "query",
            "description")
ARG_CHARS = 500


def load_extension(con: duckdb.DuckDBPyConnection, name: str = "fts") -> None:
    """Load a DuckDB extension from its pinned PyPI package (no download at run time)."""
    store.load_extension(con, name)


def index_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'docs'", [SCHEMA]
    ).fetchone()[0])


def built_kinds(con: duckdb.DuckDBPyConnection) -> str:
    """What `META_KINDS` holds once the index is built: the layout and the kinds indexed."""
    return f"v{LAYOUT}:" + ",".join(keyword_kinds(con))


def needs_rebuild(con: duckdb.DuckDBPyConnection) -> bool:
    version = get_meta(con, "content_version", "0")
    return (get_meta(con, META_VERSION) != version or get_meta(con, META_KINDS) != built_kinds(con)
            or not index_exists(con))


def _bounded(head: int, tail: int) -> str:
    return (f"CASE WHEN length(m.text) <= {head + tail} THEN m.text "
            f"ELSE left(m.text, {head}) || ' … ' || right(m.text, {tail}) END")


def _stage_call_args(con: duckdb.DuckDBPyConnection) -> None:
    """`fts_call_args(msg_id, args)`: the salient arguments of a tool-call message's calls that its text (the
    summary line the parser wrote) does not already hold; one JSON parse per call. Kept after the build: a
    hit's snippet shows them (they may be what matched)."""
    paths = "[" + ", ".join(f"'$.{k}'" for k in ARG_KEYS) + "]"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE fts_call_args AS
        SELECT msg_id, args FROM (
            SELECT m.msg_id, array_to_string(list_filter(a.args, x -> NOT contains(m.text, x)), ' ') AS args
            FROM messages m JOIN (
                SELECT call_msg_id,
                       flatten(list(list_transform(json_extract_string(input, {paths}), x -> left(x, {ARG_CHARS}))))
                       AS args
                FROM tool_calls WHERE call_msg_id IS NOT NULL GROUP BY call_msg_id
            ) a ON a.call_msg_id = m.msg_id
            WHERE m.kind = '{Kind.TOOL_CALL}')
        WHERE args <> '' ORDER BY msg_id
        """
    )
    con.execute("CREATE UNIQUE INDEX fts_call_args_msg ON fts_call_args (msg_id)")  # hits read it by key


def call_args_sql(literals: str) -> str:
    """A query of (msg_id, arguments indexed beside its text) for the tool-call messages named by
    `literals` (SQL string constants), those that have some; by key."""
    return f"SELECT msg_id, args FROM fts_call_args WHERE msg_id IN ({literals})"


def _stage_docs(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> None:
    """Fill `fts_docs(doc, text, tier)`, `fts_call_args(msg_id, args)` and `fts_results(doc, msg_id)`."""
    _stage_call_args(con)
    text_kinds = tuple(k for k in kinds if k not in (Kind.TOOL_CALL, Kind.TOOL_RESULT))
    nonempty = f"length(trim(m.text, {WHITESPACE_SQL})) > 0"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE fts_docs AS
        SELECT m.msg_id AS doc, m.text, {TEXT_TIER}::TINYINT AS tier FROM messages m WHERE {searchable_sql(text_kinds)}
        UNION ALL
        SELECT m.msg_id, concat_ws(' ', m.text, a.args), {TOOL_CALL_TIER}::TINYINT
        FROM messages m LEFT JOIN fts_call_args a USING (msg_id)
        WHERE m.kind = '{Kind.TOOL_CALL}' AND length(trim(concat_ws(' ', m.text, a.args), {WHITESPACE_SQL})) > 0
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fts_outputs AS
        SELECT *, 'r:' || md5(text) AS doc FROM (
            SELECT m.msg_id, m.is_error,
                   CASE WHEN m.is_error THEN {_bounded(ERROR_HEAD, ERROR_TAIL)}
                        ELSE {_bounded(OUTPUT_HEAD, OUTPUT_TAIL)} END AS text
            FROM messages m WHERE m.kind = '{Kind.TOOL_RESULT}' AND {nonempty})
        """
    )
    con.execute(
        f"""
        INSERT INTO fts_docs
        SELECT doc, any_value(text),
               min(CASE WHEN is_error THEN {TOOL_ERROR_TIER} ELSE {TOOL_OUTPUT_TIER} END)::TINYINT
        FROM fts_outputs GROUP BY doc
        """
    )
    con.execute("CREATE OR REPLACE TABLE fts_results AS SELECT doc, msg_id FROM fts_outputs ORDER BY doc")
    con.execute("DROP TABLE fts_outputs")


def ensure_index(con: duckdb.DuckDBPyConnection, force: bool = False) -> dict | None:
    """Rebuild the BM25 index if content (or the indexed kinds) changed. Returns what it did, or None."""
    if not force and not needs_rebuild(con):
        return None
    t0 = time.perf_counter()
    load_extension(con)
    kinds = keyword_kinds(con)
    version = get_meta(con, "content_version", "0")
    con.execute("CREATE OR REPLACE TABLE fts_stopwords (sw VARCHAR)")
    con.executemany("INSERT INTO fts_stopwords VALUES (?)", [[w] for w in STOPWORDS])
    _stage_docs(con, kinds)
    docs = con.execute("SELECT count(*) FROM fts_docs").fetchone()[0]
    con.execute(
        "PRAGMA create_fts_index('fts_docs', 'doc', 'text', overwrite=1, stemmer='porter', "
        f"stopwords='fts_stopwords', ignore='{IGNORE}', strip_accents=1, lower=1)"
    )
    crash_point("in-fts")  # built, but not yet recorded as built: the next run builds it again
    # Documents renumbered in the order of the first message each stands for (its own, or the first of
    # those that printed a tool output), with their tier. Ties between messages go by msg_id, so among
    # documents that score the same the lower docid holds the message ranked first: the best `limit`
    # documents hold the best `limit` messages, and a query names no more documents than that.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE fts_renumber AS
                    SELECT d.docid AS old, row_number() OVER (ORDER BY coalesce(r.first, d.name)) AS docid,
                           d.name, d.len, f.tier
                    FROM {SCHEMA}.docs d JOIN fts_docs f ON f.doc = d.name
                    LEFT JOIN (SELECT doc, min(msg_id) AS first FROM fts_results GROUP BY doc) r ON r.doc = d.name""")
    con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.docs AS SELECT docid, name, len, tier FROM fts_renumber ORDER BY docid")
    # Each document's messages (`n`: 1, 2... in msg_id order), what a query reads to name its best
    # documents' messages; by an index on docid, as a scan decodes most of msg_id to fetch a few. (Any
    # other condition beside the docid list turns the index scan into a scan: see `best`.)
    con.execute(f"""CREATE OR REPLACE TABLE {SCHEMA}.doc_msgs AS
                    SELECT n.docid, coalesce(r.msg_id, n.name) AS msg_id,
                           row_number() OVER (PARTITION BY n.docid ORDER BY coalesce(r.msg_id, n.name))::INTEGER AS n
                    FROM fts_renumber n LEFT JOIN fts_results r ON r.doc = n.name ORDER BY n.docid, n""")
    con.execute(f"CREATE INDEX doc_msgs_docid ON {SCHEMA}.doc_msgs (docid)")
    con.execute("DELETE FROM fts_docs")  # the index holds what it needs; the text lives in `messages`
    # The extension's `terms` (a row per occurrence) become `postings`: a row per term and document with
    # the term's BM25 weight in it (`w`, the extension's formula: k1, b, the document's length and the
    # term's frequency are all fixed once built) and the document's tier, so a query sums weights and
    # reads no other table until its best documents are named. Sorted by term (a query's terms sit in few
    # row groups), then best first: `r` is the rank within the term, so a one-term query reads its top.
    con.execute(f"""CREATE OR REPLACE TABLE {SCHEMA}.postings AS
                    SELECT *, row_number() OVER (PARTITION BY termid ORDER BY tier, w DESC, docid)::INTEGER AS r
                    FROM (SELECT termid, docid, tier, {_weight("df", "tf", "len")} AS w
                          FROM (SELECT t.termid, n.docid, count(*)::INTEGER AS tf, any_value(n.len)::INTEGER AS len,
                                       any_value(n.tier) AS tier
                                FROM {SCHEMA}.terms t JOIN fts_renumber n ON n.old = t.docid
                                GROUP BY t.termid, n.docid)
                          JOIN {SCHEMA}.dict USING (termid), {SCHEMA}.stats st)
                    ORDER BY termid, r""")
    con.execute(f"CREATE UNIQUE INDEX dict_term ON {SCHEMA}.dict (term)")  # `lookup` reads it by term
    con.execute("DROP TABLE fts_renumber")
    con.execute(f"DROP TABLE {SCHEMA}.terms")  # only the extension's match_bm25 macro reads it; search does not
    set_meta(con, META_VERSION, str(version))
    set_meta(con, META_KINDS, built_kinds(con))
    con.execute("CHECKPOINT")
    return {"fts_docs": docs, "fts_seconds": round(time.perf_counter() - t0, 3)}


def _weight(df: str, tf: str, length: str) -> str:
    """One term's BM25 score in one document (the extension's formula), over `stats st`."""
    return (f"ln((st.num_docs - {df} + 0.5) / ({df} + 0.5) + 1) * {tf} * ({BM25_K} + 1)"
            f" / ({tf} + {BM25_K} * (1 - {BM25_B} + {BM25_B} * {length} / st.avgdl))")


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
    terms = ", ".join("'" + s.replace("'", "''") + "'" for s in stems)
    try:
        return con.execute(f"SELECT termid, df FROM {SCHEMA}.dict WHERE term IN ({terms})").fetchall()
    except duckdb.CatalogException:
        if index_exists(con):
            raise
        return []


def lookup(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple[int, int]]]:
    """`query_stems` and `query_terms`: (stems, [(termid, df) of those the index knows]).

    The stems go in as constants, so the dictionary is read by its index on term."""
    stems = query_stems(con, query)
    return stems, query_terms(con, stems)


def _scored(terms: list[tuple[int, int]]) -> str:
    """Documents holding at least (parameter) of `terms`: (docid, score, matched, tier).

    `terms` come from `query_terms`; they are written into the query as constants, so that the
    scan of the postings (sorted by termid at build) skips the row groups of other terms."""
    ids = ", ".join(str(int(t)) for t, _ in terms)
    if len(terms) == 1:  # one term: nothing to sum, a document's score is its posting's weight
        return f"SELECT docid, w AS score, 1 AS matched, tier FROM {SCHEMA}.postings WHERE termid = {ids} AND ? <= 1"
    # fsum: the same total whatever order the parallel scan adds the terms in (identical documents tie)
    return (f"SELECT docid, fsum(w) AS score, count(*) AS matched, min(tier) AS tier FROM {SCHEMA}.postings "
            f"WHERE termid IN ({ids}) GROUP BY docid HAVING count(*) >= ?")


ORDER = "matched DESC, tier, score DESC"  # then msg_id: hits holding more terms, typed text, BM25


def best(con: duckdb.DuckDBPyConnection, terms: list[tuple[int, int]], min_terms: int,
         limit: int) -> list[tuple[str, float]]:
    """The best `limit` messages, (msg_id, score) best first, holding at least `min_terms` of `terms`.

    Two small queries rather than one join: the best `limit` documents (one term: its first `limit`
    postings, by rank; more: a top-n of their sums; equal scores go by docid, which is in the order of
    the documents' first messages), then their messages by docid (at most `limit` each: a shared tool
    output may stand for thousands)."""
    if len(terms) == 1:
        if min_terms > 1:
            return []
        docs = con.execute(f"SELECT docid, w, 1, tier FROM {SCHEMA}.postings "
                           f"WHERE termid = {int(terms[0][0])} AND r <= {int(limit)}").fetchall()
    else:
        docs = con.execute(f"SELECT docid, score, matched, tier FROM ({_scored(terms)}) "
                           f"ORDER BY {ORDER}, docid LIMIT {int(limit)}", [min_terms]).fetchall()
    if not docs:
        return []
    key = {d[0]: d[1:] for d in docs}
    msgs = con.execute(f"WITH t AS MATERIALIZED (SELECT * FROM {SCHEMA}.doc_msgs WHERE docid IN "
                       f"({', '.join(map(str, key))})) SELECT docid, msg_id FROM t WHERE n <= {int(limit)}").fetchall()
    rows = sorted((-key[d][1], key[d][2], -key[d][0], msg) for d, msg in msgs)[:limit]
    return [(msg, -score) for _, _, score, msg in rows]


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
