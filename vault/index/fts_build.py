"""Building and updating the keyword index (the query side is `vault.index.fts`).

The index has two segments, as search engines keep them:
- the main segment, `postings` (termid, docid, tier, tf, len, r, msg), sorted by term and, within a term, by
  `r`: the rank by (tier, the term's BM25 weight at the main segment's statistics, docid). Its docids
  are in the order of each document's first message, so equal scores go to the lower docid. `msg`: the
  message of a typed text's or a tool call's posting in its term's head (`HEAD_MSGS`), else NULL.
- the delta, `delta` (the same columns without `r`, with the document's first message `first`): the
  documents added since the main segment was written.
A change of the vault (`Ingester.finish` records the sessions it touched in `pending`) is applied by
`refresh`: the touched sessions' messages are staged again, and only the documents that differ are
removed (from either segment) and added (to the delta). When the delta passes MERGE_SHARE of the main
segment, both are merged into a new main segment (no text is tokenized again). A full build is the
same path from an empty index: every document added to the delta, then merged.

Scores are not stored: a posting holds the term frequency and the document's length, and a query
computes BM25 from the current statistics (`stats`: documents, total length; `dict.df`), all kept exact
by every update. So an updated index ranks exactly as one built from scratch (tested against a full
rebuild and against brute force).
"""

from __future__ import annotations

import time

import duckdb

from vault.faults import crash_point
from vault.index.settings import WHITESPACE_SQL, keyword_kinds, searchable_sql
from vault.kinds import Kind
from vault.schema import mark_content_version
from vault.sqlstring import sql_string, sql_strings
from vault.store import transaction

S = "fts_main_fts_docs"  # the index's schema (the name the fts extension gave it)
# A merge when the delta holds this share of the main segment's postings, or this share of the main
# segment's documents were removed or replaced since it was written. Until then a one-term query reads a
# little deeper into the main segment (the bound in `fts.best`) and the delta is scanned whole.
MERGE_SHARE = 0.125
STOPWORDS_TABLE = "fts_stopwords"
TOOL_CALL_SQL, TOOL_RESULT_SQL = sql_string(Kind.TOOL_CALL), sql_string(Kind.TOOL_RESULT)  # as SQL constants

# Characters of a tool's output indexed: its head and its tail (where a failure says what went wrong).
OUTPUT_HEAD, OUTPUT_TAIL = 1500, 500
ERROR_HEAD, ERROR_TAIL = 3000, 1000
# Tool-call arguments worth finding a call by (each cut to ARG_CHARS); code bodies (old_string...) are not.
ARG_KEYS = ("command", "cmd", "file_path", "path", "notebook_path", "pattern", "glob", "url", "query",
            "description")
ARG_CHARS = 500
# Ranking tiers: what a person typed or read first, then what the tools did (errors before output).
TEXT_TIER, TOOL_CALL_TIER, TOOL_ERROR_TIER, TOOL_OUTPUT_TIER = 0, 1, 2, 3
BM25_K, BM25_B = 1.2, 0.75
# A main-segment posting of a typed text or a tool call (one message each, the document named by it) ranked this high
# in its term (`r`) carries that message (`msg`; NULL otherwise, which costs nothing). A query's best `limit` documents
# sit at about r <= limit (r is the rank at the main segment's statistics, which move little before a merge): 64 covers
# the command's 20 and hybrid's 60. Deeper postings (and every tool output's: its messages change without its postings)
# are named through `doc_msgs`. On the 1 GB bench vault: 132,600 postings carry one, +7.25 MB (docs/search.md).
HEAD_MSGS = 64


def weight_sql(avgdl: str, p: str = "p") -> str:
    """The BM25 term-frequency part of a posting `p`'s weight at average length `avgdl` (a SQL expression)."""
    return (f"({p}.tf * {BM25_K + 1}::DOUBLE / ({p}.tf + {BM25_K}::DOUBLE * ({1 - BM25_B}::DOUBLE + "
            f"{BM25_B}::DOUBLE * {p}.len / {avgdl})))")


AVGDL = "(st.total_len::DOUBLE / st.num_docs)"  # over `stats st`: now
MAIN_AVGDL = "(st.main_len::DOUBLE / st.main_docs)"  # at which the main segment's `r` was computed


def idf_sql(df: str) -> str:
    return f"ln((st.num_docs - {df} + 0.5::DOUBLE) / ({df} + 0.5::DOUBLE) + 1)"


def literals(values) -> str:
    """SQL string constants (key lookups and filters measured faster with constants than with parameters or joins)."""
    return sql_strings(values)


# -- staging: the documents of some messages -----------------------------------------------------


def _bounded(head: int, tail: int) -> str:
    return (f"CASE WHEN length(m.text) <= {head + tail} THEN m.text "
            f"ELSE left(m.text, {head}) || ' … ' || right(m.text, {tail}) END")


STAGED_COLUMNS = ("msg_id", "session_id", "kind", "is_human", "is_error", "text")  # of `messages`, what `_stage` reads


