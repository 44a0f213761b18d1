"""The ingest engine: walk paths, pick a parser, read what is new, commit with the offsets.

Walking and change detection are in `vault.walk`, what is derived across files in `vault.derive`
(after each parser's `finalize`); this module is the batch engine between them. Files are parsed and
prepared in worker processes (`vault.ingest_pool`, `vault.ingest_prep`: the `ingest.workers` setting)
and written here, by the one process DuckDB allows to write.

Per file the vault remembers size, mtime, the byte offset after the last complete
line and a fingerprint of the bytes before it. Unchanged files cost a stat; an
appended file is read from the offset; a rewritten or truncated one is re-read and
its rows replaced. A file's rows commit in one transaction together with its offset
(small files are grouped, several per transaction, because per-statement overhead
dominated: one transaction per file cost ~20 ms each), so a crash leaves the vault
consistent and a re-run continues where it stopped. Files that disappear are never
deleted from the vault.

One bad path never stops a run: only regular files are read (folders are walked, symlinks to
files followed, each file once); a symlink loop, a FIFO, a folder that cannot be listed, a file
that cannot be parsed or stored is reported with its reason and the run goes on. A group that
fails to commit is committed again file by file, so only the bad file is left out. File names
that are not UTF-8 are stored with their odd bytes escaped (`\\xff`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import duckdb

from vault import arrow_small, rawstore
from vault.bulk import insert_rows
from vault.derive import derive_sessions
from vault.errors import is_interrupt
from vault.faults import crash_point
from vault.index.fts_build import literals, note_changes
from vault.ingest_keys import StoredKeys, hashes
from vault.ingest_pool import POOL_MIN_BYTES, prepared
from vault.ingest_prep import SESSION_FIELDS, Failed, Job, Prepared, one_line
from vault.ingest_report import IngestReport
from vault.migrations import M012_INDEXES
from vault.model import REASON_CHARS, Kind
from vault.rewritten import drop_changed_labels, forget_calls
from vault.sources import detect_parser, parser_by_name, read_head, unrecognised_reason
from vault.sources.base import TOUCHED, Parser, Touched
from vault.sqlstring import sql_string
from vault.store import bump_content_version, checkpoint_large, reset_memory_limit, transaction, with_roomy_retry
from vault.walk import SPECIAL_FILE_TYPES, FileRow, fingerprint, folder_reason, path_key, real_stat, walk

if TYPE_CHECKING:
    from vault.settings import IngestSettings
    from vault.settings_light import IngestDefaults

# `seq` orders messages: (file_id << SEQ_FILE_SHIFT) + the message's ordinal in its file (by line, then
# position in the line). An appended tail continues after the file's highest ordinal.
SEQ_FILE_SHIFT = 40
# DuckDB settings while ingesting. Each checkpoint rewrites the whole primary-key indexes, so the
# default (every 16 MB of WAL) made a cold ingest quadratic. A memory cap keeps RSS from growing with the
# archive: DuckDB spills what it holds beyond it (data not yet checkpointed) to temporary files. The cap
# is WORKING_MEMORY plus twice the key indexes held in memory, which grow with what the run inserts (a fixed
# 128 MB cap made a 4 GB ingest with primary keys thrash: 15x the CPU of the 1 GB one); a cold ingest has
# none (`_cold_start`), so its cap stays at WORKING_MEMORY. 160 MB, not 128: a COMMIT whose automatic checkpoint
# runs out of memory is a FATAL error in DuckDB 1.5.5 (the connection is lost, no retry possible), and the 4 GB bench
# archive's cold ingest met one under 133.5 MB at every run, 598 MB into the vault; with 160 MB it went through, and
# the 1 GB peak did not move (its peaks are in the COMMIT statements, above the cap). docs/foundation.md.
INGEST_SETTINGS = {"checkpoint_threshold": "64MB", "memory_limit": "160MB"}
WORKING_MEMORY = 160 << 20
# A cold ingest (no key index to rewrite at each checkpoint: `_cold_start`) checkpoints twice as often and caps DuckDB
# lower: what it holds between two checkpoints (rows not yet written, and the blocks it caches up to its cap, which it
# fills) was the writer's largest part. 1 GB probe: COMMIT peak 426 -> 371 MB, summed 549 -> 499 MB; the 4 GB archive
# goes through (the FATAL above was under 64 MB of WAL). docs/foundation.md, tenth session.
COLD_CHECKPOINT = "32MB"
COLD_WORKING_MEMORY = 112 << 20
ROOMY_MEMORY_LIMIT = "1GB"  # for a file that cannot be stored under the cap (the cap before it was lowered)
# A WAL this small is left by `Ingester.finish` to the checkpoint that ends the run (`vault.index.after_ingest`, else
# DuckDB's when the vault closes): the keyword index update that follows would checkpoint a second time.
LEAVE_WAL_BYTES = 16 << 20
# A run that reads less than this keeps one DuckDB thread to its end (`Ingester._threads_after_files`): the same
# bound as the parsing pool's start.
SMALL_RUN_BYTES = POOL_MIN_BYTES
# A group of parsed files commits together once it holds `batch_bytes` source bytes (the
# `ingest.batch_bytes` setting: smaller groups commit more often, at some speed cost) or this many files.
BATCH_FILES = 200
# What the writer holds of what the parsers kept for `finalize` (`Touched.kept`: Claude Code's `summary` records and
# messages off the branch, ~100 KB pickled on the 1 GB archive); beyond it, `finalize` reads the rest from the vault.
KEPT_RUN_BYTES = 16 << 20


def release_freed() -> None:
    """Hand the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing), after a group commit.

    What a commit frees (the group's rows as Python objects and Arrow tables, DuckDB's statement memory) stays in the
    writer's heap, in holes between blocks still used: the free part grew over a cold ingest (probe, 4 GB bench
    archive: 40 MB free in the first 40 commits' heaps, 61 MB in the last 40), and with it the COMMIT peaks. Trimmed
    after each commit: 12 MB handed back a commit on average, the last 40 commits' mean peak 489 -> 471 MB, the highest
    533 -> 510 MB; a few ms a commit. Also before the derivations and the key index build (`Ingester.finish`). Not for
    a small run (the hook's case: `ctypes` would cost its import)."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        import ctypes

        try:  # (the process's own symbols: libc's among them)
            _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):  # not glibc
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


