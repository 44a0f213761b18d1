"""What a person reads of a record (`vault show` and the TUI): which kinds are hidden, commands as typed.

The terminal view of a whole session is `vault.cli.views.session`."""

from __future__ import annotations

import re

from vault.kinds import Kind  # (not vault.model: its dataclasses cost `vault search --help` ~10 ms of CPU)

# Kinds hidden unless --all: machine text nobody needs to read to follow the conversation.
HIDDEN = {Kind.THINKING, Kind.META, Kind.SYSTEM, Kind.SYSTEM_REMINDER, Kind.OTHER, Kind.HOOK_FEEDBACK,
          Kind.TASK_NOTIFICATION}


_TAG = re.compile(r"<(command-name|command-message|command-args)>(.*?)</\1>", re.S)
_OUTPUT = re.compile(r"<(local-command-stdout|local-command-stderr|bash-stdout|bash-stderr)>(.*?)"
                     r"(?:</\1>|$)", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def counted(n: int, noun: str, plural: str | None = None, *, style: str | None = None) -> str:
    """`n` and `noun`, plural unless `n` is 1: counted(1, "file") is "1 file", counted(2, "file") "2 files".

    `plural` for a noun that does not take an "s"; `style` a Rich style for the number ("bold" gives
    "[bold]2[/] files"), for the CLI summaries that print through Rich."""
    num = f"[{style}]{n}[/]" if style else str(n)
    return f"{num} {noun if n == 1 else (plural or noun + 's')}"


def cut(text: str, width: int) -> str:
    """`text` as it is when it has at most `width` characters, else its first `width - 1` and "…"."""
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(text: str | None, width: int) -> str:
    """`text` on one line (white space folded), cut to `width` characters ending in "…".

    A huge text (a pasted log of megabytes) is folded from a prefix when that already gives more than `width`
    characters; a prefix that is mostly blank does not, and the whole text is folded."""
    text = text or ""
    head = text[: width * 8]
    t = " ".join(head.split())
    if len(t) <= width and len(head) < len(text):
        t = " ".join(text.split())
    return cut(t, width)


def readable_text(kind: str, text: str | None) -> str:
    """What a person reads for a record: a slash command as `/name args`, command output without its wrapper.

    Claude Code writes the same `/mcp` as `/mcp` (a queued command) or as `<command-name>/mcp</command-name>
    <command-message>mcp</command-message> <command-args></command-args>` (a typed one); both read `/mcp`.
    """
    text = text or ""
    if kind == Kind.COMMAND:
        tags = {k: " ".join(v.split()) for k, v in _TAG.findall(text)}
        if tags:
            name = "/" + (tags.get("command-name") or tags.get("command-message", "")).lstrip("/")
            return " ".join(x for x in (name, tags.get("command-args")) if x)
    elif kind == Kind.COMMAND_OUTPUT:
        parts = [("stderr: " if tag.endswith("stderr") else "") + _ANSI.sub("", body).strip()
                 for tag, body in _OUTPUT.findall(text)]
        if parts:
            return "\n".join(p for p in parts if p.strip() and p != "stderr: ") or "(no output)"
    return text
