"""Source parsers, one module per archive format, behind `vault.sources.base.Parser`.

`PARSERS` is tried in order by `detect_parser`; the most specific formats come first.
"""

from __future__ import annotations

from pathlib import Path

from vault.sources.base import Parser
from vault.sources.claude_code import ClaudeCodeParser
from vault.sources.neutral import NeutralParser

PARSERS: list[Parser] = [ClaudeCodeParser(), NeutralParser()]

HEAD_BYTES = 64 * 1024
MAX_FIRST_LINE = 32 * 1024 * 1024


def parser_by_name(name: str) -> Parser:
    for p in PARSERS:
        if p.name == name:
            return p
    raise KeyError(f"unknown source {name!r}; known: {', '.join(p.name for p in PARSERS)}")


def read_head(path: Path) -> bytes:
    """The first HEAD_BYTES of a file, extended to the end of its first line (which can be huge)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        if b"\n" not in head and len(head) == HEAD_BYTES:
            head += fh.readline(MAX_FIRST_LINE)
        return head


def detect_parser(path: Path, head: bytes | None = None) -> Parser | None:
    if head is None:
        head = read_head(path)
    for p in PARSERS:
        if path.suffix.lower() in p.suffixes or not p.suffixes:
            try:
                if p.detect(path, head):
                    return p
            except Exception:  # a detector must never sink the walk
                continue
    return None


def candidate_suffixes() -> set[str]:
    return {s for p in PARSERS for s in p.suffixes}
