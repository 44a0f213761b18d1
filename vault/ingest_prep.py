"""One file's parse made ready for the writer: the part of an ingest that runs in a worker process.

The parser's objects become Arrow tables (cheap to send between processes, inserted by DuckDB with no
Python loop), the raw records zstd frames, and the fingerprint of what was read is taken here: the one
writing process (`vault.ingest`) is left with DuckDB statements. With `ingest.workers = 1` the same
function runs in the writing process, so one worker and several give the same rows.
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from vault import rawstore
from vault.model import REASON_CHARS, ParseResult, ToolCall
from vault.sources.base import RESULT_TEXT_CHARS, Parser, json_dumps
from vault.sources.documents import member_limit
from vault.walk import escape_name, fingerprint, path_key

# Session fields in the order the writer merges and stores them (the writer adds file_id).
SESSION_FIELDS = ("session_id", "source", "project", "cwd", "git_branch", "title", "parent_session_id",
                  "parent_tool_use_id", "agent_id", "agent_type", "user_id", "version", "model")


@functools.cache
def message_schema():
    """Columns of `messages` a parse gives (the writer adds seq and file_id), then `ordinal`: the message's
    rank in its file by (line, position in the line), duplicates counted."""
    import pyarrow as pa

    s, b = pa.string(), pa.bool_()
    return pa.schema([("msg_id", s), ("session_id", s), ("parent_id", s), ("timestamp", s), ("role", s),
                      ("kind", s), ("text", s), ("model", s), ("turn_id", s), ("is_human", b), ("is_sidechain", b),
                      ("agent_id", s), ("tool_name", s), ("tool_use_id", s), ("is_error", b),
                      ("line_no", pa.int32()), ("extra", s), ("on_main_branch", b), ("ordinal", pa.int64())])


@functools.cache
def tool_call_schema():
    import pyarrow as pa

    s = pa.string()
    return pa.schema([("tool_use_id", s), ("session_id", s), ("call_msg_id", s), ("name", s), ("input", s),
                      ("result_msg_id", s), ("result_text", s), ("is_error", pa.bool_())])


class Job(NamedTuple):
    """What to read of one file (picklable: sent to a worker process)."""

    parser: Parser
    path: Path
    start: int
    start_line: int
    max_member_mb: int
    size: int  # source bytes to read (to bound what is in flight)


@dataclass
class Prepared:
    """One file's parse, ready to store."""

    frames: list[bytes]  # raw records, zstd (rawstore.pack_records)
    records: Any  # Arrow table, rawstore.packed_schema()
    sessions: list[tuple]  # SESSION_FIELDS values, in the parser's order
    messages: Any  # Arrow table, message_schema(), in file order
    tool_calls: Any  # Arrow table, tool_call_schema(), in the parser's order
    session_ids: list[str]  # every session the rows belong to (derived again by `Ingester.finish`)
    errors: list[tuple[int, str, str]]  # (line, reason, unit) of what was skipped (vault.model.LineError)
    unknown_types: dict[str, int]
    end_offset: int
    end_line: int | None
    last_line: int  # the last line (or item) seen, for whole documents that have no end_line
    fingerprint: str | None
    # `Parser.keep` of a file read whole (`Touched.kept`), pickled: the writer holds it until `Ingester.finish`, one per
    # file of a cold run, and as objects it grew with the file count (4 GB bench archive: 1.6 MB at the last commits).
    kept: bytes | None = None
    kept_bytes: int = 0  # len(kept)


@dataclass
class Failed:
    reason: str  # "cannot parse: ..." or "cannot store: ...", one line


