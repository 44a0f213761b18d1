"""Source parsers, one module per archive format, behind `vault.sources.base.Parser`.

`parsers()` is tried in order by `detect_parser`: the built-in table `PARSERS` (most specific formats
first), then the parsers other packages register under the `vault.sources` entry point group, then
neutral JSONL (any line with a message list) last. A parser may also say why a file it knows is not
a transcript (`why_not`), which `unrecognised_reason` reports.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

from vault.errors import VaultError
from vault.sources.base import Head, Parser
from vault.sources.chatgpt import ChatGPTParser
from vault.sources.claude_ai import ClaudeAiParser
from vault.sources.claude_code import ClaudeCodeParser
from vault.sources.codex import CodexParser
from vault.sources.gemini import GeminiParser
from vault.sources.neutral import NeutralParser

PARSERS: list[Parser] = [ClaudeCodeParser(), CodexParser(), GeminiParser(), ChatGPTParser(), ClaudeAiParser()]
CATCH_ALL: Parser = NeutralParser()  # takes any JSONL with a message list: tried after every other parser
ENTRY_POINT_GROUP = "vault.sources"


@functools.cache
def parsers() -> tuple[Parser, ...]:
    """Every parser in detection order: built-in, then registered by other packages, then the catch-all."""
    return (*PARSERS, *_registered(), CATCH_ALL)


def _registered() -> list[Parser]:
    """Parsers of the `vault.sources` entry points: each names a `Parser` subclass (or an instance)."""
    from importlib.metadata import entry_points

    known = {p.name for p in (*PARSERS, CATCH_ALL)}
    found: list[Parser] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            parser = obj() if isinstance(obj, type) else obj
        except Exception as e:  # a broken plugin: say which, in one line
            raise VaultError(f"source plugin {ep.name!r} ({ep.value}) cannot be loaded: {type(e).__name__}: {e}") from e
        if not isinstance(parser, Parser) or not parser.name:
            raise VaultError(f"source plugin {ep.name!r} ({ep.value}) is not a vault.sources.base.Parser with a name")
        if parser.name in known:
            raise VaultError(f"source plugin {ep.name!r} ({ep.value}) reuses the format name {parser.name!r}")
        known.add(parser.name)
        found.append(parser)
    return found


def parser_by_name(name: str) -> Parser:
    # A built-in name first: the plugins' entry points (importlib.metadata, a scan of sys.path: ~20 ms) are read
    # only for another name; a plugin cannot take a built-in's name (`_registered`).
    for p in (*PARSERS, CATCH_ALL):
        if p.name == name:
            return p
    for p in parsers():
        if p.name == name:
            return p
    raise KeyError(f"unknown source {name!r}; known: {', '.join(p.name for p in parsers())}")


def read_head(path: Path) -> Head:
    """What detection sees of `path`: its first bytes, and its first parsable records on demand."""
    return Head.read(path)


def detect_parser(path: Path, head: Head | None = None) -> Parser | None:
    if head is None:
        head = read_head(path)
    # The built-in parsers come first in `parsers()`: when one takes the file, the plugins' entry points
    # (importlib.metadata, ~20 ms of a new session file's ingest) are not read.
    return _detect(PARSERS, path, head) or _detect(parsers()[len(PARSERS):], path, head)


def _detect(candidates, path: Path, head: Head) -> Parser | None:
    for p in candidates:
        if path.suffix.lower() in p.suffixes or not p.suffixes:
            try:
                if p.detect(path, head):
                    return p
            except OSError:
                raise
            except Exception:  # a detector must never sink the walk
                continue
    return None


def candidate_suffixes() -> set[str]:
    return {s for p in parsers() for s in p.suffixes}


def unrecognised_reason(path: Path) -> str:
    """Why no parser took `path`, as specifically as its first bytes tell."""
    try:
        head = read_head(path)
    except OSError as e:
        return f"cannot read: {e.strerror}"
    for p in parsers():
        try:
            reason = p.why_not(path, head)
        except Exception:  # a hint must never sink the walk
            reason = None
        if reason:
            return reason
    body = head.data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        return "empty file"
    if head.data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n.rsplit("/", 1)[-1] for n in zf.namelist()]
        except (zipfile.BadZipFile, OSError):
            return "a damaged or truncated zip archive"
        if "conversations.json" in names:
            return "zip archive whose conversations.json has no 'mapping' (ChatGPT) or 'chat_messages' (Claude.ai)"
        return "zip archive without a conversations.json (not a ChatGPT or Claude.ai export)"
    if body.startswith(b"["):
        if body.rstrip().replace(b" ", b"") in (b"[]",):
            return "an empty JSON array: nothing to ingest"
        return "JSON array but no 'mapping' (ChatGPT) or 'chat_messages' (Claude.ai) in its first conversation"
    try:
        obj = head.first_record()
    except OSError as e:
        return f"cannot read: {e.strerror}"
    if isinstance(obj, dict):
        keys = ", ".join(list(obj)[:8])
        return (f"JSON lines whose first parsable record ({{{keys}}}) matches no format: not Claude Code (type + sessionId), "
                "Codex (type + payload), Gemini (sessionId + projectHash) or neutral (a 'messages', "
                "'conversation' or 'conversations' list)")
    if body.startswith(b"{"):
        return "a JSON object that is no known export (or a truncated document)"
    return "not JSON or JSON lines"