FILE_ROW_COLUMNS = "file_id, path, source, size, mtime, byte_offset, fingerprint, lines"  # `FileRow`'s
# A run naming at most this many paths looks each stored file up by its path (`Ingester._stored_files`).
FEW_PATHS = 16


class _StoredByPath:
    """`Ingester.known` for a run naming a few paths: a stored file's row read by its path (the key index of
    `files.path`) when `_plan` asks for it."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.rows: dict[str, FileRow | None] = {}

    def get(self, key: str) -> FileRow | None:
        if key not in self.rows:
            row = self.con.execute(f"SELECT {FILE_ROW_COLUMNS} FROM files WHERE path = {sql_string(key)}").fetchone()
            self.rows[key] = FileRow(*row) if row else None
        return self.rows[key]


class Plan(NamedTuple):
    """What to read of one file: from `start` (byte) / `start_line` on, replacing its rows or not."""

    path: Path
    st: os.stat_result
    row: FileRow | None
    parser: Parser
    start: int
    start_line: int
    replace: bool


class Ingester:
    def __init__(self, con: duckdb.DuckDBPyConnection, source: str | None = None,
                 on_file: Callable[[Path, int], None] | None = None, batch_bytes: int | None = None,
                 settings: IngestSettings | IngestDefaults | None = None, numpy_unused: bool = False,
                 derived_before: tuple[list[str], list[int]] | None = None):
        """`numpy_unused`: nothing in this process will use numpy (a whole `vault ingest --no-embed` process, the hook's
        worker): an incremental ingest then keeps it unloaded (`ingest_files`). `derived_before`: pending sessions and
        files an earlier ingest derived and checkpointed (`vault.unchanged.derived_pending`): `finish` deletes them
        (but those this run marks again) instead of deriving them again."""
        if settings is None:  # the defaults, without loading pydantic for them
            from vault.settings_light import IngestDefaults

            settings = IngestDefaults()
        self.batch_bytes = batch_bytes if batch_bytes is not None else settings.batch_bytes
        self.max_member_mb = settings.max_member_mb
        self.workers = settings.workers
        self.con = con
        self.forced: Parser | None = parser_by_name(source) if source else None
        self.on_file = on_file
        self.numpy_unused = numpy_unused
        self.report = IngestReport()
        for key, value in INGEST_SETTINGS.items():
            con.execute(f"SET {key} = {sql_string(value)}")
        self._limit_mb = 0
        self._working = WORKING_MEMORY  # (COLD_WORKING_MEMORY once a run is known to be cold: `ingest_files`)
        self._fit_memory_limit()
        # Tables whose key an index checks (see `_cold_start`): read by `ingest_files` (or `finish` without it).
        self.keyed: frozenset[str] | None = None
        self._plain_inserts = True  # until a batch meets a stored id (`_write`)
        self.derived: tuple[list[str], list[int]] = ([], [])  # by `finish`, pending until `forget_derived`
        self.read_bytes = 0  # source bytes read by `ingest_files`
        self._one_thread = False  # `SET threads = 1` held until `forget_derived` (`_threads_after_files`)
        self.seen: dict[str, StoredKeys] = {}  # for each of the others, the ids stored (vault.ingest_keys)
        self.kept: dict[int, bytes] = {}  # file id -> what its parser kept for `finish` (Touched.kept), pickled
        self._kept_bytes = 0
        self._real_dirs: dict[str, str] = {}  # folder -> its real path (vault.walk.real_folder)
        self._derived_before = derived_before
        self._marked: tuple[set[str], set[int]] = (set(), set())  # sessions and files this run made pending
        self._replaced_any = False  # a file's rows replaced: its old sessions made pending by a query (`_commit`)
        self.known: dict[str, FileRow] | _StoredByPath | None = None  # read by `ingest_files`
        self._known_stale = False  # files committed since `known` was read (`ingest_files` reads it again)

    def _stored_files(self, paths: Iterable[Path | str]) -> dict[str, FileRow] | _StoredByPath:
        """Each stored file's row, by path: what `_plan` compares a path with. For a run naming a few files (the
        hook's, `vault ingest FILE`), each is looked up by its path when planned (`_StoredByPath`): reading every row
        cost a one-session ingest ~7 ms of CPU on the 1 GB vault's 1,508 files."""
        if isinstance(paths, (list, tuple)) and len(paths) <= FEW_PATHS:
            return _StoredByPath(self.con)
        return {r[1]: FileRow(*r) for r in self.con.execute(f"SELECT {FILE_ROW_COLUMNS} FROM files").fetchall()}

    # -- public ---------------------------------------------------------------------
    def run(self, paths: Iterable[Path]) -> IngestReport:
        self.ingest_files(walk(paths))
        self.finish()
        return self.report

    def ingest_files(self, paths: Iterable[Path | str]) -> None:
        """Read and commit each path (each once even when named twice), a group of files per transaction.

        Files are parsed in `ingest.workers` processes (vault.ingest_pool), in order; this process writes.
        """
        if self.known is None or self._known_stale:  # (again after an earlier call committed files: their new rows)
            self.known, self._known_stale = self._stored_files(paths), False
        seen: set[str] = set()  # real paths
        plans = (plan for plan in (self._plan(path, seen) for path in paths) if plan is not None)
        jobs = ((plan, Job(plan.parser, plan.path, plan.start, plan.start_line, self.max_member_mb,
                           plan.st.st_size - plan.start)) for plan in plans)
        self.keyed = _cold_start(self.con)
        self.seen = {t: self.seen.get(t) or StoredKeys(self.con, t, KEYS[t])
                     for t in M012_INDEXES if t not in self.keyed}
        if self.seen and self._working != COLD_WORKING_MEMORY:  # no key index: a cold run (COLD_CHECKPOINT)
            self.con.execute(f"SET checkpoint_threshold = {sql_string(COLD_CHECKPOINT)}")
            self._working = COLD_WORKING_MEMORY
            self._fit_memory_limit()
        if self.workers > 1:  # one DuckDB thread: the other cores parse (and it takes less CPU for these inserts)
            self.con.execute("SET threads = 1")
        try:
            with self._numpy_kept_unloaded():
                self._ingest_jobs(jobs)
        finally:
            self._threads_after_files()

    def _threads_after_files(self) -> None:
        """A small run (less than SMALL_RUN_BYTES read: the hook's case) keeps one DuckDB thread until
        `forget_derived`: its derivations, keyword index update and checkpoint are small statements, where a second
        thread cost CPU and gained no time (docs/foundation.md, re-ingest); a larger run gets DuckDB's threads back."""
        if self.read_bytes < SMALL_RUN_BYTES:
            if self.workers <= 1:
                self.con.execute("SET threads = 1")
            self._one_thread = True
        elif self.workers > 1:
            self.con.execute("RESET threads")

    def _release_freed(self) -> None:
        """`release_freed` for a large run only (a small one, the hook's, would pay `ctypes`' import for nothing)."""
        if self.read_bytes >= SMALL_RUN_BYTES:
            release_freed()

    def _numpy_kept_unloaded(self) -> contextlib.AbstractContextManager:
        """pyarrow imports numpy (~0.1 s of CPU) and an incremental ingest (every key checked by its index) never uses
        it; the cold start's key lookups do (`vault.ingest_keys`). pyarrow loaded without it cannot take numpy arrays
        later in the process: only when the caller says nothing will (`numpy_unused`)."""
        if not self.numpy_unused or self.seen or "pyarrow" in sys.modules:
            return contextlib.nullcontext()
        from vault.lightquery import unloaded

        return unloaded(("numpy",))

    def _ingest_jobs(self, jobs) -> None:
        batch: list[tuple[Plan, Prepared]] = []
        size = 0
        for plan, res in prepared(jobs, self.workers):
            if isinstance(res, Failed):
                self._path_error(plan.path, res.reason)
                continue
            batch.append((plan, res))
            size += plan.st.st_size - plan.start
            self.read_bytes += plan.st.st_size - plan.start
            if self.on_file:
                self.on_file(plan.path, plan.st.st_size)
            if size >= self.batch_bytes or len(batch) >= BATCH_FILES:
                self._commit_group(batch)
                batch, size = [], 0
        if batch:
            self._commit_group(batch)

    def _commit_group(self, batch: list[tuple[Plan, Prepared]]) -> None:
        """Commit a group of files; if that fails, each file alone, so one bad file loses nothing else.
        A file too large for INGEST_SETTINGS' memory cap (a record of tens of MB) is committed under
        ROOMY_MEMORY_LIMIT."""
        if len(batch) == 1:
            try:
                self._with_roomy_retry(lambda: self._commit(batch))
            except Exception as e:  # DuckDB out of memory even so, a value it cannot store, ...
                if is_interrupt(e):  # Ctrl-C: not the file's fault (it was taken for one, and the ingest went on)
                    raise KeyboardInterrupt from None
                self._path_error(batch[0][0].path, f"cannot store: {one_line(e)}")
            return
        try:
            self._commit(batch)
        except Exception as e:
            if is_interrupt(e):
                raise KeyboardInterrupt from None
            for item in batch:
                self._commit_group([item])

    def _with_roomy_retry(self, run: Callable[[], object]) -> None:
        """`run()` under the ingest's cap, again under ROOMY_MEMORY_LIMIT if it runs out of memory; the cap then
        fitted again (`_fit_memory_limit`)."""
        with_roomy_retry(self.con, run, ROOMY_MEMORY_LIMIT, restore=lambda: self._fit_memory_limit(force=True))

    def _fit_memory_limit(self, force: bool = False, inserts_follow: bool = True) -> None:
        """DuckDB's cap: WORKING_MEMORY (COLD_WORKING_MEMORY in a cold run) plus twice what its key indexes hold now
        (in MB steps): inserts grow them. Once, as at the end of a cold ingest, nothing is inserted any more
        (`inserts_follow` False): plus what they hold."""
        art = self.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                               "WHERE tag = 'ART_INDEX'").fetchone()[0]
        mb = (self._working + (2 if inserts_follow else 1) * art) >> 20
        if force or mb != self._limit_mb:
            self.con.execute(f"SET memory_limit = {sql_string(str(mb) + 'MB')}")
            self._limit_mb = mb

    def _keep(self, parsed: list[tuple[int, Prepared]], shared: set[int] | None) -> None:
        """Hold for `finish` what the parsers kept of the committed files (`Touched.kept`), up to KEPT_RUN_BYTES: of
        the files whose every message was stored from them (`shared`: the others; None: not known, none is kept)."""
        if shared is None:
            return
        for file_id, res in parsed:
            if res.kept is None or file_id in shared or self._kept_bytes + res.kept_bytes > KEPT_RUN_BYTES:
                continue
            self.kept[file_id] = res.kept
            self._kept_bytes += res.kept_bytes

    def _path_error(self, path: Path | str, reason: str) -> None:
        self.report.add_error(path_key(path), 0, reason[:REASON_CHARS])  # line 0: the whole file

    def _plan(self, path: Path | str, seen: set[str]) -> Plan | None:
        """What to read of `path` (None: nothing, it is unchanged, unreadable or not a transcript).

        An unchanged file stays a string (`vault.walk.walk_names`): one lstat and a lookup."""
        path = os.path.abspath(path)
        try:  # folders resolved once per run: most files then cost one lstat
            real, st = real_stat(path, self._real_dirs)
        except RuntimeError:  # Python < 3.13 reports a symlink loop this way
            return self._path_error(path, "symlink loop")
        except OSError as e:
            why = ("symlink loop" if e.errno == errno.ELOOP else
                   "broken symlink" if e.errno == errno.ENOENT and os.path.islink(path) else f"cannot read: {e.strerror}")
            return self._path_error(path, why)
        if real in seen:
            return None
        seen.add(real)
        if stat.S_ISDIR(st.st_mode):
            return self._path_error(path, folder_reason(real))
        if not stat.S_ISREG(st.st_mode):
            what = next((name for test, name in SPECIAL_FILE_TYPES if test(st.st_mode)), "a special file")
            return self._path_error(path, f"not a regular file: {what}")
        row = self.known.get(path_key(real))
        # With --source X, a file another parser stored (an earlier run forced the wrong format) is read again with X.
        if row and row.size == st.st_size and row.mtime == st.st_mtime and (
                self.forced is None or row.source == self.forced.name):
            self.report.files_unchanged += 1
            if self.on_file:
                self.on_file(Path(real), st.st_size)
            return None
        path = Path(real)
        try:
            parser = self._parser_for(path, row)
        except OSError as e:
            return self._path_error(path, f"cannot read: {e.strerror}")
        if parser is None:
            self._unrecognised(path, st, row)
            return None
        start, start_line, replace = 0, 0, row is not None
        if row and parser.incremental and row.source == parser.name and st.st_size >= row.byte_offset > 0:
            if fingerprint(path, row.byte_offset) == row.fingerprint:
                start, start_line, replace = row.byte_offset, row.lines, False
        return Plan(path, st, row, parser, start, start_line, replace)

    def finish(self, checkpoint_later: bool = False) -> None:
        """Derived fields that span files: each format's fix-ups (`Parser.finalize`), session bounds and
        counts, subagent links.

        It derives what the file commits recorded as pending (`pending_sessions`, `pending_files`),
        including what an earlier, interrupted run left. The pending rows are cleared only once a checkpoint has
        written the derived values into the file: here, or, with `checkpoint_later` (the caller checkpoints after
        the keyword index update, `vault.index.after_ingest`), by `forget_derived` after it. DuckDB 1.5.5
        replaying the WAL of a v1.5 file after a kill between this commit and the checkpoint lost a derived
        update (a subagent link) while the same transaction's other writes came back: kept pending, they are
        derived again by the next run (tests/robustness/test_crash_appends.py).
        """
        crash_point("files-done")
        con = self.con
        # The ids remembered for the cold path (vault.ingest_keys: 8 bytes an id, ~8 MB at the 4 GB bench archive)
        # are not needed from here on: let go before the derivations and the key index build, the run's later peaks.
        self.seen = {}
        self._release_freed()
        with transaction(con):
            self._forget_derived_before()
            sessions = [r[0] for r in con.execute("SELECT session_id FROM pending_sessions ORDER BY 1").fetchall()]
            files = [r[0] for r in con.execute("SELECT file_id FROM pending_files ORDER BY 1").fetchall()]
            if sessions or files:
                self._derive(sessions, files)
                note_changes(con)  # what the keyword index reads again (vault.index.fts_build.refresh)
                bump_content_version(con)
                crash_point("in-finish")
        crash_point("finish-committed")
        # After the derivations, not before: a key index stays in DuckDB's memory, counted in its cap, until the
        # process ends (4 GB archive: ~110 MB), and under a cap grown by it the derivations cached up to it (the 4 GB
        # writer peaked at 749 MB there; docs/foundation.md). Their lookups by id are joins, no index needed.
        self.kept, self._kept_bytes = {}, 0  # (used by the derivations only)
        self._release_freed()
        self._build_key_indexes()
        self.derived = (sessions, files)
        if not checkpoint_later:
            if sessions or files:
                con.execute("CHECKPOINT")
            self.forget_derived()
        elif sessions or files:
            checkpoint_large(con, LEAVE_WAL_BYTES)
        self._reset_settings()
        self.report.sessions_touched = len(sessions)

    def forget_derived(self, con: duckdb.DuckDBPyConnection | None = None, closing: bool = False,
                       keep: bool = False) -> tuple[list[str], list[int]] | None:
        """Clear the pending rows `finish` derived, once a checkpoint has written what it derived (`con`: the
        connection now open on the vault, if not the ingest's). `closing`: the caller closes the connection next,
        so a small run's one DuckDB thread is kept (RESET threads started DuckDB's threads for the close to stop:
        ~7 ms of a one-session ingest's CPU).

        `keep`: the rows are left pending, and returned (sessions, files), for the caller to name in its record of the
        settled vault (`vault.unchanged.record`), which the next ingest trusts (`derived_before`) when nothing has
        written the vault since. Their delete was a commit after the checkpoint, and so a second checkpoint when the
        vault closed: ~25 ms of CPU and 50-90 ms of wall time (fsyncs) of a one-session ingest on a loaded machine."""
        sessions, files = self.derived
        con = con or self.con
        if self._one_thread and not closing:
            con.execute("RESET threads")
        self._one_thread = False
        if not sessions and not files:
            return None
        if keep:
            return sessions, files
        with transaction(con):  # constants: parameters cost DuckDB a probe of each Python value (~1 ms a statement)
            if sessions:
                con.execute(f"DELETE FROM pending_sessions WHERE session_id IN ({literals(sessions)})")
            if files:
                con.execute(f"DELETE FROM pending_files WHERE file_id IN ({', '.join(str(int(f)) for f in files)})")
        self.derived = ([], [])

    def _forget_derived_before(self) -> None:
        """In `finish`'s transaction: delete the pending rows an earlier ingest derived (`derived_before`), but those
        this run made pending again (all sessions, after a file's rows were replaced: which it made pending is not
        known here). Not one of them is inserted again in this transaction (DuckDB 1.5.5's key index refuses a key
        deleted and inserted in one). A crash before the next checkpoint leaves no derivation undone: theirs were
        checkpointed by the earlier ingest, and this run's rows stay pending."""
        if not self._derived_before:
            return
        (sessions, files), (marked_sessions, marked_files) = self._derived_before, self._marked
        sessions = [] if self._replaced_any else [s for s in sessions if s not in marked_sessions]
        files = [f for f in files if f not in marked_files]
        if sessions:
            self.con.execute(f"DELETE FROM pending_sessions WHERE session_id IN ({literals(sessions)})")
        if files:
            self.con.execute(f"DELETE FROM pending_files WHERE file_id IN ({', '.join(str(int(f)) for f in files)})")
        self._derived_before = None

    def _build_key_indexes(self) -> None:
        """The key indexes a cold start dropped (or a run killed before this point left out), built once from the
        rows (uniqueness was kept by `_insert_messages` and `_upsert_calls`). Under the ingest's cap: the 4 GB
        archive's two indexes build in 128 MB (a process doing only that: 166 MB RSS), while under the roomy cap the
        writer reached 824 MB there; the roomy cap only if that runs out of memory."""
        if self.keyed is None:  # (no `ingest_files` in this run)
            self.keyed = _keyed_tables(self.con)
        missing = [t for t in M012_INDEXES if t not in self.keyed]
        if not missing:
            return
        self._with_roomy_retry(lambda: self._create_key_indexes(missing))
        self._fit_memory_limit(inserts_follow=False)
        self.keyed = _keyed_tables(self.con)
        self.seen = {}

    def _create_key_indexes(self, tables: list[str]) -> None:
        for table in tables:
            self.con.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {M012_INDEXES[table]} ON {table} ({KEYS[table]})")

    def _derive(self, sessions: list[str], files: list[int]) -> None:
        import pyarrow as pa

        con = self.con
        sources = [r[0] for r in con.execute(
            "SELECT DISTINCT source FROM files WHERE file_id IN (SELECT file_id FROM pending_files) ORDER BY 1"
        ).fetchall()]
        con.register(TOUCHED, pa.table({"session_id": pa.array(sessions, pa.string())}))
        try:
            touched = Touched(sessions, files, {f: pickle.loads(self.kept[f]) for f in files if f in self.kept})
            for name in sources:
                try:
                    parser = parser_by_name(name)
                except KeyError:  # 'unrecognised' since, or a parser this version lacks
                    continue
                parser.finalize(con, touched)  # format fix-ups (Claude Code: queued copies, titles, forks)
            derive_sessions(con)
        finally:
            con.unregister(TOUCHED)

    def _reset_settings(self) -> None:
        for key in INGEST_SETTINGS:
            if key == "memory_limit":
                reset_memory_limit(self.con)
            else:
                self.con.execute(f"RESET {key}")

    # -- internals ------------------------------------------------------------------
    def _parser_for(self, path: Path, row) -> Parser | None:
        if self.forced:
            return self.forced
        if row and row.source != "unrecognised":
            try:
                return parser_by_name(row.source)
            except KeyError:
                pass
        return detect_parser(path, read_head(path))

    def _unrecognised(self, path: Path, st: os.stat_result, row) -> None:
        reason = "empty file" if st.st_size == 0 else unrecognised_reason(path)
        self.report.unrecognised.append({"file": path_key(path), "reason": reason})
        # Remember it so the next run is silent about it until it changes.
        with transaction(self.con):
            if row:
                self.con.execute("UPDATE files SET size=?, mtime=?, source='unrecognised' WHERE file_id=?",
                                 [st.st_size, st.st_mtime, row.file_id])
            else:
                self.con.execute(
                    "INSERT INTO files (file_id, path, source, size, mtime, ingested_at) "
                    "VALUES (nextval('file_ids'), ?, 'unrecognised', ?, ?, current_timestamp)",
                    [path_key(path), st.st_size, st.st_mtime],
                )

    def _commit(self, batch: list[tuple[Plan, Prepared]]) -> None:
        """One transaction: every file of the batch with its rows and its new offset."""
        con = self.con
        if any(plan.replace for plan, _ in batch):
            # A rewritten file's old rows go in a transaction of their own: DuckDB 1.5.5's unique index (m012)
            # refuses an id deleted and inserted again in one transaction. A crash between the two leaves the
            # file's row as it was, so the next run replaces the file again; its sessions are pending already.
            self._replaced_any = True
            with transaction(con):
                for plan, res in batch:
                    if plan.replace:  # the sessions it held are derived again, even one the new text lacks
                        con.execute("INSERT OR IGNORE INTO pending_sessions "
                                    "SELECT DISTINCT session_id FROM messages WHERE file_id = ?", [plan.row.file_id])
                        forget_calls(con, plan.row.file_id, res.tool_calls)  # before its messages go
                        rawstore.delete_files(con, [plan.row.file_id])
                        con.execute("DELETE FROM messages WHERE file_id = ?", [plan.row.file_id])
            crash_point("replaced-rows-deleted")
        new = [plan for plan, _ in batch if plan.row is None]  # their ids drawn once: a retry uses the same
        fresh = iter(sorted(r[0] for r in con.execute(
            f"SELECT nextval('file_ids') FROM range({len(new)})").fetchall()) if new else ())
        file_ids = [plan.row.file_id if plan.row is not None else next(fresh) for plan, _ in batch]
        if self._plain_inserts:
            try:
                parsed, added, shared = self._write_batch(batch, file_ids, plain=True)
            except duckdb.ConstraintException:  # an id stored already (rolled back): inserted as before from now on
                self._plain_inserts = False
        if not self._plain_inserts:
            parsed, added, shared = self._write_batch(batch, file_ids, plain=False)
        crash_point("file-commit")
        self._fit_memory_limit()
        self._release_freed()
        # Not `known.update`: a file committed in this call is not planned again in it (`seen`), and holding its row
        # grew the writer with the file count (4 GB bench archive: 2.8 MB at the last commits, 0.7 at 1 GB); a later
        # call on this Ingester reads the rows again.
        self._known_stale = True
        self._keep(parsed, shared)
        rep = self.report
        rep.messages_added += added
        for plan, res in batch:
            rep.files += 1
            rep.records += res.records.num_rows
            rep.skipped_lines += len(res.errors)
            for err in res.errors:
                rep.add_error(path_key(plan.path), *err)
            for t, n in res.unknown_types.items():
                rep.unknown_types[t] = rep.unknown_types.get(t, 0) + n
            rep.by_source[plan.parser.name] = rep.by_source.get(plan.parser.name, 0) + 1
            if plan.parser.incremental and res.end_offset < plan.st.st_size:
                rep.unfinished.append({"file": path_key(plan.path), "line": (res.end_line or 0) + 1,
                                       "bytes": plan.st.st_size - res.end_offset})


    def _write_batch(self, batch: list[tuple[Plan, Prepared]], file_ids: list[int], plain: bool):
        """The batch's transaction: its rows, each file's row (under `file_ids`), what `finish` derives. `plain`:
        messages and tool calls inserted without ON CONFLICT, which raises if one is stored already (`_write`)."""
        con = self.con
        with transaction(con):
            parsed = [(fid, res) for fid, (_, res) in zip(file_ids, batch, strict=True)]
            added, shared = _write(con, parsed, self.seen, plain)
            replaced = [fid for fid, (plan, _) in zip(file_ids, batch, strict=True) if plan.replace]
            if replaced:  # same ids, maybe new texts: their embedding chunks are redone (same transaction)
                from vault.index.embeddings import drop_changed_chunks

                drop_changed_chunks(con, replaced)
                drop_changed_labels(con, replaced)
            _store_files(con, [(fid, plan, res) for fid, (plan, res) in zip(file_ids, batch, strict=True)])
            _mark_pending(con, parsed)
            self._marked[0].update(sid for _, res in parsed for sid in res.session_ids)
            self._marked[1].update(fid for fid, _ in parsed)
            crash_point("in-file-commit")
        return parsed, added, shared