def prepare(job: Job) -> Prepared | Failed:
    """Parse the file and convert the result; never raises for a bad file."""
    try:
        with member_limit(job.max_member_mb):
            res = job.parser.parse(job.path, job.start, job.start_line)
    except Exception as e:  # a parser bug or an I/O error sinks this file only
        return Failed(f"cannot parse: {one_line(e)}")
    if path_key(job.path) != str(job.path):
        _escape_strings(res)
    try:
        fp = fingerprint(job.path, res.end_offset) if job.parser.incremental else None
    except OSError as e:
        return Failed(f"cannot parse: {one_line(e)}")
    try:
        return _convert(res, fp, _keep(job, res))
    except Exception as e:  # a value Arrow or DuckDB cannot hold (a lone surrogate from a parser bug)
        return Failed(f"cannot store: {one_line(e)}")


def _keep(job: Job, res: ParseResult) -> Any:
    """`Parser.keep` of a file read whole; None for a tail, or if it fails (`finalize` then reads the vault)."""
    if job.start:
        return None
    try:
        return job.parser.keep(res)
    except Exception:
        return None


def one_line(e: Exception) -> str:
    text = " ".join(str(e).split()) or "no details"
    return f"{type(e).__name__}: {text}"[:REASON_CHARS]


def _convert(res: ParseResult, fp: str | None, kept: Any = None) -> Prepared:
    frames, records = rawstore.pack_records(
        [(r.line_no, r.byte_offset, r.record_type, r.record_id, r.parent_id, r.session_id, r.raw) for r in res.raw])
    msgs = sorted(res.messages, key=lambda m: (m.line_no, m.sub))
    messages = _table(message_schema(), [
        (m.msg_id, m.session_id, m.parent_id, m.timestamp, m.role, m.kind, m.text, m.model, m.turn_id, m.is_human,
         m.is_sidechain, m.agent_id, m.tool_name, m.tool_use_id, m.is_error, m.line_no,
         json_dumps(m.extra) if m.extra else None, m.on_main_branch, ordinal) for ordinal, m in enumerate(msgs)])
    text: dict[str, str] = {}
    for m in msgs:
        text.setdefault(m.msg_id, m.text or "")
    tool_calls = _table(tool_call_schema(), [
        (t.tool_use_id, t.session_id, t.call_msg_id, t.name, json_dumps(t.input) if t.input is not None else None,
         t.result_msg_id, _own_result_text(t, text), t.is_error) for t in res.tool_calls])
    sessions = [tuple(getattr(s, f) for f in SESSION_FIELDS) for s in res.sessions.values()]
    session_ids = sorted({s[0] for s in sessions} | {m.session_id for m in msgs})
    last = max([r.line_no for r in res.raw[-1:]] + [e.line for e in res.errors[-1:]] + [0])
    pickled = pickle.dumps(kept) if kept is not None else None
    return Prepared(frames, records, sessions, messages, tool_calls, session_ids,
                    [(e.line, e.reason, e.unit) for e in res.errors], res.unknown_types, res.end_offset, res.end_line, last, fp,
                    pickled, len(pickled) if pickled is not None else 0)


def _own_result_text(t: ToolCall, text: dict[str, str]) -> str | None:
    """`result_text` unless it is the start of its result message's text (in this file), stored once there
    (the view `tool_results` gives the output either way)."""
    msg = text.get(t.result_msg_id) if t.result_msg_id else None
    if t.result_text is not None and msg is not None and t.result_text == msg[:RESULT_TEXT_CHARS]:
        return None
    return t.result_text


def _table(schema, rows: list[tuple]):
    import pyarrow as pa

    cols = list(zip(*rows, strict=True)) or [()] * len(schema)
    return pa.Table.from_arrays([pa.array(c, t) for c, t in zip(cols, schema.types, strict=True)], schema=schema)


def _escape_strings(res: ParseResult) -> None:
    """Escape, as `path_key` does, the strings a parser made from a file name that is not UTF-8 (ids, projects)."""
    for obj in (*res.sessions.values(), *res.messages, *res.tool_calls, *res.raw):
        for name in obj.__slots__:
            value = getattr(obj, name)
            if isinstance(value, str):
                setattr(obj, name, escape_name(value))
    res.sessions = {s.session_id: s for s in res.sessions.values()}
