"""The small interface every source parser implements, and the shared JSONL reader.

A parser knows one format. It says whether a file is its own (`detect`) and turns the
file, from a byte offset on, into a `ParseResult`. Offsets, fingerprints,
transactions and dedupe are the ingest engine's business, not the parser's.
"""

from __future__ import annotations

import abc
import datetime as _dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson

from vault.model import LineError, ParseResult

HEAD_BYTES = 64 * 1024  # first bytes of a file that whole-document detectors look at
MAX_FIRST_LINE = 32 * 1024 * 1024  # ...extended to the end of its first line up to this
DETECT_RECORDS = 50  # parsable records a line-format detector may look at
DETECT_MAX_LINES = 10_000  # lines scanned for them: noise lines before the records are passed over
DETECT_MAX_LINE = 64 * 1024 * 1024  # a longer line is passed over by detection, not parsed (parsing reads it)
DETECT_MAX_BYTES = 2 * DETECT_MAX_LINE  # bytes scanned for them at most
_SKIP_CHUNK = 1 << 20
RESULT_TEXT_CHARS = 4000  # of a tool's output kept in tool_calls.result_text (the message keeps it whole)


@dataclass(frozen=True)
class Touched:
    """What an ingest run changed, for `Parser.finalize`: the session ids and file ids it (re)wrote.

    The session ids are also registered on the connection as the relation `TOUCHED` (one column,
    `session_id`), so a fix-up can join them in SQL.
    """

    sessions: list[str]
    files: list[int]
    # file id -> `Parser.keep` of its parse, for the files this run read whole and stored every message of: a fix-up
    # reads what it needs of them here, not from the vault. A touched file not listed: read it from the vault.
    kept: Mapping[int, Any] = field(default_factory=dict)


TOUCHED = "_touched"


class Parser(abc.ABC):
    """Base class of a source format. Subclasses set `name` (stored in files.source and sessions.source),
    `incremental` and `suffixes`, and implement `detect` and `parse`; `why_not` and `finalize` are optional.

    Built-in parsers are listed in `vault.sources.PARSERS`; another package adds one through the
    `vault.sources` entry point group (see docs/architecture.md).
    """

    name: ClassVar[str] = ""
    # Line-appended formats can be read from an offset; whole-document formats are re-read.
    incremental: ClassVar[bool] = True
    # File suffixes worth opening when walking a folder (empty: every file).
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl",)

    @abc.abstractmethod
    def detect(self, path: Path, head: Head) -> bool:
        """Whether `path` is this format, from what `head` shows of its start. Never raises on bad input."""

    def why_not(self, path: Path, head: Head) -> str | None:
        """Why a file that looks like this format is not a transcript of it (the reason `vault ingest`
        reports for an unrecognised file), or None to let other parsers explain."""
        return None

    @abc.abstractmethod
    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        """The file's rows from `start_offset` (line `start_line`) on; bad lines go to `errors`, never raise."""

    def keep(self, res: ParseResult) -> Any:
        """What `finalize` needs of a file read whole, taken from its parse where it was parsed (an ingest worker):
        handed back in `Touched.kept`. Small and picklable; None: nothing."""
        return None

    def finalize(self, con, touched: Touched) -> None:
        """Fix rows that span files or that a record read later changes. The engine calls it once per run for
        each format it read, in the transaction that refreshes the touched sessions (before their counts)."""


class Head:
    """What format detection sees of a file.

    `data`: its first HEAD_BYTES (extended through the first line): whole-document formats look for
    their keys there. `records()`: its first parsable JSON values, read lazily: line formats decide on
    those, so a file that starts with noise lines, or with one huge record, is still recognised.
    """

    def __init__(self, path: Path, data: bytes):
        self.path, self.data = path, data
        self._records: list[Any] = []
        self._offset = 0
        self._lines = 0
        self._done = False

    @classmethod
    def read(cls, path: Path) -> Head:
        with open(path, "rb") as fh:
            data = fh.read(HEAD_BYTES)
            if b"\n" not in data and len(data) == HEAD_BYTES:
                data += fh.readline(MAX_FIRST_LINE)
        return cls(path, data)

    def records(self, limit: int = DETECT_RECORDS) -> Iterator[Any]:
        """The first `limit` parsable JSON values of the file (lines that do not parse are passed over)."""
        i = 0
        while i < limit:
            if i == len(self._records):
                if self._done:
                    return
                self._read(1 if i == 0 else limit)  # the first record usually decides: read it alone
                continue
            yield self._records[i]
            i += 1

    def first_record(self) -> Any:
        return next(self.records(1), None)

    def _read(self, want: int) -> None:
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            while len(self._records) < want:
                budget_left = self._lines < DETECT_MAX_LINES and fh.tell() < DETECT_MAX_BYTES
                line = fh.readline(DETECT_MAX_LINE + 1) if budget_left else b""
                if not line:
                    self._done = True
                    break
                self._lines += 1
                if len(line) > DETECT_MAX_LINE:
                    while line and not line.endswith(b"\n") and fh.tell() < DETECT_MAX_BYTES:  # pass over it
                        line = fh.readline(_SKIP_CHUNK)
                    continue
                body = line.strip()
                if body:
                    try:
                        self._records.append(orjson.loads(body))
                    except orjson.JSONDecodeError:
                        pass
            self._offset = fh.tell()