FILE_UPDATES = ("file_id", "source", "size", "mtime", "byte_offset", "fingerprint", "lines", "records", "errors",
                "keep", "ingested_at")


def _store_files(con: duckdb.DuckDBPyConnection, files: list[tuple[int, Plan, Prepared]]) -> None:
    """Each file's row: its new offset, fingerprint and counts (added to the old ones for an append)."""
    now = _dt.datetime.now()
    rows = []
    for file_id, (path, st, row, parser, _, _, replace), res in files:
        lines = _line_count(res, row, replace)
        keep = row is not None and not replace
        rows.append((file_id, parser.name, st.st_size, st.st_mtime, res.end_offset, res.fingerprint, lines,
                     res.records.num_rows, len(res.errors), keep, now))
    new = {file_id for file_id, plan, _ in files if plan.row is None}
    insert_rows(con, "files", ("file_id", "path", "source", "size", "mtime", "byte_offset", "fingerprint", "lines",
                               "records", "errors", "ingested_at"),
                [(r[0], path_key(plan.path), *r[1:9], r[10]) for r, (_, plan, _) in zip(rows, files, strict=True)
                 if r[0] in new])
    old = [r for r in rows if r[0] not in new]
    if old:
        _with_table(con, "_files", FILE_UPDATES, old,
                    "UPDATE files SET source = u.source, size = u.size, mtime = u.mtime, byte_offset = u.byte_offset, "
                    "fingerprint = u.fingerprint, lines = u.lines + CASE WHEN u.keep THEN files.lines ELSE 0 END, "
                    "records = u.records + CASE WHEN u.keep THEN files.records ELSE 0 END, "
                    "errors = u.errors + CASE WHEN u.keep THEN files.errors ELSE 0 END, ingested_at = u.ingested_at "
                    "FROM _files u WHERE files.file_id = u.file_id")


