"""Source parsers, one module per archive format, behind `vault.sources.base.Parser`.

`parsers()` is tried in order by `detect_parser`: the built-in parsers (`BUILTIN`, most specific formats
first), then the parsers other packages register under the `vault.sources` entry point group, then
neutral JSONL (any line with a message list) last. A parser may also say why a file it knows is not
a transcript (`why_not`), which `unrecognised_reason` reports.

A built-in parser's module is imported when it is first needed (`BUILTIN` names it, with the suffixes it reads):
an append to a known file loads its own parser only, a new Claude Code file the first one tried (importing them all
cost a one-session ingest ~10 ms). `PARSERS` and `CATCH_ALL` (every built-in parser, loaded) stay for the callers
that want them all. `tests/sources/test_sources.py` checks `BUILTIN` against the parsers' own attributes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

from vault.plugins import NotAPlugin, registered
from vault.sources.base import Head, Parser


class Builtin(NamedTuple):
    """A built-in parser, named without importing it: its format name, module, class and suffixes (`Parser.suffixes`)."""

    name: str
    module: str
    cls: str
    suffixes: tuple[str, ...]

    def load(self) -> Parser:
        return _load(self)


# In detection order (most specific formats first).
BUILTIN = (
    Builtin("claude_code", "vault.sources.claude_code", "ClaudeCodeParser", (".jsonl",)),
    Builtin("codex", "vault.sources.codex", "CodexParser", (".jsonl",)),
    Builtin("gemini", "vault.sources.gemini", "GeminiParser", (".jsonl", ".json")),
    Builtin("chatgpt", "vault.sources.chatgpt", "ChatGPTParser", (".json", ".zip")),
    Builtin("claude_ai", "vault.sources.claude_ai", "ClaudeAiParser", (".json", ".zip")),
)
# Takes any JSONL with a message list: tried after every other parser.
CATCH_ALL_BUILTIN = Builtin("neutral", "vault.sources.neutral", "NeutralParser", (".jsonl", ".json"))
ENTRY_POINT_GROUP = "vault.sources"


@functools.cache
def _load(spec: Builtin) -> Parser:
    import importlib

    return getattr(importlib.import_module(spec.module), spec.cls)()


def __getattr__(name: str):
    """`PARSERS` (the built-in parsers but the catch-all, in detection order) and `CATCH_ALL`, every one loaded."""
    if name == "PARSERS":
        return [spec.load() for spec in BUILTIN]
    if name == "CATCH_ALL":
        return CATCH_ALL_BUILTIN.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def builtin_suffixes() -> frozenset[str]:
    """The suffixes the built-in parsers read (none imported)."""
    return frozenset(s for spec in (*BUILTIN, CATCH_ALL_BUILTIN) for s in spec.suffixes)


@functools.cache
def parsers() -> tuple[Parser, ...]:
    """Every parser in detection order: built-in, then registered by other packages, then the catch-all."""
    return (*(spec.load() for spec in BUILTIN), *_registered(), CATCH_ALL_BUILTIN.load())


def _registered() -> list[Parser]:
    """Parsers of the `vault.sources` entry points: each names a `Parser` subclass (or an instance)."""
    known = (spec.name for spec in (*BUILTIN, CATCH_ALL_BUILTIN))
    return list(registered(ENTRY_POINT_GROUP, _parser, known, "source", "format name").values())


def _parser(_entry: str, obj) -> tuple[str, Parser]:
    """`registered`'s check: the parser (made when a class is named) and its own name."""
    parser = obj() if isinstance(obj, type) else obj
    if not isinstance(parser, Parser) or not parser.name:
        raise NotAPlugin("is not a vault.sources.base.Parser with a name")
    return parser.name, parser


def parser_by_name(name: str) -> Parser:
    # A built-in name first (its module only): the plugins' entry points (importlib.metadata, a scan of sys.path:
    # ~20 ms) are read only for another name; a plugin cannot take a built-in's name (`_registered`).
    for spec in (*BUILTIN, CATCH_ALL_BUILTIN):
        if spec.name == name:
            return spec.load()
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
    # (importlib.metadata, ~20 ms of a new session file's ingest) are not read, nor the later built-ins imported.
    return _detect(BUILTIN, path, head) or _detect(parsers()[len(BUILTIN):], path, head)


def _detect(candidates, path: Path, head: Head) -> Parser | None:
    """The first of `candidates` (parsers, or `Builtin`s loaded only when their suffix fits) that takes the file."""
    for p in candidates:
        if path.suffix.lower() in p.suffixes or not p.suffixes:
            if isinstance(p, Builtin):
                p = p.load()
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
        import zipfile

        from vault.sources.documents import damaged_member

        try:
            with zipfile.ZipFile(path) as zf:
                names = [n.rsplit("/", 1)[-1] for n in zf.namelist()]
                damage = damaged_member(zf, "conversations.json")
        except (zipfile.BadZipFile, OSError):
            return "a damaged or truncated zip archive"
        if damage:
            return f"a damaged zip archive: {damage}"
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