def _stage(con: duckdb.DuckDBPyConnection, scope: str, messages: str = "messages",
           calls: list[str] | None = None) -> None:
    """Temp tables of what the messages in `scope` (a condition on `messages` `m`) make of the index:
    `_args(msg_id, args)`: the salient arguments of tool calls that their text (the summary line the parser
    wrote) does not already hold; `_docs(doc, text, tier)`: the documents (a tool output's tier here is
    that of these messages only); `_dmsgs(doc, msg_id, session_id, tier)`: each indexed message's document.
    `calls`: the tool-call messages of the scope, when the caller has them (a few sessions): matched as constants."""
    kinds = keyword_kinds(con)
    paths = "[" + ", ".join(f"'$.{k}'" for k in ARG_KEYS) + "]"
    # A call message's arguments: those of its tool calls, one list. A message has one call (every one of the 1 GB
    # bench vault's 83,056), whose list is taken as it is; only the messages of several are grouped. The `list()`
    # aggregate over every call of a full build was held in memory whole (DuckDB does not spill it): at 5 GB it ran
    # out of the build's 256 MB cap and the whole build started over under 1 GB (a peak of 1,445 MB). The count per
    # message is a fixed-size aggregate, which spills.
    args = f"list_transform(json_extract_string(input, {paths}), x -> left(x, {ARG_CHARS}))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _args AS
        SELECT msg_id, args FROM (
            SELECT m.msg_id, array_to_string(list_filter(a.args, x -> NOT contains(m.text, x)), ' ') AS args
            FROM {messages} m JOIN ({_call_args(con, args, messages, scope, calls)}) a ON a.call_msg_id = m.msg_id
            WHERE m.kind = {TOOL_CALL_SQL} AND {scope})
        WHERE args <> ''
        """
    )
    text_kinds = tuple(k for k in kinds if k not in (Kind.TOOL_CALL, Kind.TOOL_RESULT))
    nonempty = f"length(trim(m.text, {WHITESPACE_SQL})) > 0"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _dmsgs AS
        SELECT m.msg_id AS doc, m.msg_id, m.session_id, {TEXT_TIER}::TINYINT AS tier, m.text
        FROM {messages} m WHERE {searchable_sql(text_kinds)} AND {scope}
        UNION ALL
        SELECT m.msg_id, m.msg_id, m.session_id, {TOOL_CALL_TIER}::TINYINT, concat_ws(' ', m.text, a.args)
        FROM {messages} m LEFT JOIN _args a USING (msg_id)
        WHERE m.kind = {TOOL_CALL_SQL} AND {scope}
          AND length(trim(concat_ws(' ', m.text, a.args), {WHITESPACE_SQL})) > 0
        UNION ALL
        SELECT 'r:' || md5(text), msg_id, session_id, tier, text FROM (
            SELECT m.msg_id, m.session_id,
                   (CASE WHEN m.is_error THEN {TOOL_ERROR_TIER} ELSE {TOOL_OUTPUT_TIER} END)::TINYINT AS tier,
                   CASE WHEN m.is_error THEN {_bounded(ERROR_HEAD, ERROR_TAIL)}
                        ELSE {_bounded(OUTPUT_HEAD, OUTPUT_TAIL)} END AS text
            FROM {messages} m WHERE m.kind = {TOOL_RESULT_SQL} AND {nonempty} AND {scope})
        """
    )
    # Identical outputs are one document (named by their content hash): its text once.
    con.execute("""CREATE OR REPLACE TEMP TABLE _docs AS
                   SELECT doc, any_value(text) AS text, min(tier) AS tier FROM _dmsgs GROUP BY doc""")
    con.execute("ALTER TABLE _dmsgs DROP COLUMN text")


CALLS_BY_ROWID = 4096  # call messages up to which `_call_args` finds their calls' rows first, then reads them by rowid


def _call_args(con: duckdb.DuckDBPyConnection, args: str, messages: str, scope: str, calls: list[str] | None) -> str:
    """A query of (call_msg_id, args) for the tool calls of the call messages in `scope` (`calls`: those messages, when
    the caller has them), `args` one list per message (the calls of a message of several grouped)."""
    if calls is not None and len(calls) <= CALLS_BY_ROWID:
        # Found once by `call_msg_id` (constants: the scan of that column is a filter), then read by their rowids as
        # constants: DuckDB fetches those rows alone. The same query with the rowids as a subquery read `tool_calls`
        # three more times (a new session of the 1 GB bench vault: ~10 ms more CPU, cold).
        found = con.execute(f"SELECT rowid, call_msg_id FROM tool_calls WHERE call_msg_id IN ({literals(calls)})"
                            ).fetchall() if calls else []
        per_msg: dict[str, int] = {}
        for _, msg in found:
            per_msg[msg] = per_msg.get(msg, 0) + 1
        one = ", ".join(str(int(r)) for r, msg in found if per_msg[msg] == 1) or "NULL"
        several = ", ".join(str(int(r)) for r, msg in found if per_msg[msg] > 1) or "NULL"
        return f"""SELECT call_msg_id, {args} AS args FROM tool_calls WHERE rowid IN ({one})
                   UNION ALL
                   SELECT call_msg_id, flatten(list({args})) AS args FROM tool_calls WHERE rowid IN ({several})
                   GROUP BY call_msg_id"""
    # The calls are found by rowid: matched on `call_msg_id`, DuckDB read every call's `input` (0.13 s CPU for one
    # session on the 1 GB vault); the rowids of a session's calls are close together, and DuckDB skips the rest.
    # Named as constants, the scan of every call's `call_msg_id` is a filter (a join with the scope: 15 ms, 7 ms so).
    wanted = (f"({literals(calls)})" if calls else "(NULL)") if calls is not None else (
        f"(SELECT m.msg_id FROM {messages} m WHERE m.kind = {TOOL_CALL_SQL} AND {scope})")
    return f"""WITH calls AS (
            SELECT rowid AS rid FROM tool_calls WHERE call_msg_id IN {wanted}),
        several AS (
            SELECT call_msg_id FROM tool_calls WHERE call_msg_id IS NOT NULL AND rowid IN (SELECT rid FROM calls)
            GROUP BY call_msg_id HAVING count(*) > 1)
        SELECT call_msg_id, {args} AS args
        FROM tool_calls WHERE call_msg_id IS NOT NULL AND rowid IN (SELECT rid FROM calls)
          AND call_msg_id NOT IN (SELECT call_msg_id FROM several)
        UNION ALL
        SELECT call_msg_id, flatten(list({args})) AS args
        FROM tool_calls WHERE call_msg_id IN (SELECT call_msg_id FROM several)
          AND rowid IN (SELECT rid FROM calls)
        GROUP BY call_msg_id"""


# -- the index's tables ----------------------------------------------------------------------------