def _mark_pending(con: duckdb.DuckDBPyConnection, parsed: list[tuple[int, Prepared]]) -> None:
    """Record, in the transaction of the rows, what `finish` derives from them (see m005_pending_derivations).

    Content changed too: the search indexes compare the content version with the one they were built at.
    """
    sessions = {sid for _, res in parsed for sid in res.session_ids}
    insert_rows(con, "pending_sessions", ("session_id",), ((sid,) for sid in sorted(sessions)), conflict="OR IGNORE")
    insert_rows(con, "pending_files", ("file_id",), ((fid,) for fid, _ in parsed), conflict="OR IGNORE")
    bump_content_version(con)


def _line_count(res: Prepared, row: FileRow | None, replace: bool) -> int:
    """Lines consumed by this parse (blank ones too): where it ended minus where it started."""
    start = 0 if (replace or row is None) else row.lines
    end = res.end_line if res.end_line is not None else res.last_line  # whole documents: the last item seen
    return max(0, end - start)


def _write(con: duckdb.DuckDBPyConnection, parsed: list[tuple[int, Prepared]],
           stored_keys: dict[str, StoredKeys], plain: bool = False) -> tuple[int, set[int] | None]:
    """Insert the rows of several parses; returns the number of new messages (duplicates stored once) and the files
    some of whose messages were not stored from them (None: not known, an index checked the keys).

    `plain`: where an index checks the keys, messages and tool calls go in by plain INSERTs, which raise a
    ConstraintException if one is stored already (the caller then writes the batch again without it). INSERT OR IGNORE
    and ON CONFLICT DO UPDATE cost a new session of the 1 GB vault (437 messages, 167 tool calls) ~25 and ~50 ms of
    CPU against ~4 ms each: most files of an incremental ingest hold only new ids.

    Rows met twice (a session in its main and subagent files, a tool call and its result, a
    message repeated by a resume) are merged here first: one INSERT cannot touch a key twice.
    """
    import pyarrow as pa

    rawstore.write_packed(con, [(file_id, res.frames, res.records) for file_id, res in parsed])
    _write_sessions(con, parsed)
    next_seq = _next_seq(con, [file_id for file_id, _ in parsed])
    msgs = pa.concat_tables(
        res.messages.append_column("seq", arrow_small.plus(res.messages["ordinal"], next_seq[file_id]))
        .append_column("file_id", pa.repeat(pa.scalar(file_id, pa.int32()), res.messages.num_rows))
        for file_id, res in parsed)
    # A message met twice in the group: its first copy (in file order) is the one stored.
    seen: set[str] = set()
    first = [not (m in seen or seen.add(m)) for m in msgs["msg_id"].to_pylist()]
    shared: set[int] | None = set()
    if not all(first):
        shared.update(f for f, keep in zip(msgs["file_id"].to_pylist(), first, strict=True) if not keep)
        msgs = msgs.filter(pa.array(first))
    keys = stored_keys.get("messages")
    added = _insert_messages(con, msgs, keys, shared, plain)
    if keys is None:
        shared = None
    calls = _merge_calls(pa.concat_tables(res.tool_calls for _, res in parsed))
    if calls.num_rows:
        _upsert_calls(con, calls, stored_keys.get("tool_calls"), plain)
    return added, shared


