"""Full-text search: a BM25 index built by DuckDB's fts extension over the indexed messages.

The extension is loaded from the pinned `duckdb-extension-fts` package, never downloaded.
It indexes a table, not a view, so the indexed texts are staged in `fts_docs`, indexed,
then emptied (the index keeps its own term lists; snippets read `messages`). The index
cannot be updated in place: it is rebuilt when the content version moved.

Scoring runs the extension's BM25 formula as one set-based query over its tables
(the `match_bm25` macro evaluates per row, which is far slower on a large vault).
"""

from __future__ import annotations

import time

import duckdb

from vault import store
from vault.faults import crash_point
from vault.index.settings import indexed_kinds, searchable_sql
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


def load_extension(con: duckdb.DuckDBPyConnection, name: str = "fts") -> None:
    """Load a DuckDB extension from its pinned PyPI package (no download at run time)."""
    store.load_extension(con, name)


def index_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'docs'", [SCHEMA]
    ).fetchone()[0])


def needs_rebuild(con: duckdb.DuckDBPyConnection) -> bool:
    version = get_meta(con, "content_version", "0")
    kinds = ",".join(indexed_kinds(con))
    return (get_meta(con, META_VERSION) != version or get_meta(con, META_KINDS) != kinds
            or not index_exists(con))


def ensure_index(con: duckdb.DuckDBPyConnection, force: bool = False) -> dict | None:
    """Rebuild the BM25 index if content (or the indexed kinds) changed. Returns what it did, or None."""
    if not force and not needs_rebuild(con):
        return None
    t0 = time.perf_counter()
    load_extension(con)
    kinds = indexed_kinds(con)
    version = get_meta(con, "content_version", "0")
    con.execute("CREATE OR REPLACE TABLE fts_stopwords (sw VARCHAR)")
    con.executemany("INSERT INTO fts_stopwords VALUES (?)", [[w] for w in STOPWORDS])
    con.execute(
        f"CREATE OR REPLACE TABLE fts_docs AS SELECT m.msg_id, m.text FROM messages m WHERE {searchable_sql(kinds)}"
    )
    docs = con.execute("SELECT count(*) FROM fts_docs").fetchone()[0]
    con.execute(
        "PRAGMA create_fts_index('fts_docs', 'msg_id', 'text', overwrite=1, stemmer='porter', "
        f"stopwords='fts_stopwords', ignore='{IGNORE}', strip_accents=1, lower=1)"
    )
    crash_point("in-fts")  # built, but not yet recorded as built: the next run builds it again
    con.execute("DELETE FROM fts_docs")  # the index holds what it needs; the text lives in `messages`
    # Sorted by term, a query's terms sit in few row groups and the scan skips the rest.
    con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.terms AS SELECT * FROM {SCHEMA}.terms ORDER BY termid, docid")
    set_meta(con, META_VERSION, str(version))
    set_meta(con, META_KINDS, ",".join(kinds))
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
    `tail` (joins and a WHERE clause from `vault.index.search`) follows a join to messages `m`;
    without one, messages are not joined at all.
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
                          / (tf.tf + {BM25_K} * (1 - {BM25_B} + {BM25_B} * d.len / st.avgdl))) AS score
               FROM tf JOIN qt USING (termid) JOIN {SCHEMA}.docs d USING (docid), {SCHEMA}.stats st
               GROUP BY tf.docid HAVING count(*) >= ?)
        SELECT d.name AS msg_id, sc.score
        FROM sc JOIN {SCHEMA}.docs d USING (docid)
        {"JOIN messages m ON m.msg_id = d.name " + tail if tail else ""}
        ORDER BY sc.score DESC, d.name
        LIMIT ?
    """