def _create_empty(con: duckdb.DuckDBPyConnection, stopwords: list[str], ignore: str) -> None:
    con.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
    con.execute(f"CREATE SCHEMA {S}")
    # The tokenizer of DuckDB's fts extension (its `create_fts_index` with these options), kept as a macro
    # for the query side; `stem` is the extension's.
    con.execute(f"CREATE MACRO {S}.tokenize(s) AS string_split_regex(regexp_replace(lower(strip_accents("
                f"CAST(s AS VARCHAR))), {sql_string(ignore)}, ' ', 'g'), '\\s+')")
    con.execute(f"CREATE OR REPLACE TABLE {STOPWORDS_TABLE} (sw VARCHAR)")
    con.executemany(f"INSERT INTO {STOPWORDS_TABLE} VALUES (?)", [[w] for w in stopwords])
    con.execute(f"""
        CREATE TABLE {S}.dict (termid BIGINT, term VARCHAR, df BIGINT);
        CREATE TABLE {S}.docs (docid BIGINT, name VARCHAR, len INTEGER, tier TINYINT, hash UBIGINT);
        CREATE TABLE {S}.postings (termid BIGINT, docid BIGINT, tier TINYINT, tf INTEGER, len INTEGER, r INTEGER,
                                   msg VARCHAR);
        CREATE TABLE {S}.delta (termid BIGINT, docid BIGINT, tier TINYINT, tf INTEGER, len INTEGER, first VARCHAR);
        CREATE TABLE {S}.doc_msgs (docid BIGINT, msg_id VARCHAR, n INTEGER, session_id VARCHAR, tier TINYINT);
        CREATE TABLE {S}.stats (num_docs BIGINT, total_len BIGINT, main_docs BIGINT, main_len BIGINT,
                                main_rows BIGINT, main_gone BIGINT, delta_rows BIGINT, next_docid BIGINT);
        INSERT INTO {S}.stats VALUES (0, 0, 0, 0, 0, 0, 0, 1);
        CREATE TABLE {S}.pending (session_id VARCHAR);
        CREATE TABLE {FINGERPRINTS} {FINGERPRINT_COLUMNS};
        CREATE OR REPLACE TABLE fts_call_args (msg_id VARCHAR, args VARCHAR);
        CREATE OR REPLACE TABLE fts_results (doc VARCHAR, msg_id VARCHAR);
        DROP TABLE IF EXISTS fts_docs;
    """)


TOKENIZE_DOCS = 32_768  # documents tokenized and counted at once by a full build (`_tokenize`)