def _insert_messages(con: duckdb.DuckDBPyConnection, msgs, seen: StoredKeys | None, shared: set[int],
                     plain: bool = False) -> int:
    """Insert the messages whose id is not stored yet; returns how many. Without the index (a cold start, `seen`
    given) the ingest tells the stored ids apart itself (vault.ingest_keys), and adds to `shared` the files of those
    left out. `plain`: see `_write`."""
    cols = ", ".join(MESSAGE_COLUMNS)
    if seen is None and plain:
        with _registered(con, "_msgs", msgs):
            con.execute(f"INSERT INTO messages ({cols}) SELECT {cols} FROM _msgs")
        return msgs.num_rows
    if seen is None:
        before = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        with _registered(con, "_msgs", msgs):
            con.execute(f"INSERT OR IGNORE INTO messages ({cols}) SELECT {cols} FROM _msgs")
        return con.execute("SELECT count(*) FROM messages").fetchone()[0] - before
    keys = hashes(con, msgs, "msg_id")
    stored, _ = seen.stored(con, keys, msgs)
    if stored:
        import pyarrow as pa
        import pyarrow.compute as pc

        mask = pc.is_in(msgs["msg_id"], value_set=pa.array(stored, pa.string()))
        shared.update(msgs["file_id"].filter(mask).to_pylist())
    msgs, keys = _without(msgs, keys, "msg_id", stored)
    first = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    with _registered(con, "_msgs", msgs):
        con.execute(f"INSERT INTO messages ({cols}) SELECT {cols} FROM _msgs")
    seen.add(con, keys, first)
    return msgs.num_rows


