"""The ingest engine: walk paths, pick a parser, read what is new, commit with the offsets.

Walking and change detection are in `vault.walk`, what is derived across files in `vault.derive`
(after each parser's `finalize`); this module is the batch engine between them.

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

import datetime as _dt
import errno
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import duckdb

from vault import rawstore
from vault.bulk import insert_rows
from vault.derive import derive_sessions
from vault.faults import crash_point
from vault.model import REASON_CHARS, Kind, ParseResult, ToolCall
from vault.sources import detect_parser, parser_by_name, read_head, unrecognised_reason
from vault.sources.base import RESULT_TEXT_CHARS, TOUCHED, Parser, Touched, json_dumps
from vault.sources.documents import member_limit
from vault.store import bump_content_version, transaction
from vault.walk import SPECIAL_FILE_TYPES, FileRow, escape_name, fingerprint, folder_reason, path_key, real_stat, walk

if TYPE_CHECKING:
    from vault.settings import IngestSettings
    from vault.settings_light import IngestDefaults

# `seq` orders messages: (file_id << SEQ_FILE_SHIFT) + the message's ordinal in its file (by line, then
# position in the line). An appended tail continues after the file's highest ordinal.
SEQ_FILE_SHIFT = 40
# DuckDB settings while ingesting. Each checkpoint rewrites the whole primary-key indexes, so the
# default (every 16 MB of WAL) made a cold ingest quadratic; a memory cap keeps RSS flat in archive size.
INGEST_SETTINGS = {"checkpoint_threshold": "256MB", "memory_limit": "1GB"}
# A group of parsed files commits together once it holds `batch_bytes` source bytes (the
# `ingest.batch_bytes` setting: smaller groups commit more often, at some speed cost) or this many files.
BATCH_FILES = 200


class Plan(NamedTuple):
    """What to read of one file: from `start` (byte) / `start_line` on, replacing its rows or not."""

    path: Path
    st: os.stat_result
    row: FileRow | None
    parser: Parser
    start: int
    start_line: int
    replace: bool


@dataclass
class IngestReport:
    files: int = 0  # files read this run (new or changed)
    files_unchanged: int = 0
    records: int = 0
    messages_added: int = 0
    skipped_lines: int = 0
    errors: list[dict] = field(default_factory=list)
    unrecognised: list[dict] = field(default_factory=list)
    unknown_types: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    sessions_touched: int = 0

    def as_contract(self) -> dict:
        d = asdict(self)
        d.pop("sessions_touched")
        return d


class Ingester:
    def __init__(self, con: duckdb.DuckDBPyConnection, source: str | None = None,
                 on_file: Callable[[Path, int], None] | None = None, batch_bytes: int | None = None,
                 settings: IngestSettings | IngestDefaults | None = None):
        if settings is None:  # the defaults, without loading pydantic for them
            from vault.settings_light import IngestDefaults

            settings = IngestDefaults()
        self.batch_bytes = batch_bytes if batch_bytes is not None else settings.batch_bytes
        self.max_member_mb = settings.max_member_mb
        self.con = con
        self.forced: Parser | None = parser_by_name(source) if source else None
        self.on_file = on_file
        self.report = IngestReport()
        for key, value in INGEST_SETTINGS.items():
            con.execute(f"SET {key} = '{value}'")
        self.known = {
            r[1]: FileRow(*r)
            for r in con.execute(
                "SELECT file_id, path, source, size, mtime, byte_offset, fingerprint, lines FROM files"
            ).fetchall()
        }

    # -- public ---------------------------------------------------------------------
    def run(self, paths: Iterable[Path]) -> IngestReport:
        self.ingest_files(walk(paths))
        self.finish()
        return self.report

    def ingest_files(self, paths: Iterable[Path]) -> None:
        """Read and commit each path (each once even when named twice), a group of files per transaction."""
        seen: set[Path] = set()
        batch: list[tuple[Plan, ParseResult]] = []
        size = 0
        for path in paths:
            plan = self._plan(path, seen)
            if plan is None:
                continue
            res = self._parse(plan)
            if res is None:
                continue
            batch.append((plan, res))
            size += plan.st.st_size - plan.start
            if self.on_file:
                self.on_file(plan.path, plan.st.st_size)
            if size >= self.batch_bytes or len(batch) >= BATCH_FILES:
                self._commit_group(batch)
                batch, size = [], 0
        if batch:
            self._commit_group(batch)

    def _parse(self, plan: Plan) -> ParseResult | None:
        try:
            with member_limit(self.max_member_mb):
                res = plan.parser.parse(plan.path, plan.start, plan.start_line)
        except Exception as e:  # a parser bug or an I/O error sinks this file only
            self._path_error(plan.path, f"cannot parse: {_one_line(e)}")
            return None
        if path_key(plan.path) != str(plan.path):
            _escape_strings(res)
        return res

    def _commit_group(self, batch: list[tuple[Plan, ParseResult]]) -> None:
        """Commit a group of files; if that fails, each file alone, so one bad file loses nothing else."""
        try:
            self._commit(batch)
        except Exception as e:  # DuckDB out of memory, a value it cannot store, ...
            if len(batch) > 1:
                for item in batch:
                    self._commit_group([item])
            else:
                self._path_error(batch[0][0].path, f"cannot store: {_one_line(e)}")

    def _path_error(self, path: Path, reason: str) -> None:
        self.report.errors.append({"file": path_key(path), "line": 0, "reason": reason[:REASON_CHARS]})

    def _plan(self, path: Path, seen: set[Path]) -> Plan | None:
        """What to read of `path` (None: nothing, it is unchanged, unreadable or not a transcript)."""
        absolute = os.path.abspath(path)
        path = path if absolute == str(path) else Path(absolute)
        try:  # folders resolved once per run: most files then cost one lstat
            real, st = real_stat(path, self.__dict__.setdefault("_real_dirs", {}))
        except RuntimeError:  # Python < 3.13 reports a symlink loop this way
            return self._path_error(path, "symlink loop")
        except OSError as e:
            why = ("symlink loop" if e.errno == errno.ELOOP else
                   "broken symlink" if e.errno == errno.ENOENT and path.is_symlink() else f"cannot read: {e.strerror}")
            return self._path_error(path, why)
        if real in seen:
            return None
        seen.add(real)
        if stat.S_ISDIR(st.st_mode):
            return self._path_error(path, folder_reason(real))
        if not stat.S_ISREG(st.st_mode):
            what = next((name for test, name in SPECIAL_FILE_TYPES if test(st.st_mode)), "a special file")
            return self._path_error(path, f"not a regular file: {what}")
        path = real
        row = self.known.get(path_key(path))
        if row and row.size == st.st_size and row.mtime == st.st_mtime:
            self.report.files_unchanged += 1
            if self.on_file:
                self.on_file(path, st.st_size)
            return None
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

    def finish(self) -> None:
        """Derived fields that span files: each format's fix-ups (`Parser.finalize`), session bounds and
        counts, subagent links.

        It derives what the file commits recorded as pending (`pending_sessions`, `pending_files`),
        including what an earlier, interrupted run left, and clears it in the same transaction.
        """
        crash_point("files-done")
        con = self.con
        with transaction(con):
            sessions = [r[0] for r in con.execute("SELECT session_id FROM pending_sessions ORDER BY 1").fetchall()]
            files = [r[0] for r in con.execute("SELECT file_id FROM pending_files ORDER BY 1").fetchall()]
            if sessions or files:
                self._derive(sessions, files)
                con.execute("DELETE FROM pending_sessions")
                con.execute("DELETE FROM pending_files")
                bump_content_version(con)
                crash_point("in-finish")
        crash_point("finish-committed")
        if sessions or files:
            con.execute("CHECKPOINT")
        self._reset_settings()
        self.report.sessions_touched = len(sessions)

    def _derive(self, sessions: list[str], files: list[int]) -> None:
        import pyarrow as pa

        con = self.con
        sources = [r[0] for r in con.execute(
            "SELECT DISTINCT source FROM files WHERE file_id IN (SELECT file_id FROM pending_files) ORDER BY 1"
        ).fetchall()]
        con.register(TOUCHED, pa.table({"session_id": pa.array(sessions, pa.string())}))
        try:
            touched = Touched(sessions, files)
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

    def _commit(self, batch: list[tuple[Plan, ParseResult]]) -> None:
        """One transaction: every file of the batch with its rows and its new offset."""
        con = self.con
        with transaction(con):
            file_ids = []
            for (path, _, row, parser, _, _, replace), _res in batch:
                if row is None:
                    file_ids.append(con.execute(
                        "INSERT INTO files (file_id, path, source) VALUES (nextval('file_ids'), ?, ?) RETURNING file_id",
                        [path_key(path), parser.name],
                    ).fetchone()[0])
                    continue
                file_ids.append(row[0])
                if replace:  # the sessions it held are derived again, even one the new text lacks
                    con.execute("INSERT OR IGNORE INTO pending_sessions "
                                "SELECT DISTINCT session_id FROM messages WHERE file_id = ?", [row[0]])
                    rawstore.delete_files(con, [row[0]])
                    con.execute("DELETE FROM messages WHERE file_id = ?", [row[0]])
            added = _write(con, [(fid, res) for fid, (_, res) in zip(file_ids, batch, strict=True)])
            updates = []
            for file_id, ((path, st, row, parser, _, _, replace), res) in zip(file_ids, batch, strict=True):
                fp = fingerprint(path, res.end_offset) if parser.incremental else None
                lines = _line_count(res, row, replace)
                keep = int(not replace)
                updates.append((parser.name, st.st_size, st.st_mtime, res.end_offset, fp, keep, lines, keep,
                                len(res.raw), keep, len(res.errors), _dt.datetime.now(), file_id))
                self.known[path_key(path)] = FileRow(file_id, path_key(path), parser.name, st.st_size, st.st_mtime,
                                                     res.end_offset, fp,
                                                     (0 if (replace or row is None) else row.lines) + lines)
            con.executemany(
                "UPDATE files SET source=?, size=?, mtime=?, byte_offset=?, fingerprint=?, "
                "lines=lines*?::INT + ?, records=records*?::INT + ?, errors=errors*?::INT + ?, ingested_at=? "
                "WHERE file_id=?", updates,
            )
            _mark_pending(con, file_ids, [res for _, res in batch])
            crash_point("in-file-commit")
        crash_point("file-commit")
        rep = self.report
        rep.messages_added += added
        for file_id, ((path, _, _, parser, _, _, _), res) in zip(file_ids, batch, strict=True):
            rep.files += 1
            rep.records += len(res.raw)
            rep.skipped_lines += len(res.errors)
            rep.errors.extend({"file": path_key(path), "line": e.line, "reason": e.reason} for e in res.errors)
            for t, n in res.unknown_types.items():
                rep.unknown_types[t] = rep.unknown_types.get(t, 0) + n
            rep.by_source[parser.name] = rep.by_source.get(parser.name, 0) + 1


def _mark_pending(con: duckdb.DuckDBPyConnection, file_ids: list[int], results: list[ParseResult]) -> None:
    """Record, in the transaction of the rows, what `finish` derives from them (see m005_pending_derivations).

    Content changed too: the search indexes compare the content version with the one they were built at.
    """
    sessions = {sid for res in results for sid in res.sessions} | {m.session_id for res in results
                                                                   for m in res.messages}
    insert_rows(con, "pending_sessions", ("session_id",), ((sid,) for sid in sorted(sessions)), conflict="OR IGNORE")
    insert_rows(con, "pending_files", ("file_id",), ((fid,) for fid in file_ids), conflict="OR IGNORE")
    bump_content_version(con)


def _line_count(res: ParseResult, row: FileRow | None, replace: bool) -> int:
    """Lines consumed by this parse (blank ones too): where it ended minus where it started."""
    start = 0 if (replace or row is None) else row.lines
    if res.end_line is not None:
        return max(0, res.end_line - start)
    last = max([r.line_no for r in res.raw[-1:]] + [e.line for e in res.errors[-1:]] + [0])  # whole documents
    return max(0, last - start)


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split()) or "no details"
    return f"{type(e).__name__}: {text}"[:REASON_CHARS]


def _escape_strings(res: ParseResult) -> None:
    """Escape, as `path_key` does, the strings a parser made from a file name that is not UTF-8 (ids, projects)."""
    for obj in (*res.sessions.values(), *res.messages, *res.tool_calls, *res.raw):
        for name in obj.__slots__:
            value = getattr(obj, name)
            if isinstance(value, str):
                setattr(obj, name, escape_name(value))
    res.sessions = {s.session_id: s for s in res.sessions.values()}


def _write(con: duckdb.DuckDBPyConnection, parsed: list[tuple[int, ParseResult]]) -> int:
    """Insert the rows of several parses; returns the number of new messages (duplicates stored once).

    Rows met twice (a session in its main and subagent files, a tool call and its result, a
    message repeated by a resume) are merged here first: one INSERT cannot touch a key twice.
    """
    rawstore.write_records(
        con, ((file_id, r.line_no, r.byte_offset, r.record_type, r.record_id, r.parent_id, r.session_id, r.raw)
              for file_id, res in parsed for r in res.raw))
    sess_cols = ("session_id", "source", "project", "cwd", "git_branch", "title", "parent_session_id",
                 "parent_tool_use_id", "agent_id", "agent_type", "user_id", "version", "model", "file_id")
    sessions: dict[str, list] = {}
    for file_id, res in parsed:
        for s in res.sessions.values():
            new = [getattr(s, c) for c in sess_cols[:-1]] + [file_id]
            cur = sessions.get(s.session_id)
            if cur is None:
                sessions[s.session_id] = new
            else:  # later non-null values win, the first file keeps the session
                sessions[s.session_id] = [n if n is not None and i < len(new) - 1 else c
                                          for i, (c, n) in enumerate(zip(cur, new, strict=True))]
    if sessions:
        updates = ", ".join(f"{c} = coalesce(excluded.{c}, sessions.{c})" for c in sess_cols[2:-1])
        _upsert(con, "sessions", sess_cols, [tuple(v) for v in sessions.values()],
                f"ON CONFLICT (session_id) DO UPDATE SET {updates}")
    before = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    seen: dict[str, tuple] = {}
    next_seq = _next_seq(con, [file_id for file_id, _ in parsed])
    for file_id, res in parsed:
        first = next_seq[file_id]
        for ordinal, m in enumerate(sorted(res.messages, key=lambda m: (m.line_no, m.sub))):
            if m.msg_id in seen:
                continue
            seen[m.msg_id] = (
                m.msg_id, m.session_id, m.parent_id, first + ordinal,
                m.timestamp, m.role, m.kind, m.text, m.model, m.turn_id, m.is_human, m.is_sidechain, m.agent_id,
                m.tool_name, m.tool_use_id, m.is_error, file_id, m.line_no,
                json_dumps(m.extra) if m.extra else None, m.on_main_branch,
            )
    insert_rows(
        con, "messages",
        ("msg_id", "session_id", "parent_id", "seq", "timestamp", "role", "kind", "text", "model", "turn_id",
         "is_human", "is_sidechain", "agent_id", "tool_name", "tool_use_id", "is_error", "file_id", "line_no",
         "extra", "on_main_branch"),
        seen.values(), conflict="OR IGNORE",
    )
    merged: dict[str, ToolCall] = {}
    for _, res in parsed:
        for t in res.tool_calls:
            cur = merged.get(t.tool_use_id)
            if cur is None:
                merged[t.tool_use_id] = t
                continue
            for f in ("call_msg_id", "name", "input", "result_msg_id", "result_text", "is_error"):
                if getattr(t, f) is not None:
                    setattr(cur, f, getattr(t, f))
    if merged:
        cols = ("tool_use_id", "session_id", "call_msg_id", "name", "input", "result_msg_id", "result_text",
                "is_error")
        updates = ", ".join(f"{c} = coalesce(excluded.{c}, tool_calls.{c})" for c in cols[1:])
        _upsert(con, "tool_calls", cols,
                [(t.tool_use_id, t.session_id, t.call_msg_id, t.name,
                  json_dumps(t.input) if t.input is not None else None, t.result_msg_id,
                  _own_result_text(t, seen), t.is_error) for t in merged.values()],
                f"ON CONFLICT (tool_use_id) DO UPDATE SET {updates}")
    return con.execute("SELECT count(*) FROM messages").fetchone()[0] - before


def _own_result_text(t: ToolCall, messages: dict[str, tuple]) -> str | None:
    """`result_text` unless it is the start of its result message's text, stored once there (view `tool_results`)."""
    msg = messages.get(t.result_msg_id) if t.result_msg_id else None
    if t.result_text is not None and msg is not None and t.result_text == (msg[7] or "")[:RESULT_TEXT_CHARS]:
        return None
    return t.result_text