def _tokenize(con: duckdb.DuckDBPyConnection, docs: str, python_stems: bool = False) -> None:
    """`_tf(doc, term, tf)` of the documents in the table `docs(doc, text)`: the fts extension's
    tokenizer (stopwords out before stemming, as its index does). `python_stems`: the words stemmed by
    `vault.index.stem.porter` (the same libstemmer Porter stemmer, tested identical) instead of the extension's
    `stem`, which then needs no loading (0.04 s CPU, 0.1-0.2 s wall of a small update); a full build keeps the
    extension's: its words go through in one pass."""
    def words(part: str = "") -> str:
        return f"""SELECT doc, w FROM (SELECT doc, unnest({S}.tokenize(text)) AS w FROM {docs} {part})
                   WHERE w IS NOT NULL AND len(w) > 0 AND w NOT IN (SELECT sw FROM {STOPWORDS_TABLE})"""

    if not python_stems:
        # In parts of TOKENIZE_DOCS documents (by a hash of the name: a document's words all in one part): the count
        # of every (document, word) of the 1 GB bench vault at once ran out of 150 MB (a whole build's autocommitted
        # statements), where the build's cap is 256 MB at any size. The rows are the same; their order is not read.
        n = int(con.execute(f"SELECT count(*) FROM {docs}").fetchone()[0])
        parts = max(1, -(-n // TOKENIZE_DOCS))
        for i in range(parts):
            part = f"WHERE hash(doc) % {parts} = {i}" if parts > 1 else ""
            head = "CREATE OR REPLACE TEMP TABLE _tf AS" if i == 0 else "INSERT INTO _tf"
            con.execute(f"""{head}
                            SELECT doc, stem(w, 'porter') AS term, count(*)::INTEGER AS tf FROM ({words(part)})
                            GROUP BY doc, term""")
        return
    import pyarrow as pa

    from vault.index.stem import porter

    con.execute(f"CREATE OR REPLACE TEMP TABLE _words AS {words()}")
    distinct = [r[0] for r in con.execute("SELECT DISTINCT w FROM _words").fetchall()]
    con.register("_stems", pa.table({"w": pa.array(distinct, pa.string()), "term": pa.array(porter(distinct), pa.string())}))
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE _tf AS
                       SELECT doc, term, count(*)::INTEGER AS tf FROM _words JOIN _stems USING (w) GROUP BY doc, term""")
    finally:
        con.unregister("_stems")
    con.execute("DROP TABLE _words")


# The index's tables a full build writes its documents to before `_place` merges them (see `build`), by name in
# the index (`_add`, `_place` read these; an update names the index's own).
INDEX_TABLES = {"docs": f"{S}.docs", "delta": f"{S}.delta", "doc_msgs": f"{S}.doc_msgs"}
STAGED_TABLES = {"docs": "_bdocs", "delta": "_bdelta", "doc_msgs": "_bdoc_msgs"}


def _add(con: duckdb.DuckDBPyConnection, python_stems: bool = False, into: dict[str, str] = INDEX_TABLES) -> int:
    """Add the documents of `_add(doc, text, tier, first)` to the delta (their messages: `_members`); `into`: the
    tables written for the index's docs, delta and doc_msgs."""
    _tokenize(con, "_add", python_stems)
    con.execute(f"""
        INSERT INTO {S}.dict
        SELECT (SELECT coalesce(max(termid), -1) FROM {S}.dict) + row_number() OVER (ORDER BY term), term, 0
        FROM (SELECT DISTINCT term FROM _tf WHERE term NOT IN (SELECT term FROM {S}.dict))""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT (SELECT next_docid FROM {S}.stats) - 1 + row_number() OVER (ORDER BY a.first, a.doc) AS docid,
               a.doc AS name, coalesce(l.len, 0)::INTEGER AS len, a.tier, hash(a.text) AS hash, a.first
        FROM _add a LEFT JOIN (SELECT doc, sum(tf) AS len FROM _tf GROUP BY doc) l USING (doc)""")
    con.execute(f"INSERT INTO {into['docs']} SELECT docid, name, len, tier, hash FROM _new")
    con.execute(f"""
        INSERT INTO {into['delta']}
        SELECT d.termid, n.docid, n.tier, t.tf, n.len, n.first
        FROM _tf t JOIN _new n ON n.name = t.doc JOIN {S}.dict d USING (term)""")
    con.execute(f"""
        UPDATE {S}.dict SET df = dict.df + c.n
        FROM (SELECT term, count(*) AS n FROM _tf GROUP BY term) c WHERE dict.term = c.term""")
    con.execute(f"""
        INSERT INTO {into['doc_msgs']}
        SELECT n.docid, m.msg_id, row_number() OVER (PARTITION BY n.docid ORDER BY m.msg_id)::INTEGER,
               m.session_id, m.tier
        FROM _members m JOIN _new n ON n.name = m.doc""")
    con.execute(f"""
        UPDATE {S}.stats SET num_docs = num_docs + a.n, total_len = total_len + a.len,
                             next_docid = next_docid + a.n
        FROM (SELECT count(*) AS n, coalesce(sum(len), 0) AS len FROM _new) a""")
    return int(con.execute("SELECT count(*) FROM _new").fetchone()[0])


def _place(con: duckdb.DuckDBPyConnection, source: dict[str, str] = INDEX_TABLES) -> None:
    """Merge the delta into a new main segment: documents renumbered in the order of their first message,
    `r` ranked at the current statistics, the delta emptied. `source`: the tables holding the docs, delta and
    doc_msgs to merge (a full build's staged ones: then dropped)."""
    docs, delta, doc_msgs = source["docs"], source["delta"], source["doc_msgs"]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _renumber AS
        SELECT docid AS old, row_number() OVER (ORDER BY msg_id) AS docid FROM {doc_msgs} WHERE n = 1""")
    con.execute(f"""
        CREATE OR REPLACE TABLE {S}.docs AS
        SELECT r.docid, d.name, d.len, d.tier, d.hash FROM {docs} d JOIN _renumber r ON r.old = d.docid
        ORDER BY r.docid""")
    con.execute(f"""
        CREATE OR REPLACE TABLE {S}.doc_msgs AS
        SELECT r.docid, m.msg_id, m.n, m.session_id, m.tier
        FROM {doc_msgs} m JOIN _renumber r ON r.old = m.docid ORDER BY r.docid, m.n""")
    con.execute(f"CREATE INDEX doc_msgs_docid ON {S}.doc_msgs (docid)")
    con.execute(f"UPDATE {S}.stats SET main_docs = num_docs, main_len = total_len, main_gone = 0")
    # Sorted by term (a query's terms sit in few row groups), then best first: `r` is the rank within the
    # term, so a one-term query reads its head.
    # A typed text's or a tool call's posting in the head of its term (`r <= HEAD_MSGS`) carries the document's message
    # (its name): a one-term query names its best messages from the postings it reads, without `doc_msgs`.
    con.execute(f"""
        CREATE OR REPLACE TABLE {S}.postings AS
        SELECT p.termid, p.docid, p.tier, p.tf, p.len, p.r,
               CASE WHEN p.tier <= {TOOL_CALL_TIER} AND p.r <= {HEAD_MSGS} THEN d.name END AS msg
        FROM (SELECT termid, docid, tier, tf, len,
                     row_number() OVER (PARTITION BY termid ORDER BY tier, g DESC, docid)::INTEGER AS r
              FROM (SELECT p.termid, r.docid, p.tier, p.tf, p.len, {weight_sql(MAIN_AVGDL)} AS g
                    FROM (SELECT termid, docid, tier, tf, len FROM {S}.postings
                          UNION ALL SELECT termid, docid, tier, tf, len FROM {delta}) p
                    JOIN _renumber r ON r.old = p.docid, {S}.stats st)) p
        JOIN {S}.docs d ON d.docid = p.docid
        ORDER BY p.termid, p.r""")
    if source is INDEX_TABLES:
        con.execute(f"DELETE FROM {S}.delta")
    else:
        for t in source.values():
            con.execute(f"DROP TABLE {t}")
    con.execute(f"""UPDATE {S}.stats SET main_rows = (SELECT count(*) FROM {S}.postings), delta_rows = 0,
                    next_docid = (SELECT coalesce(max(docid), 0) + 1 FROM {S}.docs)""")
    con.execute("DROP TABLE _renumber")


def build(con: duckdb.DuckDBPyConnection, stopwords: list[str], ignore: str) -> int:
    """The whole index from the messages: every document added to an empty index, then merged."""
    _create_empty(con, stopwords, ignore)
    _stage(con, "true")
    con.execute("INSERT INTO fts_call_args SELECT * FROM _args ORDER BY msg_id")
    # Hits read it by key. Not UNIQUE, nor `dict_term`, nor a key on `pending`: DuckDB 1.5.5 refused a key deleted
    # and inserted again in one transaction here ("Duplicate key ... violates unique constraint") when an earlier
    # transaction had done the same; every update does that. Each holds one row per key by construction.
    con.execute("CREATE INDEX fts_call_args_msg ON fts_call_args (msg_id)")
    con.execute(f"INSERT INTO fts_results SELECT doc, msg_id FROM _dmsgs WHERE tier >= {TOOL_ERROR_TIER} ORDER BY doc")
    _fingerprint_rows(con)
    con.execute(f"INSERT INTO {FINGERPRINTS} SELECT session_id, count(*), bit_xor(h) FROM _fp GROUP BY session_id")
    con.execute("CREATE OR REPLACE TEMP TABLE _members AS SELECT * FROM _dmsgs")
    con.execute("""CREATE OR REPLACE TEMP TABLE _add AS
                   SELECT d.doc, d.text, d.tier, f.first FROM _docs d
                   JOIN (SELECT doc, min(msg_id) AS first FROM _dmsgs GROUP BY doc) f USING (doc)""")
    # The documents staged in temp tables (in memory, spilled past the cap to DuckDB's temporary files), merged by
    # `_place` into the index's tables: each written once in the vault. Added to the index's own delta, docs and
    # doc_msgs, all three were written to the file by the build's automatic checkpoints and then replaced, leaving
    # their blocks free (docs/storage.md, "Free blocks").
    for name, table in STAGED_TABLES.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {INDEX_TABLES[name]} LIMIT 0")
    n = _add(con, into=STAGED_TABLES)
    crash_point("in-fts")  # built, but not yet merged nor recorded as built: the next run builds it again
    _place(con, STAGED_TABLES)
    con.execute(f"CREATE INDEX dict_term ON {S}.dict (term)")  # `lookup` reads it by term
    _drop_temps(con)
    return n


TEMPS = ("_args", "_dmsgs", "_docs", "_members", "_add", "_tf", "_new", "_dirty", "_old", "_del", "_move", "_out",
         "_outs", "_keep", "_scope", "_fp", "_held", "_newm", "_om", "_now", "_gained", *STAGED_TABLES.values())


def _drop_temps(con: duckdb.DuckDBPyConnection) -> None:
    # (Dropping only those a query finds made cost as much: the query ~2-3 ms, the drops ~0.2 ms each.)
    for t in TEMPS:
        con.execute(f"DROP TABLE IF EXISTS {t}")


# -- updates ---------------------------------------------------------------------------------------


def note_changes(con: duckdb.DuckDBPyConnection) -> None:
    """Record the sessions an ingest touched (`pending_sessions`), in its transaction, for `refresh`;
    nothing without an index of this layout (the next build reads everything)."""
    if con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE schema_name = {sql_string(S)} AND table_name = "
                   "'pending' AND database_name = current_database()").fetchone()[0]:  # constants: a parameter cost ~1.5 ms
        con.execute(f"INSERT INTO {S}.pending SELECT session_id FROM pending_sessions "
                    f"WHERE session_id NOT IN (SELECT session_id FROM {S}.pending)")


def refresh(con: duckdb.DuckDBPyConnection) -> dict:
    """Bring the index up to date with the sessions recorded as changed; one transaction.

    When the messages the index holds for those sessions still make the same documents (their fingerprints,
    `_unchanged_held`), only the messages it does not hold yet are added (`_append`: a session grown, a new one);
    otherwise the sessions' documents are compared with the index's (`_diff`, `_apply`)."""
    t0 = time.perf_counter()
    with transaction(con):
        # The sessions as a list; the `_dirty` table only where `_diff` and `_apply` join with it (~3 ms CPU saved
        # on an append).
        dirty = sorted(r[0] for r in con.execute(
            f"SELECT session_id FROM {S}.pending UNION SELECT session_id FROM pending_sessions").fetchall())
        trusted = _fingerprints_trusted(con)
        # The dirty sessions' messages first, then the rest from them: the conditions on the text (`_stage`) ran on
        # every message when the sessions lay apart in the table (five sessions: 1.8 s of CPU on the 1 GB vault).
        # Only the columns `_stage` reads: the others (`extra` above all) cost their blocks' reading in a fresh process.
        # The sessions as constants: a filter in the scan, not a join (the same for the index's rows below).
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _scope AS
                        SELECT {", ".join(STAGED_COLUMNS)} FROM messages
                        WHERE {f"session_id IN ({literals(dirty)})" if dirty else "false"}""")
        calls = [r[0] for r in con.execute(f"SELECT msg_id FROM _scope WHERE kind = {TOOL_CALL_SQL}").fetchall()]
        _stage(con, "true", "_scope", calls=calls)
        _fingerprint_rows(con)
        appended = _append(con, dirty) if trusted and _unchanged_held(con, dirty) else None
        if appended is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _dirty AS SELECT session_id FROM {_sessions_sql(dirty)}")
            removed, moved = _diff(con)
            added = _apply(con, removed, moved)
        else:
            (added, moved), removed = appended, 0
        _record_fingerprints(con, dirty)
        con.execute(f"DELETE FROM {S}.pending")
        merged = _maybe_merge(con)
        crash_point("in-fts")  # updated, not committed: the next run updates it again
        # The content version the index and its fingerprints now describe (one statement: a read and two
        # `set_meta`s cost ~3 ms CPU).
        mark_content_version(con, "fts_built_at_version", META_FINGERPRINTS)
        _drop_temps(con)
    return {"fts_sessions": len(dirty), "fts_added": added, "fts_removed": removed, "fts_moved": moved,
            "fts_merged": merged, "fts_appended": appended is not None,
            "fts_seconds": round(time.perf_counter() - t0, 3)}


# -- what the index holds of each session: its fingerprint ------------------------------------------
# Per session, the number of its indexed messages and the XOR of a hash of what each makes of the index (its
# document's name and text hash, tier, session, a call's arguments). Written with every update of a session and
# by a build, in their transaction; trusted only when no other code updated the index since (META_FINGERPRINTS: the
# content version they were written at, which must be the index's, `fts_built_at_version`). An index without the
# table (built by an earlier version of this layout) gets it empty: its sessions take `_diff` once each.
FINGERPRINTS = f"{S}.session_fp"
FINGERPRINT_COLUMNS = "(session_id VARCHAR, n BIGINT, x UBIGINT)"
META_FINGERPRINTS = "fts_fp_at_version"


def _fingerprints_trusted(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the stored fingerprints describe the index; if not, they are dropped (each session's is written
    again by its next update)."""
    fp_at, built, exists = con.execute(  # constants: no parameter for DuckDB to probe
        f"SELECT (SELECT value FROM meta WHERE key = {sql_string(META_FINGERPRINTS)}), "
        "(SELECT value FROM meta WHERE key = 'fts_built_at_version'), "
        f"EXISTS (SELECT 1 FROM duckdb_tables() WHERE schema_name = {sql_string(S)} AND table_name = 'session_fp' "
        "AND database_name = current_database())").fetchone()
    if exists and fp_at is not None and fp_at == built:
        return True
    con.execute(f"CREATE TABLE IF NOT EXISTS {FINGERPRINTS} {FINGERPRINT_COLUMNS}")
    con.execute(f"DELETE FROM {FINGERPRINTS}")
    return False


def _fingerprint_rows(con: duckdb.DuckDBPyConnection) -> None:
    """`_fp(msg_id, session_id, h)`: each staged message's hash of what it makes of the index (after `_stage`)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _fp AS
                   SELECT m.msg_id, m.session_id, hash(m.msg_id, m.session_id, m.tier, m.doc, d.th, a.args) AS h
                   FROM _dmsgs m JOIN (SELECT doc, hash(text) AS th FROM _docs) d USING (doc)
                   LEFT JOIN _args a USING (msg_id)""")


def _sessions_sql(dirty: list[str]) -> str:
    return f"(SELECT unnest([{literals(dirty)}]::VARCHAR[]) AS session_id)"


def _record_fingerprints(con: duckdb.DuckDBPyConnection, dirty: list[str]) -> None:
    if not dirty:
        return
    con.execute(f"DELETE FROM {FINGERPRINTS} WHERE session_id IN ({literals(dirty)})")
    con.execute(f"""INSERT INTO {FINGERPRINTS}
                    SELECT s.session_id, count(f.msg_id), coalesce(bit_xor(f.h), 0)
                    FROM {_sessions_sql(dirty)} s LEFT JOIN _fp f USING (session_id) GROUP BY s.session_id""")


def _unchanged_held(con: duckdb.DuckDBPyConnection, dirty: list[str]) -> bool:
    """Whether the messages the index holds for the dirty sessions (`_held`) are all still staged, and make what
    they made when it last took each session (its fingerprint: as many, the same hash)."""
    if not dirty:
        return False
    stored: dict[str, list[tuple[int, int]]] = {}
    for sid, n, x in con.execute(f"SELECT session_id, n, x FROM {FINGERPRINTS} WHERE session_id IN ({literals(dirty)})"
                                 ).fetchall():
        stored.setdefault(sid, []).append((n or 0, x or 0))
    if not sum(n for rows in stored.values() for n, _ in rows):
        # Trusted fingerprints count every message the index holds of a session: none of these (new sessions). The
        # scan of every `doc_msgs` row's session below cost a new session ~10 ms of CPU on the 1 GB vault.
        con.execute("CREATE OR REPLACE TEMP TABLE _held (docid BIGINT, msg_id VARCHAR, session_id VARCHAR)")
        return True
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _held AS
                    SELECT docid, msg_id, session_id FROM {S}.doc_msgs WHERE session_id IN ({literals(dirty)})""")
    # Per session: the messages held (`h`), and the staged ones among them with the XOR of their hashes (`o`),
    # compared here with the stored fingerprint (a join of the three in SQL cost ~7 ms of CPU to plan and run).
    held: dict[str, int] = {}
    staged: dict[str, tuple[int, int]] = {}
    for which, sid, n, x in con.execute(
            """SELECT 'h', session_id, count(*), 0::UBIGINT FROM _held GROUP BY session_id
               UNION ALL SELECT 'o', session_id, count(*), bit_xor(h) FROM _fp
               WHERE msg_id IN (SELECT msg_id FROM _held) GROUP BY session_id""").fetchall():
        if which == "h":
            held[sid] = n
        else:
            staged[sid] = (n, x or 0)
    for sid in dirty:
        h = held.get(sid, 0)
        o_n, o_x = staged.get(sid, (0, 0))
        for f_n, f_x in stored.get(sid, [(0, 0)]):
            if f_n != h or o_n != h or o_x != f_x:
                return False
    return True


def _append(con: duckdb.DuckDBPyConnection, dirty: list[str]) -> tuple[int, int] | None:
    """Add the staged messages the index does not hold (`_newm`), when nothing it holds of the dirty sessions changed
    (`_unchanged_held`): new documents to the delta, and a tool output that other messages printed already gains
    them (moved to the delta if its tier or first message changes). Reads the index's rows of those documents only,
    by constants; no posting is removed. Returns (documents added, moved), or None when a new message's document
    turns out to be held elsewhere (a message that changed session): then nothing was written."""
    con.execute("CREATE OR REPLACE TEMP TABLE _newm AS SELECT * FROM _dmsgs WHERE msg_id NOT IN (SELECT msg_id FROM _held)")
    names = [r[0] for r in con.execute("SELECT DISTINCT doc FROM _newm").fetchall()]
    # One read of `docs` (by name, as constants): a second one by docid cost a new session ~15 ms of CPU.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _out AS SELECT docid, name, tier FROM {S}.docs
                    WHERE {f"name IN ({literals(names)})" if names else "false"}""")
    found = con.execute("SELECT docid, tier FROM _out").fetchall()
    if any(tier <= TOOL_CALL_TIER for _, tier in found):  # a message's own document held under another session
        return None
    ids = ", ".join(str(int(d)) for d, _ in found) or "NULL"
    # The outputs' messages held now (any session), by their docids (a filter): their ids only. A common output is
    # printed by thousands of messages (15,586 for a new session of the 1 GB vault): they keep their rows, and only
    # those after a new one in msg_id order get a new `n` (below). A document's tier is its messages' lowest, and its
    # first message the one of `n` = 1.
    # With their rowids: `_gain` renumbers them by rowid (a join on (docid, msg_id) cost its UPDATE ~15 ms of CPU for a
    # new session of the 1 GB bench vault, ~7 by rowid; the rows stay where they are within this transaction).
    con.execute(f"CREATE OR REPLACE TEMP TABLE _om AS "
                f"SELECT rowid AS rid, docid, msg_id, n FROM {S}.doc_msgs WHERE docid IN ({ids})")
    if con.execute("SELECT count(*) FROM _om WHERE msg_id IN (SELECT msg_id FROM _newm)").fetchone()[0]:
        return None  # a new message already among an output's messages: held under another session
    con.execute("""CREATE OR REPLACE TEMP TABLE _now AS
                   SELECT doc, min(tier) AS tier, min(first) AS first FROM (
                       SELECT doc, tier, msg_id AS first FROM _newm
                       UNION ALL SELECT o.name, o.tier, m.msg_id FROM _out o JOIN _om m ON m.docid = o.docid AND m.n = 1)
                   GROUP BY doc""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _move AS
                   SELECT o.docid, n.tier, n.first FROM _out o JOIN _now n ON n.doc = o.name
                   JOIN _om f ON f.docid = o.docid AND f.n = 1
                   WHERE n.tier <> o.tier OR n.first <> f.msg_id""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _add AS
                   SELECT d.doc, d.text, n.tier, n.first FROM _docs d JOIN _now n USING (doc)
                   WHERE d.doc NOT IN (SELECT name FROM _out)""")
    con.execute("CREATE OR REPLACE TEMP TABLE _members AS SELECT doc, msg_id, session_id, tier FROM _newm")
    moved = int(con.execute("SELECT count(*) FROM _move").fetchone()[0])
    if moved:
        con.execute("CREATE OR REPLACE TEMP TABLE _del (docid BIGINT)")
        _remove(con)
    if found:
        _gain(con)
    added = _add(con, python_stems=True)
    con.execute(f"UPDATE {S}.stats SET delta_rows = (SELECT count(*) FROM {S}.delta)")
    con.execute("INSERT INTO fts_call_args SELECT * FROM _args WHERE msg_id IN (SELECT msg_id FROM _newm)")
    con.execute(f"INSERT INTO fts_results SELECT doc, msg_id FROM _newm WHERE tier >= {TOOL_ERROR_TIER}")
    return added, moved


def _gain(con: duckdb.DuckDBPyConnection) -> None:
    """The held outputs `_out` (their messages: `_om`, with rowids) gain their new messages (`_newm`): each held message
    moves down by the new ones before it in msg_id order, each new one takes its place among them (`n` numbers a
    document's messages in msg_id order from 1, as a rewrite of them all would)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _gained AS
                   SELECT o.docid, m.msg_id, m.session_id, m.tier FROM _newm m JOIN _out o ON o.name = m.doc""")
    con.execute(f"""UPDATE {S}.doc_msgs SET n = doc_msgs.n + s.k
                    FROM (SELECT m.rid, count(*) AS k FROM _om m
                          JOIN _gained g ON g.docid = m.docid AND g.msg_id < m.msg_id GROUP BY m.rid) s
                    WHERE doc_msgs.rowid = s.rid""")
    con.execute(f"""INSERT INTO {S}.doc_msgs
                    SELECT g.docid, g.msg_id,
                           (coalesce(b.k, 0) + row_number() OVER (PARTITION BY g.docid ORDER BY g.msg_id))::INTEGER,
                           g.session_id, g.tier
                    FROM _gained g LEFT JOIN (
                        SELECT g.docid, g.msg_id, count(*) AS k FROM _gained g
                        JOIN _om m ON m.docid = g.docid AND m.msg_id < g.msg_id GROUP BY g.docid, g.msg_id
                    ) b USING (docid, msg_id)""")


def _diff(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Compare what the index holds for the dirty sessions with what they make now. Fills `_del(docid)`
    (documents to remove), `_move(docid, tier, first)` (tool outputs kept whose tier or first message
    changed: moved to the delta), `_add`/`_members` (documents to add, and the messages of those and of
    every tool output whose messages changed), `_out(docid)` (tool outputs whose messages are rewritten) and
    `_outs(docid)` (every tool output of the dirty sessions the index holds: those not in `_out` are kept)."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _old AS
                    SELECT dm.docid, dm.msg_id, dm.session_id, dm.tier, d.name, d.hash, d.tier AS doc_tier
                    FROM {S}.doc_msgs dm JOIN {S}.docs d USING (docid)
                    WHERE dm.session_id IN (SELECT session_id FROM _dirty)""")
    # Typed text and tool calls: one message each, named by it; kept when its text, tier and session are.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _keep AS
                    SELECT o.docid, o.name FROM _old o JOIN _docs d ON d.doc = o.name JOIN _dmsgs m ON m.doc = d.doc
                    WHERE o.doc_tier <= {TOOL_CALL_TIER} AND d.tier = o.doc_tier AND hash(d.text) = o.hash
                      AND m.session_id = o.session_id""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _del AS
                    SELECT docid FROM _old WHERE doc_tier <= {TOOL_CALL_TIER} AND docid NOT IN (SELECT docid FROM _keep)
                    UNION
                    SELECT docid FROM {S}.docs WHERE tier <= {TOOL_CALL_TIER} AND name IN (
                        SELECT doc FROM _docs WHERE tier <= {TOOL_CALL_TIER} AND doc NOT IN (SELECT name FROM _keep))""")
    # Tool outputs: shared by messages of any session (`_outs`: those of the dirty sessions that the index holds).
    # Those whose messages in the dirty sessions changed (`_out`) are rewritten: their messages now are those of
    # other sessions and the dirty sessions' new ones. The others keep their rows: a session grown by a turn
    # keeps its outputs, and rewriting them all rewrote every message of each (13,821 rows for one session of the
    # 1 GB vault, whose common outputs are shared by thousands of messages).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _outs AS
                    SELECT docid, name, tier FROM {S}.docs WHERE tier >= {TOOL_ERROR_TIER} AND (
                        docid IN (SELECT docid FROM _old WHERE doc_tier >= {TOOL_ERROR_TIER})
                        OR name IN (SELECT doc FROM _docs WHERE tier >= {TOOL_ERROR_TIER}))""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _out AS
                    SELECT * FROM _outs WHERE name IN (
                        SELECT coalesce(a.name, b.doc) FROM
                            (SELECT name, msg_id, session_id, tier FROM _old WHERE doc_tier >= {TOOL_ERROR_TIER}) a
                            FULL OUTER JOIN (SELECT doc, msg_id, session_id, tier FROM _dmsgs
                                             WHERE tier >= {TOOL_ERROR_TIER}) b
                            ON a.name = b.doc AND a.msg_id = b.msg_id AND a.session_id = b.session_id AND a.tier = b.tier
                        WHERE a.name IS NULL OR b.doc IS NULL)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _members AS
                    SELECT o.name AS doc, dm.msg_id, dm.session_id, dm.tier
                    FROM {S}.doc_msgs dm JOIN _out o USING (docid)
                    WHERE dm.session_id NOT IN (SELECT session_id FROM _dirty)
                    UNION ALL
                    SELECT doc, msg_id, session_id, tier FROM _dmsgs
                    WHERE tier >= {TOOL_ERROR_TIER} OR doc NOT IN (SELECT name FROM _keep)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _now AS
                   SELECT doc, min(tier) AS tier, min(msg_id) AS first FROM _members GROUP BY doc""")
    con.execute(f"""INSERT INTO _del SELECT docid FROM _out WHERE name NOT IN (SELECT doc FROM _now)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _move AS
                    SELECT o.docid, n.tier, n.first FROM _out o JOIN _now n ON n.doc = o.name
                    JOIN {S}.doc_msgs f ON f.docid = o.docid AND f.n = 1
                    WHERE n.tier <> o.tier OR n.first <> f.msg_id""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _add AS
                    SELECT d.doc, d.text, n.tier, n.first FROM _docs d JOIN _now n USING (doc)
                    WHERE d.doc NOT IN (SELECT name FROM _keep) AND d.doc NOT IN (SELECT name FROM _outs)""")
    con.execute("DROP TABLE _now")
    return (int(con.execute("SELECT count(*) FROM _del").fetchone()[0]),
            int(con.execute("SELECT count(*) FROM _move").fetchone()[0]))