def _upsert_calls(con: duckdb.DuckDBPyConnection, calls, seen: StoredKeys | None, plain: bool = False) -> None:
    """Insert new tool calls; a stored one takes each non-null field of the new row (its call or its result).
    `plain`: see `_write`."""
    cols = ", ".join(_TOOL_COLUMNS)
    if seen is None:
        with _registered(con, "_calls", calls):
            con.execute(f"INSERT INTO tool_calls ({cols}) SELECT {cols} FROM _calls" if plain else _TOOL_CALLS_SQL)
        return
    keys = hashes(con, calls, "tool_use_id")
    stored, span = seen.stored(con, keys, calls)
    if stored:  # updated where they were found (the span: the update reads only those row groups)
        where = f" AND tool_calls.rowid BETWEEN {span[0]} AND {span[1]}" if span else ""
        with _registered(con, "_calls", calls):
            con.execute(_TOOL_CALLS_UPDATE_SQL + where)
    calls, keys = _without(calls, keys, "tool_use_id", stored)
    first = con.execute("SELECT count(*) FROM tool_calls").fetchone()[0]
    with _registered(con, "_calls", calls):
        con.execute(f"INSERT INTO tool_calls ({cols}) SELECT {cols} FROM _calls")
    seen.add(con, keys, first)