def _next_seq(con, file_ids: list[int]) -> dict[int, int]:
    """The first free `seq` of each file: after its messages already stored (none after a rewrite)."""
    stored = dict(con.execute(
        f"SELECT file_id, max(seq) + 1 FROM messages WHERE file_id IN ({', '.join(map(str, file_ids))}) "
        "GROUP BY file_id").fetchall()) if file_ids else {}
    return {f: stored.get(f, f << SEQ_FILE_SHIFT) for f in file_ids}


def _upsert(con, table: str, cols, rows, clause: str) -> None:
    import pyarrow as pa

    if not rows:
        return
    data = list(zip(*rows, strict=True))
    con.register("_up", pa.table({c: pa.array(v) for c, v in zip(cols, data, strict=True)}))
    try:
        collist = ", ".join(cols)
        con.execute(f"INSERT INTO {table} ({collist}) SELECT {collist} FROM _up {clause}")
    finally:
        con.unregister("_up")


def ingest(con: duckdb.DuckDBPyConnection, paths: Iterable[Path | str], source: str | None = None,
           on_file: Callable[[Path, int], None] | None = None) -> IngestReport:
    """Ingest files or folders into the vault; see the module docstring."""
    return Ingester(con, source=source, on_file=on_file).run(Path(p) for p in paths)


__all__ = ["IngestReport", "Ingester", "ingest", "fingerprint", "walk", "Kind"]
