"""Schema migrations: an ordered list of named functions, each applied once and recorded.

Append new migrations at the end; never edit or reorder one that has shipped.
Derived tables (everything but `files`, `records` and `record_chunks`) can be rebuilt from the raw records.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from vault.sqlstring import sql_string


def m001_core(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE files (
            file_id      INTEGER PRIMARY KEY,
            path         VARCHAR NOT NULL UNIQUE,
            source       VARCHAR NOT NULL,
            size         BIGINT,
            mtime        DOUBLE,
            byte_offset  BIGINT NOT NULL DEFAULT 0,  -- after the last complete line ingested
            fingerprint  VARCHAR,                    -- hash of the prefix up to byte_offset
            lines        BIGINT NOT NULL DEFAULT 0,  -- complete lines consumed so far
            records      BIGINT NOT NULL DEFAULT 0,
            errors       BIGINT NOT NULL DEFAULT 0,
            ingested_at  TIMESTAMP
        );
        CREATE SEQUENCE file_ids START 1;

        -- Every source record as read: the lossless layer everything else derives from.
        CREATE TABLE records (
            file_id      INTEGER NOT NULL,
            line_no      INTEGER NOT NULL,
            byte_offset  BIGINT,
            record_type  VARCHAR,
            record_id    VARCHAR,
            parent_id    VARCHAR,   -- parentUuid (for fork / branch reconstruction)
            session_id   VARCHAR,
            raw          VARCHAR NOT NULL
        );

        CREATE TABLE sessions (
            session_id         VARCHAR PRIMARY KEY,
            source             VARCHAR NOT NULL,
            project            VARCHAR,
            cwd                VARCHAR,
            git_branch         VARCHAR,
            started_at         TIMESTAMP,
            ended_at           TIMESTAMP,
            title              VARCHAR,
            parent_session_id  VARCHAR,
            parent_tool_use_id VARCHAR,
            agent_id           VARCHAR,
            agent_type         VARCHAR,
            user_id            VARCHAR,
            version            VARCHAR,
            model              VARCHAR,
            file_id            INTEGER,
            messages           INTEGER DEFAULT 0,
            human_messages     INTEGER DEFAULT 0,
            first_prompt       VARCHAR
        );

        CREATE TABLE messages (
            msg_id       VARCHAR PRIMARY KEY,
            session_id   VARCHAR NOT NULL,
            parent_id    VARCHAR,
            seq          BIGINT NOT NULL,   -- file order: (file_id, line, sub) packed; ties of timestamp
            timestamp    TIMESTAMP,
            role         VARCHAR NOT NULL,
            kind         VARCHAR NOT NULL,
            text         VARCHAR,
            model        VARCHAR,
            turn_id      VARCHAR,
            is_human     BOOLEAN NOT NULL DEFAULT false,
            is_sidechain BOOLEAN NOT NULL DEFAULT false,
            agent_id     VARCHAR,
            tool_name    VARCHAR,
            tool_use_id  VARCHAR,
            is_error     BOOLEAN NOT NULL DEFAULT false,
            on_main_branch BOOLEAN NOT NULL DEFAULT true,  -- false on an abandoned fork (rewind, edit)
            file_id      INTEGER,
            line_no      INTEGER,
            extra        JSON
        );

        CREATE TABLE tool_calls (
            tool_use_id         VARCHAR PRIMARY KEY,
            session_id          VARCHAR,
            call_msg_id         VARCHAR,
            name                VARCHAR,
            input               JSON,
            result_msg_id       VARCHAR,
            result_text         VARCHAR,
            is_error            BOOLEAN,
            subagent_session_id VARCHAR
        );

        -- Small key/value state: content version (for index rebuilds), settings.
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        """
    )