def _without(rows, keys, key: str, values: list[str]):
    """`rows` (and `keys`, their hashes) without those whose `key` is one of `values`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not values:
        return rows, keys
    keep = pc.invert(pc.is_in(rows[key], value_set=pa.array(values, pa.string())))
    return rows.filter(keep), [h for h, k in zip(keys, keep.to_pylist(), strict=True) if k]


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, table) -> Iterator[None]:
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


def _key_checks(con: duckdb.DuckDBPyConnection) -> tuple[frozenset[str], frozenset[str]]:
    """The tables of M012_INDEXES whose key is checked by DuckDB (by their index or, before m012, a primary key), and
    those of them with their index: one catalog query (they were six per run, ~10 ms of a one-session ingest)."""
    rows = con.execute("SELECT index_name, NULL FROM duckdb_indexes() UNION ALL SELECT NULL, table_name "
                       "FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'").fetchall()
    names = {r[0] for r in rows if r[0] is not None}
    pks = {r[1] for r in rows if r[1] is not None}
    indexed = frozenset(t for t, name in M012_INDEXES.items() if name in names)
    return indexed | frozenset(t for t in M012_INDEXES if t in pks), indexed


def _keyed_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The tables of M012_INDEXES whose key is checked by DuckDB: by their index (or, before m012, a primary key)."""
    return _key_checks(con)[0]