def _remove(con: duckdb.DuckDBPyConnection) -> None:
    """The postings of `_del` out of either segment, those of `_move` moved to the delta; the statistics follow."""
    gone = "(SELECT docid FROM _del UNION ALL SELECT docid FROM _move)"
    rows = f"""(SELECT termid, docid, tf, len, true AS main FROM {S}.postings WHERE docid IN {gone}
                UNION ALL SELECT termid, docid, tf, len, false FROM {S}.delta WHERE docid IN {gone})"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rows AS SELECT * FROM {rows}")
    in_main = con.execute("SELECT count(DISTINCT docid) FROM _rows WHERE main").fetchone()[0]
    con.execute(f"""UPDATE {S}.dict SET df = dict.df - c.n
                    FROM (SELECT termid, count(*) AS n FROM _rows WHERE docid IN (SELECT docid FROM _del)
                          GROUP BY termid) c WHERE dict.termid = c.termid""")
    con.execute(f"""UPDATE {S}.stats SET num_docs = num_docs - d.n, total_len = total_len - d.len,
                                         main_gone = main_gone + {int(in_main)}
                    FROM (SELECT count(*) AS n, coalesce(sum(len), 0) AS len FROM {S}.docs
                          WHERE docid IN (SELECT docid FROM _del)) d""")
    con.execute(f"DELETE FROM {S}.postings WHERE docid IN {gone}")
    con.execute(f"DELETE FROM {S}.delta WHERE docid IN {gone}")
    con.execute(f"""INSERT INTO {S}.delta SELECT r.termid, r.docid, m.tier, r.tf, r.len, m.first
                    FROM _rows r JOIN _move m USING (docid)""")
    con.execute(f"UPDATE {S}.docs SET tier = m.tier FROM _move m WHERE docs.docid = m.docid")
    con.execute(f"DELETE FROM {S}.docs WHERE docid IN (SELECT docid FROM _del)")
    con.execute("DROP TABLE _rows")


def _apply(con: duckdb.DuckDBPyConnection, removed: int = 1, moved: int = 1) -> int:
    """Remove `_del`, move `_move` to the delta, add `_add`, rewrite the messages of `_out`; the statistics
    and document frequencies follow. `removed`, `moved`: the sizes of `_del` and `_move` (`_diff`): with
    neither, the postings are not read (a new session, a session grown by a turn)."""
    if removed or moved:
        _remove(con)
    con.execute(f"""DELETE FROM {S}.doc_msgs WHERE docid IN (SELECT docid FROM _del UNION ALL SELECT docid FROM _out)
                    OR (session_id IN (SELECT session_id FROM _dirty) AND docid NOT IN (SELECT docid FROM _keep)
                        AND docid NOT IN (SELECT docid FROM _outs))""")
    # Tool outputs kept: their messages now (in msg_id order, `n` from 1).
    con.execute(f"""INSERT INTO {S}.doc_msgs
                    SELECT o.docid, m.msg_id, row_number() OVER (PARTITION BY o.docid ORDER BY m.msg_id)::INTEGER,
                           m.session_id, m.tier
                    FROM _members m JOIN _out o ON o.name = m.doc WHERE o.docid NOT IN (SELECT docid FROM _del)""")
    added = _add(con, python_stems=True)
    con.execute(f"DELETE FROM {S}.dict WHERE df <= 0")  # after the additions: a word gone and back keeps its row
    con.execute(f"UPDATE {S}.stats SET delta_rows = (SELECT count(*) FROM {S}.delta)")
    # What hits show beside the index: a call's arguments, an output's messages.
    con.execute("""DELETE FROM fts_call_args WHERE msg_id IN (SELECT msg_id FROM _old UNION SELECT msg_id FROM _args)""")
    con.execute("INSERT INTO fts_call_args SELECT * FROM _args")
    con.execute("DELETE FROM fts_results WHERE msg_id IN (SELECT msg_id FROM _old)")
    con.execute(f"INSERT INTO fts_results SELECT doc, msg_id FROM _dmsgs WHERE tier >= {TOOL_ERROR_TIER}")
    return added


def _maybe_merge(con: duckdb.DuckDBPyConnection) -> bool:
    main_rows, delta_rows, main_docs, gone = con.execute(
        f"SELECT main_rows, delta_rows, main_docs, main_gone FROM {S}.stats").fetchone()
    if delta_rows <= MERGE_SHARE * main_rows and gone <= MERGE_SHARE * main_docs:
        return False
    _place(con)
    return True