def m002_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Tables for search, mining and review (filled by `vault embed`, `vault mine`, the TUI)."""
    con.execute(
        """
        CREATE TABLE embed_models (
            model_id   INTEGER PRIMARY KEY,
            name       VARCHAR NOT NULL UNIQUE,  -- path or hub name as configured
            dim        INTEGER NOT NULL,
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        -- One vector per distinct chunk text and model: identical texts are embedded once.
        CREATE TABLE vectors (
            model_id     INTEGER NOT NULL,
            content_hash VARCHAR NOT NULL,
            vector       FLOAT[] NOT NULL,
            PRIMARY KEY (model_id, content_hash)
        );
        CREATE TABLE chunks (
            msg_id       VARCHAR NOT NULL,
            chunk_no     INTEGER NOT NULL,
            model_id     INTEGER NOT NULL,
            content_hash VARCHAR NOT NULL,
            PRIMARY KEY (msg_id, chunk_no, model_id)
        );

        CREATE TABLE labels (
            msg_id      VARCHAR PRIMARY KEY,
            session_id  VARCHAR NOT NULL,
            label       VARCHAR NOT NULL,
            confidence  DOUBLE,
            backend     VARCHAR NOT NULL,
            version     VARCHAR NOT NULL,
            reasons     JSON,
            created_at  TIMESTAMP DEFAULT current_timestamp
        );
        -- Answers of paid backends, so a re-run never pays twice.
        CREATE TABLE llm_cache (
            cache_key  VARCHAR PRIMARY KEY,   -- hash of (model, prompt version, message / input)
            model      VARCHAR,
            response   JSON,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE roles (
            session_id VARCHAR PRIMARY KEY,
            role_name  VARCHAR NOT NULL,
            rule       VARCHAR
        );
        CREATE TABLE pairs (
            pair_id          VARCHAR PRIMARY KEY,
            session_id       VARCHAR NOT NULL,
            role_name        VARCHAR,
            feedback_msg_id  VARCHAR,
            rejected_msg_id  VARCHAR,
            chosen_msg_id    VARCHAR,
            prompt           JSON,
            chosen           JSON,
            rejected         JSON,
            feedback         VARCHAR,
            method           VARCHAR NOT NULL,
            filters_passed   JSON,
            filters_failed   JSON,
            kept             BOOLEAN NOT NULL DEFAULT true,
            created_at       TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE personas (
            role_name  VARCHAR PRIMARY KEY,
            text       VARCHAR,
            rules      JSON,     -- [{"rule", "support", "examples": [msg_id...]}]
            backend    VARCHAR,
            edited     BOOLEAN DEFAULT false,
            updated_at TIMESTAMP DEFAULT current_timestamp
        );
        -- What a person decided in review: accept/reject a pair, edit chosen, relabel a turn.
        CREATE TABLE reviews (
            target     VARCHAR NOT NULL,   -- 'pair' | 'turn'
            target_id  VARCHAR NOT NULL,   -- pair_id or msg_id
            decision   VARCHAR NOT NULL,   -- accept | reject | edit | relabel
            value      VARCHAR,            -- edited chosen text, or the new label
            created_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (target, target_id, decision)
        );
        """
    )


def m003_miner_learning(con: duckdb.DuckDBPyConnection) -> None:
    """The learned classifier's state: sentence embeddings of human turns (miner.classify.vectors),
    one per distinct text and model; and the person's own hand labels (label files given to
    `vault eval`), training data for `vault mine --fit` beside the relabels in `reviews`."""
    con.execute(
        """
        CREATE TABLE miner_vectors (
            content_hash VARCHAR NOT NULL,
            model        VARCHAR NOT NULL,
            vector       FLOAT[] NOT NULL,
            PRIMARY KEY (content_hash, model)
        );
        CREATE TABLE hand_labels (
            msg_id     VARCHAR PRIMARY KEY,
            label      VARCHAR NOT NULL,
            source     VARCHAR,            -- the label file it came from
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        """
    )


def m004_seq_ordinal(con: duckdb.DuckDBPyConnection) -> None:
    """Mark for the next ingest the files that the ingest fixes of issue 13 read differently.

    - `seq` became (file_id << 40) + the message's ordinal in its file; it packed (file_id, line,
      position in the line) with 12 bits for the position, so a record of more than 4,096 messages
      (a long ChatGPT, Claude.ai or neutral conversation) lost its order. Those files are read again
      (msg_ids stay, hence labels and reviews); the old values of the other files still order
      correctly and new rows continue after them.
    - Detection now looks at the first parsable records, not the first bytes: files remembered as
      unrecognised are looked at once more.
    """
    con.execute(
        """
        UPDATE files SET size = NULL, mtime = NULL, byte_offset = 0, fingerprint = NULL, lines = 0
        WHERE file_id IN (SELECT file_id FROM messages GROUP BY file_id, line_no HAVING count(*) > 4096)
           OR source = 'unrecognised'
        """
    )


def m005_pending_derivations(con: duckdb.DuckDBPyConnection) -> None:
    """What an ingest committed but has not derived yet (session totals, subagent links, titles, forks).

    Each file commit adds its sessions and file here in its own transaction; the transaction that
    derives them (`Ingester.finish`) empties these tables. An ingest killed in between leaves them
    filled, and the next run derives them. A vault from before this migration may already be stale
    (crashes had no record), so everything starts pending: the next ingest re-derives it once.
    """
    con.execute(
        """
        CREATE TABLE pending_sessions (session_id VARCHAR PRIMARY KEY);
        CREATE TABLE pending_files (file_id INTEGER PRIMARY KEY);
        INSERT INTO pending_sessions
            SELECT session_id FROM sessions UNION SELECT session_id FROM messages;
        INSERT INTO pending_files SELECT file_id FROM files WHERE source <> 'unrecognised';
        """
    )
def m007_pair_backend(con: duckdb.DuckDBPyConnection) -> None:
    """Which backend made a pair's chosen answer: the person's own next attempt, or an LLM rewrite
    (`anthropic:<model>`, `openai:<model>@<host>`); the dataset card counts pairs per backend."""
    con.execute("ALTER TABLE pairs ADD COLUMN made_by VARCHAR")


def m009_effective_labels(con: duckdb.DuckDBPyConnection) -> None:
    """The label each turn has in effect: a person's relabel in review overrides the classifier's.

    One row per human-side message (kinds as of this migration: a change of `Kind.HUMAN_SIDE` needs a
    new migration that replaces the view), and per labelled or relabelled message of another kind.
    `label` is NULL for a turn not labelled yet; `relabelled` says the label is the person's.
    Read through `miner.tables`, which owns labels, reviews, pairs, personas and roles.
    """
    con.execute(
        """
        CREATE VIEW effective_labels AS
        SELECT m.msg_id, m.session_id, m.is_human, m.timestamp,
               coalesce(rv.value, l.label) AS label, rv.value IS NOT NULL AS relabelled
        FROM messages m
        LEFT JOIN labels l ON l.msg_id = m.msg_id
        LEFT JOIN reviews rv ON rv.target = 'turn' AND rv.decision = 'relabel' AND rv.target_id = m.msg_id
        WHERE l.msg_id IS NOT NULL OR rv.value IS NOT NULL
           OR m.kind IN ('human_prompt', 'interrupt', 'queued_prompt', 'tool_rejection')
        """
    )


def m010_record_chunks(con: duckdb.DuckDBPyConnection) -> None:
    """Raw records compressed: zstd frames of a file's records in `record_chunks` (vault/rawstore.py).

    `records.raw` (1.3x the archive's bytes in DuckDB) gives way to (chunk_id, raw_start, raw_len);
    the bytes of every record are unchanged. Converted a few files at a time, in file and line order.
    `tool_calls.result_text` becomes NULL where it is the first 4,000 characters of the
    result message's text (99.9% of rows on the benchmark vault); the view `tool_results` adds the
    column `result` with the output either way.
    """
    con.execute(
        """
        CREATE SEQUENCE chunk_ids START 1;
        CREATE TABLE record_chunks (
            chunk_id  BIGINT PRIMARY KEY,  -- the index makes reading one record ~2 ms, not a scan of the frames
            file_id   INTEGER NOT NULL,
            data      BLOB NOT NULL       -- one zstd frame: consecutive records of the file, back to back
        );
        ALTER TABLE records RENAME TO records_m001;
        CREATE TABLE records (
            file_id      INTEGER NOT NULL,
            line_no      INTEGER NOT NULL,
            byte_offset  BIGINT,
            record_type  VARCHAR,
            record_id    VARCHAR,
            parent_id    VARCHAR,   -- parentUuid (for fork / branch reconstruction)
            session_id   VARCHAR,
            chunk_id     BIGINT NOT NULL,
            raw_start    INTEGER NOT NULL,  -- the record's UTF-8 bytes: [raw_start, raw_start + raw_len)
            raw_len      INTEGER NOT NULL   -- of the chunk's decompressed data
        );
        """
    )
    ids = [r[0] for r in con.execute("SELECT DISTINCT file_id FROM records_m001 ORDER BY 1").fetchall()]
    if ids:  # (imported only then: every open runs the migrations on an empty database to know the schema)
        from vault import rawstore

        cols = ", ".join((*rawstore.META_COLUMNS, "raw"))
        for i in range(0, len(ids), M010_FILES_PER_STEP):
            step = ", ".join(map(str, ids[i : i + M010_FILES_PER_STEP]))
            rawstore.write_records(con, con.execute(
                f"SELECT {cols} FROM records_m001 WHERE file_id IN ({step}) ORDER BY file_id, line_no").fetchall(),
                layout="frames")
    con.execute("DROP TABLE records_m001")
    # A tool's output is stored once: in its result message (tool_calls.result_text kept only where it differs).
    con.execute(
        f"""
        UPDATE tool_calls SET result_text = NULL FROM messages m
        WHERE m.msg_id = tool_calls.result_msg_id AND tool_calls.result_text = left(m.text, {M010_RESULT_CHARS});
        CREATE VIEW tool_results AS
            SELECT tc.*, coalesce(tc.result_text, left(m.text, {M010_RESULT_CHARS})) AS result
            FROM tool_calls tc LEFT JOIN messages m ON m.msg_id = tc.result_msg_id;
        """
    )


M010_FILES_PER_STEP = 10  # files converted per query: memory stays flat on a large vault
# vault.sources.base.RESULT_TEXT_CHARS when m010 was written (a migration never changes; importing
# vault.sources here would cost every open 0.1 s). A new limit needs a migration that redefines the view.
M010_RESULT_CHARS = 4000


def m011_vectors_int8(con: duckdb.DuckDBPyConnection) -> None:
    """Vectors as int8 with one float32 scale each (`vault.index.vectors`): a quarter of float32's bytes.

    `q = round(v / scale)` with `scale = max|v| / 127`, as `vectors.quantize` does for new vectors.
    The view `vectors` keeps the old columns (a FLOAT[] `vector`, now `q * scale`) for readers.
    """
    con.execute(
        """
        CREATE TABLE vector_store (
            model_id     INTEGER NOT NULL,
            content_hash VARCHAR NOT NULL,
            scale        FLOAT NOT NULL,    -- the vector is q * scale
            q            TINYINT[] NOT NULL,
            PRIMARY KEY (model_id, content_hash)
        );
        INSERT INTO vector_store
            SELECT model_id, content_hash, s,
                   CASE WHEN s > 0 THEN list_transform(vector, x -> CAST(round(x / s) AS TINYINT))
                        ELSE list_transform(vector, x -> CAST(0 AS TINYINT)) END
            FROM (SELECT *, CAST(list_max(list_transform(vector, x -> abs(x))) / 127 AS FLOAT) AS s FROM vectors);
        DROP TABLE vectors;
        CREATE VIEW vectors AS
            SELECT model_id, content_hash, CAST(list_transform(q, x -> x * scale) AS FLOAT[]) AS vector
            FROM vector_store;
        """
    )


def m012_unique_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """The keys of `messages` and `tool_calls` as unique indexes instead of primary keys (vault/ingest.py).

    A primary key cannot be dropped, so every row of a first ingest went through its in-memory index
    (the writer's memory grew with the archive: ~1 GB at 4 GB) and its checks. An index can: a cold ingest
    drops these two, keeps ids unique itself, and builds them once at its end; reads (lookups by id)
    keep them. Rows, their order and every other column are unchanged.
    """
    rebuild_table(con, "messages", M012_MESSAGES, key="msg_id")
    rebuild_table(con, "tool_calls", M012_TOOL_CALLS, key="tool_use_id")



def m015_label_text_hash(con: duckdb.DuckDBPyConnection) -> None:
    """Labels and relabels remember the text they judged (`text_hash`: md5 of the message's text).

    A rewritten file keeps its messages' ids with maybe new texts (vault/rewritten.py): a classifier's
    label of a text that changed is deleted by the ingest; a person's relabel stays in effect, flagged
    (`miner.tables.stale_relabels`) until the person relabels the new text. Rows already stored are taken
    as judging the text stored now.
    """
    con.execute(
        """
        ALTER TABLE labels ADD COLUMN text_hash VARCHAR;
        ALTER TABLE reviews ADD COLUMN text_hash VARCHAR;
        UPDATE labels SET text_hash = md5(coalesce(m.text, '')) FROM messages m WHERE m.msg_id = labels.msg_id;
        UPDATE reviews SET text_hash = md5(coalesce(m.text, '')) FROM messages m
        WHERE reviews.target = 'turn' AND m.msg_id = reviews.target_id;
        """
    )

def m016_text_zstd(con: duckdb.DuckDBPyConnection) -> None:
    """The long texts of `tool_calls` (input, result_text) compressed with zstd.

    DuckDB stored them uncompressed (a string over 4 KB goes to overflow blocks; FSST leaves long texts
    as they are). With `USING COMPRESSION zstd`, `tool_calls.input` went from 60 to 6 MB on the 1 GB archive's
    vault (docs/storage.md). `messages.text` (214 MB there, 27 MB with zstd) is left as it was: DuckDB
    decompresses a zstd string column 2,048 values at a time, and the few texts a keyword search reads by row
    (its hits) cost 12 ms more per query (18.6 -> 30.4 ms in-process, idle machine), over the search goals;
    without it the vault is 0.49x the archive instead of 0.31x. The column option needs a file in storage
    version v1.2 or later (`vault.connection.STORAGE_VERSION`: new vaults are created so, and a vault in an older
    version is rewritten into it after this migration); in an older file DuckDB accepts it and stores the
    column as before. Rows, their order, the other columns and the key index are unchanged (the table is
    rebuilt as m012 did).
    """
    rebuild_table(con, "tool_calls", M016_TOOL_CALLS, key="tool_use_id")


def m017_frame_pieces(con: duckdb.DuckDBPyConnection) -> None:
    """The raw records' zstd frames stored in pieces of at most 4,000 bytes, one row each (vault/rawstore.py).

    DuckDB keeps a string of 4 KiB or more out of its segment (an overflow string), and those it held in memory
    outside its cap: each COMMIT of a cold ingest rose with the frames already in the table's last vector (the
    peak grew with the archive, docs/foundation.md). A piece stays inline, in blocks DuckDB manages under its cap.
    A frame is its pieces' bytes back to back, in `piece` order; `records` is unchanged. Converted
    M017_FRAMES_PER_STEP frames per query, in one transaction (a crash leaves the old layout and the backup copy).
    """
    con.execute(
        """
        ALTER TABLE record_chunks RENAME TO record_chunks_m010;
        CREATE TABLE record_chunks (
            chunk_id  BIGINT NOT NULL,   -- the frame: records.chunk_id
            piece     INTEGER NOT NULL,  -- its pieces in order, from 0
            file_id   INTEGER NOT NULL,
            data      BLOB USING COMPRESSION uncompressed NOT NULL  -- at most M017_PIECE_BYTES of the zstd frame
                                                              -- (random bytes: no compression analysis)
        );
        """
    )
    ids = [r[0] for r in con.execute("SELECT chunk_id FROM record_chunks_m010 ORDER BY 1").fetchall()]
    if ids:
        from vault import rawstore

        for i in range(0, len(ids), M017_FRAMES_PER_STEP):
            step = ids[i : i + M017_FRAMES_PER_STEP]
            rawstore.insert_pieces(con, con.execute(
                "SELECT chunk_id, file_id, data FROM record_chunks_m010 WHERE chunk_id BETWEEN ? AND ? "
                "ORDER BY chunk_id", [step[0], step[-1]]).fetchall(), M017_PIECE_BYTES)
    con.execute("DROP TABLE record_chunks_m010")


M017_FRAMES_PER_STEP = 32  # frames per query (~50 KB each): 256 peaked at 598 MB on the 1 GB vault, 32 at 495-547
M017_PIECE_BYTES = 4000  # rawstore.PIECE_BYTES when m017 was written


def m018_postings_msg(con: duckdb.DuckDBPyConnection) -> None:
    """The keyword index's main segment names the message of a typed text's or a tool call's posting in its term's head
    (`postings.msg`, index layout 7: vault/index/fts_build.py, HEAD_MSGS): a one-term search reads its best messages
    with the postings, without a lookup in `doc_msgs`.

    A layout-6 index is rewritten so (the same rows, in the same order, plus the column) and recorded as layout 7;
    any other index, or none, is left to the next ingest or search, which builds it whole (as before).
    """
    s = "fts_main_fts_docs"
    built, exists = con.execute(
        "SELECT (SELECT value FROM meta WHERE key = 'fts_built_kinds'), "
        f"EXISTS (SELECT 1 FROM duckdb_tables() WHERE schema_name = {sql_string(s)} AND table_name = 'postings' "
        "AND database_name = current_database())").fetchone()
    if not exists or not (built or "").startswith("v6:"):
        return
    con.execute(f"""
        CREATE TABLE {s}.postings_m018 AS
        SELECT p.termid, p.docid, p.tier, p.tf, p.len, p.r,
               CASE WHEN p.tier <= 1 AND p.r <= {M018_HEAD_MSGS} THEN d.name END AS msg
        FROM {s}.postings p JOIN {s}.docs d ON d.docid = p.docid  -- (every posting's document: a hash join)
        ORDER BY p.termid, p.r;
        DROP TABLE {s}.postings;
        ALTER TABLE {s}.postings_m018 RENAME TO postings;
        UPDATE meta SET value = 'v7:' || substr(value, 4) WHERE key = 'fts_built_kinds';
        """)


M018_HEAD_MSGS = 64  # vault.index.fts_build.HEAD_MSGS when m018 was written (a migration never changes)


# The indexes m012 makes (the ingest drops and rebuilds them by these names), and m001's columns in m001's order.
M012_INDEXES = {"messages": "messages_msg_id", "tool_calls": "tool_calls_tool_use_id"}
M012_MESSAGES = """
    msg_id VARCHAR NOT NULL, session_id VARCHAR NOT NULL, parent_id VARCHAR, seq BIGINT NOT NULL, timestamp TIMESTAMP,
    role VARCHAR NOT NULL, kind VARCHAR NOT NULL, text VARCHAR, model VARCHAR, turn_id VARCHAR,
    is_human BOOLEAN NOT NULL DEFAULT false, is_sidechain BOOLEAN NOT NULL DEFAULT false, agent_id VARCHAR,
    tool_name VARCHAR, tool_use_id VARCHAR, is_error BOOLEAN NOT NULL DEFAULT false,
    on_main_branch BOOLEAN NOT NULL DEFAULT true, file_id INTEGER, line_no INTEGER, extra JSON
"""
M012_TOOL_CALLS = """
    tool_use_id VARCHAR NOT NULL, session_id VARCHAR, call_msg_id VARCHAR, name VARCHAR, input JSON,
    result_msg_id VARCHAR, result_text VARCHAR, is_error BOOLEAN, subagent_session_id VARCHAR
"""

# m016's columns: m012's, the long texts with zstd (a column option, kept by COPY FROM DATABASE and by a rebuild).
ZSTD_COLUMNS = {"tool_calls": ("input", "result_text")}


def _zstd(columns: str, names: tuple[str, ...]) -> str:
    """`columns` (a CREATE TABLE body) with `USING COMPRESSION zstd` after the type of each of `names`."""
    out = []
    for col in columns.split(","):
        name, typ, *rest = col.split(maxsplit=2)
        out.append(" ".join([name, typ, *(["USING COMPRESSION zstd"] if name in names else []), *rest]))
    return ", ".join(out)


M016_TOOL_CALLS = _zstd(M012_TOOL_CALLS, ZSTD_COLUMNS["tool_calls"])


def rebuild_table(con: duckdb.DuckDBPyConnection, table: str, columns: str, key: str | None = None) -> None:
    """`table` made again with the columns `columns` (a CREATE TABLE body; DuckDB changes neither a key nor a
    column's compression in place): every row copied in its order, then, with `key`, its unique index
    (M012_INDEXES) on that column. m012 and m016 rebuild so; the tests build older layouts with it."""
    con.execute(f"CREATE TABLE {table}_rebuilt ({columns}); INSERT INTO {table}_rebuilt SELECT * FROM {table}; "
                f"DROP TABLE {table}; ALTER TABLE {table}_rebuilt RENAME TO {table}")
    if key:
        con.execute(f"CREATE UNIQUE INDEX {M012_INDEXES[table]} ON {table} ({key})")


MIGRATIONS: list[tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    ("m001_core", m001_core),
    ("m002_derived", m002_derived),
    ("m003_miner_learning", m003_miner_learning),
    ("m004_seq_ordinal", m004_seq_ordinal),
    ("m005_pending_derivations", m005_pending_derivations),
    ("m007_pair_backend", m007_pair_backend),
    ("m009_effective_labels", m009_effective_labels),
    ("m010_record_chunks", m010_record_chunks),
    ("m011_vectors_int8", m011_vectors_int8),
    ("m012_unique_indexes", m012_unique_indexes),
    ("m015_label_text_hash", m015_label_text_hash),
    ("m016_text_zstd", m016_text_zstd),
    ("m017_frame_pieces", m017_frame_pieces),
    ("m018_postings_msg", m018_postings_msg),
]