def _cold_start(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Into a vault that holds no message nor tool call yet, rows go in without the key indexes (dropped here,
    built by `Ingester.finish`): maintaining them row by row cost a third of the writer's time, and their memory
    grew with the archive. Uniqueness is then kept by the ingest itself. Returns the tables still keyed."""
    keyed, indexed = _key_checks(con)
    droppable = [t for t in M012_INDEXES if t in indexed]
    if droppable and not any(con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT 1)").fetchone()[0]
                             for t in M012_INDEXES):
        with transaction(con):
            for t in droppable:
                con.execute(f"DROP INDEX {M012_INDEXES[t]}")
        keyed = _keyed_tables(con)
    return keyed


KEYS = {"messages": "msg_id", "tool_calls": "tool_use_id"}
MESSAGE_COLUMNS = ("msg_id", "session_id", "parent_id", "seq", "timestamp", "role", "kind", "text", "model", "turn_id",
                   "is_human", "is_sidechain", "agent_id", "tool_name", "tool_use_id", "is_error", "file_id",
                   "line_no", "extra", "on_main_branch")
_TOOL_COLUMNS = ("tool_use_id", "session_id", "call_msg_id", "name", "input", "result_msg_id", "result_text",
                 "is_error")
_TOOL_CALLS_SQL = f"""
    INSERT INTO tool_calls ({", ".join(_TOOL_COLUMNS)}) SELECT {", ".join(_TOOL_COLUMNS)} FROM _calls
    ON CONFLICT (tool_use_id) DO UPDATE SET
        {", ".join(f"{c} = coalesce(excluded.{c}, tool_calls.{c})" for c in _TOOL_COLUMNS[1:])}
"""
_TOOL_CALLS_UPDATE_SQL = f"""
    UPDATE tool_calls SET {", ".join(f"{c} = coalesce(u.{c}, tool_calls.{c})" for c in _TOOL_COLUMNS[1:])}
    FROM _calls u WHERE tool_calls.tool_use_id = u.tool_use_id
"""


def _merge_calls(calls):
    """A tool call met twice in the group (its call and its result in different files) as one row: the first
    copy's session, the last non-null value of each other field (one INSERT cannot touch a key twice)."""
    if arrow_small.all_distinct(calls["tool_use_id"]):
        return calls
    return arrow_small.merge_by_key(calls, "tool_use_id", "session_id")


# Up to this many sessions in a group, `_write_sessions` first asks which are stored (constants: their key's column
# scanned as a filter), and inserts them plainly when none is: INSERT ... ON CONFLICT DO UPDATE cost a new session
# file's one row 7.1-8.2 ms of CPU, the question and a plain INSERT 3.5-3.8 ms (one process each, load ~10).
FEW_SESSIONS = 64


def _write_sessions(con: duckdb.DuckDBPyConnection, parsed: list[tuple[int, Prepared]]) -> None:
    sessions: dict[str, list] = {}
    for file_id, res in parsed:
        for s in res.sessions:
            new = [*s, file_id]
            cur = sessions.get(s[0])
            if cur is None:
                sessions[s[0]] = new
            else:  # later non-null values win, the first file keeps the session
                sessions[s[0]] = [n if n is not None and i < len(new) - 1 else c
                                  for i, (c, n) in enumerate(zip(cur, new, strict=True))]
    if sessions:
        cols = (*SESSION_FIELDS, "file_id")
        updates = ", ".join(f"{c} = coalesce(excluded.{c}, sessions.{c})" for c in cols[2:-1])
        upsert = f" ON CONFLICT (session_id) DO UPDATE SET {updates}"
        if len(sessions) <= FEW_SESSIONS and not con.execute(
                f"SELECT count(*) FROM sessions WHERE session_id IN ({literals(sorted(sessions))})").fetchone()[0]:
            upsert = ""  # none stored yet (a new session file): a plain INSERT
        _with_table(con, "_up", cols, [tuple(v) for v in sessions.values()],
                    f"INSERT INTO sessions ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _up{upsert}")


def _next_seq(con, file_ids: list[int]) -> dict[int, int]:
    """The first free `seq` of each file: after its messages already stored (none after a rewrite)."""
    stored = dict(con.execute(
        f"SELECT file_id, max(seq) + 1 FROM messages WHERE file_id IN ({', '.join(map(str, file_ids))}) "
        "GROUP BY file_id").fetchall()) if file_ids else {}
    return {f: stored.get(f, f << SEQ_FILE_SHIFT) for f in file_ids}


def _with_table(con, name: str, cols, rows, sql: str) -> None:
    """Run `sql` with `rows` (tuples of `cols`) registered as the relation `name`."""
    import pyarrow as pa

    data = list(zip(*rows, strict=True))
    con.register(name, pa.table({c: pa.array(v) for c, v in zip(cols, data, strict=True)}))
    try:
        con.execute(sql)
    finally:
        con.unregister(name)


def ingest(con: duckdb.DuckDBPyConnection, paths: Iterable[Path | str], source: str | None = None,
           on_file: Callable[[Path, int], None] | None = None) -> IngestReport:
    """Ingest files or folders into the vault; see the module docstring."""
    return Ingester(con, source=source, on_file=on_file).run(Path(p) for p in paths)


__all__ = ["IngestReport", "Ingester", "ingest", "fingerprint", "walk", "Kind"]
