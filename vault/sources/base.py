"""The small interface every source parser implements, and the shared JSONL reader.

A parser knows one format. It says whether a file is its own (`detect`) and turns the
file, from a byte offset on, into a `ParseResult`. Offsets, fingerprints,
transactions and dedupe are the ingest engine's business, not the parser's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson

from vault.model import LineError, ParseResult

# Lines above this size are still read (a 10 MB tool output is real), but not kept raw twice.
MAX_LINE_BYTES = 64 * 1024 * 1024


class Parser:
    """Base class: subclasses set `name`, `incremental`, and implement `detect` and `parse`."""

    name: ClassVar[str] = ""
    # Line-appended formats can be read from an offset; whole-document formats are re-read.
    incremental: ClassVar[bool] = True
    # File suffixes worth opening when walking a folder.
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl",)

    def detect(self, path: Path, head: bytes) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:  # pragma: no cover
        raise NotImplementedError

    def after_ingest(self, con) -> None:
        """Fix rows that a record read later changes (the engine calls it once per run, in the
        transaction that refreshes the sessions, with the touched session ids registered as `_touched`)."""


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
    JSON object. `result.end_offset` ends after the last line consumed.
    """
    result.end_offset = start_offset
    line_no = start_line
    with open(path, "rb") as fh:
        fh.seek(start_offset)
        offset = start_offset
        for line in fh:
            complete = line.endswith(b"\n")
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
            result.end_offset = offset
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
                result.errors.append(LineError(line_no, f"invalid JSON: {e}"[:300]))
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
