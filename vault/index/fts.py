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

Scoring runs the extension's BM25 formula as one set-based query over its tables
(the `match_bm25` macro evaluates per row, which is far slower on a large vault).
"""

from __future__ import annotations

import time

import duckdb

from vault import store
from vault.faults import crash_point
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
LAYOUT = "2"  # 2: tool calls and results
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


def tool_call_texts_sql(ids: str | None = None) -> str:
    """SELECT (msg_id, text) of tool-call messages as indexed: the message's text (its summary line and any
    words) and its calls' salient arguments that the summary does not already hold.

    `ids`: an SQL list `(?, ...)` of the msg_ids wanted (None: every tool call). The arguments are read
    with one JSON parse per call.
    """
    paths = "[" + ", ".join(f"'$.{k}'" for k in ARG_KEYS) + "]"
    only = f"AND call_msg_id IN {ids}" if ids else ""
    return f"""
        SELECT m.msg_id, concat_ws(' ', m.text, array_to_string(list_filter(a.args, x -> NOT contains(m.text, x)), ' '))
        FROM messages m LEFT JOIN (
            SELECT call_msg_id,
                   flatten(list(list_transform(json_extract_string(input, {paths}), x -> left(x, {ARG_CHARS})))) AS args
            FROM tool_calls WHERE call_msg_id IS NOT NULL {only} GROUP BY call_msg_id
        ) a ON a.call_msg_id = m.msg_id
        WHERE m.kind = '{Kind.TOOL_CALL}' {f"AND m.msg_id IN {ids}" if ids else ""}
    """


def _stage_docs(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> None:
    """Fill `fts_docs(doc, text, tier)` and `fts_results(doc, msg_id)`."""
    text_kinds = tuple(k for k in kinds if k not in (Kind.TOOL_CALL, Kind.TOOL_RESULT))
    nonempty = f"length(trim(m.text, {WHITESPACE_SQL})) > 0"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE fts_docs AS
        SELECT m.msg_id AS doc, m.text, {TEXT_TIER}::TINYINT AS tier FROM messages m WHERE {searchable_sql(text_kinds)}
        UNION ALL
        SELECT *, {TOOL_CALL_TIER}::TINYINT FROM ({tool_call_texts_sql()}) t(msg_id, text)
        WHERE length(trim(text, {WHITESPACE_SQL})) > 0
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
    con.execute(f"""CREATE OR REPLACE TABLE {SCHEMA}.docs AS
                    SELECT d.*, f.tier FROM {SCHEMA}.docs d JOIN fts_docs f ON f.doc = d.name ORDER BY d.docid""")
    con.execute("DELETE FROM fts_docs")  # the index holds what it needs; the text lives in `messages`
    # Sorted by term, a query's terms sit in few row groups and the scan skips the rest.
    con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.terms AS SELECT * FROM {SCHEMA}.terms ORDER BY termid, docid")
    set_meta(con, META_VERSION, str(version))
    set_meta(con, META_KINDS, built_kinds(con))
    con.execute("CHECKPOINT")
    return {"fts_docs": docs, "fts_seconds": round(time.perf_counter() - t0, 3)}


def query_stems(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The query's terms as the index stores them (lowercased, split, stemmed, stopwords out)."""
    sql = (f"SELECT DISTINCT stem(t, 'porter') FROM (SELECT unnest({SCHEMA}.tokenize(?)) AS t) "
           "WHERE t <> '' AND t NOT IN (SELECT sw FROM fts_stopwords)")
    try:
        rows = con.execute(sql, [query]).fetchall()
    except duckdb.CatalogException:  # no index yet, or the extension not loaded in this connection
        if not index_exists(con):
            return []
        load_extension(con)
        rows = con.execute(sql, [query]).fetchall()
    return [r[0] for r in rows]


def query_terms(con: duckdb.DuckDBPyConnection, stems: list[str]) -> list[tuple[int, int]]:
    """(termid, document frequency) of the stems the index knows."""
    return con.execute(f"SELECT termid, df FROM {SCHEMA}.dict WHERE list_contains(?, term)", [stems]).fetchall()


def bm25_sql(terms: list[tuple[int, int]], tail: str) -> str:
    """A query returning (msg_id, score) best first for parameters (min terms, *filter args, limit).

    `terms` come from `query_terms`; they are written into the query as constants, so that the
    scan of the term list (sorted by termid at build) skips the row groups of other terms.
    Hits holding more of the query's terms come first, then by tier (typed text before tool traffic),
    then by BM25; a tool output's document stands for each message that printed it. `tail` (joins and a WHERE clause from `vault.index.search`) follows a
    join to messages `m`; without one, messages are not joined at all.
    """
    ids = ", ".join(str(int(t)) for t, _ in terms)
    values = ", ".join(f"({int(t)}, {int(df)})" for t, df in terms)
    return f"""
        WITH qt(termid, df) AS (VALUES {values}),
        tf AS (SELECT t.docid, t.termid, count(*) AS tf FROM {SCHEMA}.terms t
               WHERE t.termid IN ({ids}) GROUP BY ALL),
        sc AS (SELECT tf.docid,
                      sum(ln((st.num_docs - qt.df + 0.5) / (qt.df + 0.5) + 1)
                          * tf.tf * ({BM25_K} + 1)
                          / (tf.tf + {BM25_K} * (1 - {BM25_B} + {BM25_B} * d.len / st.avgdl))) AS score,
                      count(*) AS matched, any_value(d.tier) AS tier
               FROM tf JOIN qt USING (termid) JOIN {SCHEMA}.docs d USING (docid), {SCHEMA}.stats st
               GROUP BY tf.docid HAVING count(*) >= ?),
        hits AS (SELECT coalesce(r.msg_id, d.name) AS msg_id, sc.score, sc.matched, sc.tier
                 FROM sc JOIN {SCHEMA}.docs d USING (docid) LEFT JOIN fts_results r ON r.doc = d.name)
        SELECT h.msg_id, h.score
        FROM hits h
        {"JOIN messages m ON m.msg_id = h.msg_id " + tail if tail else ""}
        ORDER BY h.matched DESC, h.tier, h.score DESC, h.msg_id
        LIMIT ?
    """