def first_json_line(head: bytes) -> Any:
    """The first complete JSON line of `head`, or None."""
    for line in head.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
    return None


def iter_jsonl(
    path: Path, result: ParseResult, start_offset: int = 0, start_line: int = 0
) -> Iterator[tuple[int, int, dict[str, Any], str]]:
    """Yield (line_no, byte_offset, object, raw text) for each valid JSON object line.

    Malformed lines (bad UTF-8, bad JSON, not an object) go to `result.errors` with
    their 1-based line number and are skipped. A last line without its newline is a
    live writer's partial line: left for the next run unless it is already a complete
    JSON object. `result.end_offset` ends after the last line consumed, `result.end_line` is its number.
    """
    result.end_offset = start_offset
    result.end_line = line_no = start_line
    with open(path, "rb") as fh:
        # The last run may have consumed a complete JSON line whose newline was not written yet:
        # that newline, arriving now, ends the line already counted.
        continuation = False
        if start_offset > 0:
            fh.seek(start_offset - 1)
            continuation = fh.read(1) != b"\n"
        fh.seek(start_offset)
        offset = start_offset
        for line in fh:
            complete = line.endswith(b"\n")
            if continuation:
                continuation = False
                if complete and not line.strip():
                    offset += len(line)
                    result.end_offset = offset
                    continue
            body = line.rstrip(b"\r\n") if complete else line
            if not complete:
                try:
                    obj = orjson.loads(body) if body.strip() else None
                except orjson.JSONDecodeError:
                    return  # partial line of a live session: next run
                if obj is None:
                    return
            line_no += 1
            here = offset
            offset += len(line)
            result.end_offset, result.end_line = offset, line_no
            if not body.strip():
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                result.errors.append(LineError(line_no, f"invalid UTF-8 at byte {e.start}"))
                continue
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                # one line of JSON Lines: orjson's "line 1 column 380 (char 379)" read as a second line number
                result.errors.append(LineError(line_no, f"invalid JSON at column {e.colno}: {e.msg}"))
                continue
            if not isinstance(obj, dict):
                result.errors.append(LineError(line_no, f"expected a JSON object, got {type(obj).__name__}"))
                continue
            yield line_no, here, obj, text


def as_text(value: Any) -> str:
    """Flatten message content (a string, or a list of blocks) to plain text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for b in value:
            if isinstance(b, str):
                parts.append(b)
            elif isinstance(b, dict):
                t = b.get("text")
                if isinstance(t, str):
                    parts.append(t)
                elif b.get("type") == "tool_result":
                    parts.append(as_text(b.get("content")))
                elif isinstance(b.get("content"), (str, list)):
                    parts.append(as_text(b.get("content")))
        return "\n".join(p for p in parts if p)
    if isinstance(value, dict):
        return as_text(value.get("text") or value.get("content") or value.get("parts"))
    return str(value)


def json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_ISO_TS = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?")


def timestamp(value: Any) -> str | None:
    """An ISO timestamp the store can cast, from an ISO string or epoch seconds / milliseconds; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        secs = value / 1000 if value > 1e11 else value  # milliseconds
        try:
            return _dt.datetime.fromtimestamp(secs, _dt.UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not _ISO_TS.fullmatch(value):
        return None
    try:
        _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


# The arguments that tell most about a tool call, in the order looked for (`tool_summary`). Claude Code's own: its
# Task calls are named by their description, and its tools have no `cmd` or `absolute_path`.
SUMMARY_KEYS = ("command", "cmd", "file_path", "path", "absolute_path", "pattern", "url", "query", "prompt")
CLAUDE_CODE_SUMMARY_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt")


def tool_summary(name: str, args: Any, keys: tuple[str, ...] = SUMMARY_KEYS) -> str:
    """One line naming a tool call and its most telling argument: the first of `keys` it has (a list joined), else
    its first argument names; a string argument as it is (cut to 200 characters, on one line)."""
    if isinstance(args, dict):
        for key in keys:
            v = args.get(key)
            if isinstance(v, list):
                v = " ".join(str(x) for x in v)
            if isinstance(v, str) and v:
                return f"{name}({key}={v.replace(chr(10), ' ')[:200]})"
        return f"{name}({', '.join(list(args)[:4])})"
    if isinstance(args, str) and args:
        return f"{name}({args.replace(chr(10), ' ')[:200]})"
    return f"{name}()"
