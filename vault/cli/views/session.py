"""`vault show`: one session for the terminal: human turns, assistant text, tool calls on one line."""

from __future__ import annotations

from typing import Any

from vault.cli.common import esc
from vault.model import Kind
from vault.render import HIDDEN, one_line, readable_text


# Characters of a tool call, an error or a command `vault show` prints on one line (trainer.fit cuts older turns so).
# On a terminal, a line is also cut to its width (`_one_line`); piped output keeps these cuts.
LINE_CHARS = 110
RESULT_CHARS = 100  # of a tool result (shown with --all, or an error)
MIN_CHARS = 20  # kept of a line's text however narrow the terminal (it wraps then)

# Characters of one message `vault show` renders: a pasted log or file of megabytes took rich minutes of CPU to
# wrap (47 s of CPU for 8 MiB); the rest is named, and `vault show --json` has it whole.
SHOW_CHARS = 20_000


def _shown(text: str | None) -> tuple[str, str | None]:
    """The part of a message's text to render, and a note on what was left out (None: nothing)."""
    text = text or ""
    if len(text) <= SHOW_CHARS:
        return text, None
    return text[:SHOW_CHARS], f"… {len(text) - SHOW_CHARS:,} more characters (`vault show --json` has them all)"


def _on_terminal(console) -> bool:
    """Whether `console` writes to a terminal (its file's isatty: FORCE_COLOR or TTY_COMPATIBLE in a CI log do not
    make a pipe one, so a script reading `vault show` sees the same cuts)."""
    try:
        return bool(console.file.isatty())
    except (AttributeError, ValueError):
        return False


def _one_line(console, text: str | None, chars: int, used: str = "") -> str:
    """`vault.render.one_line(text, chars)`; on a terminal, also within its width less the cells of `used` (what
    the line prints besides the text), so that a line at 80 columns does not wrap onto a second one."""
    if not _on_terminal(console):
        return one_line(text, chars)
    from rich.cells import cell_len
    from rich.text import Text

    room = max(console.width - cell_len(used), MIN_CHARS)
    line = one_line(text, min(chars, room))
    if cell_len(line) > room:  # wide characters (CJK, emoji) take two cells
        t = Text(line)
        t.truncate(room, overflow="ellipsis")
        line = t.plain
    return line


def render_session(console, info: dict[str, Any], msgs: list[dict[str, Any]], *, show_all: bool = False,
                   at_msg: str | None = None) -> None:
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.text import Text

    head = f"[bold]{esc(info.get('title') or info.get('first_prompt') or info['session_id'])}[/]".replace("\n", " ")
    meta = " · ".join(str(x) for x in (info["session_id"], info.get("source"), info.get("project"),
                                        info.get("git_branch"), (info.get("started_at") or "")[:16]) if x)
    console.print(head)
    console.print(f"[dim]{esc(meta)}[/]")
    if info.get("parent_session_id"):
        console.print(f"[dim]subagent ({esc(info.get('agent_type') or 'agent')}) of {esc(info['parent_session_id'])}[/]")
    started = at_msg is None
    for m in msgs:
        if not started:
            started = m["msg_id"] == at_msg
            if not started:
                continue
        kind = m["kind"]
        if kind in HIDDEN and not show_all:
            continue
        label = f" [magenta]{esc(m['label'])}[/]" if m.get("label") else ""
        branch = "" if m.get("on_main_branch", True) else " [dim](abandoned branch)[/]"
        ts = (m.get("timestamp") or "")[11:19]
        if kind in Kind.HUMAN_TYPED:
            title = "you (queued)" if kind == Kind.QUEUED_PROMPT else "you"
            text, cut = _shown(m["text"])
            console.print(Panel(Text(text) if cut is None else Text.assemble(text, "\n", (cut, "dim")),
                                title=f"[bold cyan]{title}[/] {ts}{label}{branch}", title_align="left",
                                border_style="cyan"))
        elif kind == Kind.INTERRUPT:
            console.print(f"[bold red]⏹ interrupted[/] {ts}{label}")
        elif kind == Kind.TOOL_REJECTION:
            reason = ((m.get("extra") or "") and m["text"]) if m.get("is_human") else ""
            console.print(f"[bold red]✗ tool use rejected[/] {ts}{label}" + (f": [red]{esc(reason)}[/]" if reason else ""))
        elif kind == Kind.ASSISTANT_TEXT:
            console.print(f"[bold green]assistant[/] [dim]{ts}[/]{branch}")
            text, cut = _shown(m["text"])
            console.print(Markdown(text))
            if cut:
                console.print(Text(cut, style="dim"))
        elif kind == Kind.TOOL_CALL:
            sub = f" → {m['subagent_session_id']}" if m.get("subagent_session_id") else ""
            call = esc(_one_line(console, m["text"], LINE_CHARS, "  ⚙ " + sub))
            console.print(f"  [yellow]⚙[/] {call}" + (f" [blue]{esc(sub[1:])}[/]" if sub else ""))
        elif kind == Kind.TOOL_RESULT:
            if show_all or m.get("is_error"):
                style = "red" if m.get("is_error") else "dim"
                console.print(f"    [{style}]↳ {esc(_one_line(console, m['text'], RESULT_CHARS, '    ↳ '))}[/]")
        elif kind == Kind.API_ERROR:
            console.print(f"[red]API error:[/] {esc(_one_line(console, m['text'], LINE_CHARS, 'API error: '))}")
        elif kind == Kind.COMPACT_SUMMARY:
            console.print("[dim]── conversation compacted ──[/]")
        elif kind == Kind.COMMAND:
            typed = esc(_one_line(console, readable_text(kind, m["text"]), LINE_CHARS, f"command:  {ts}"))
            console.print(f"[dim]command:[/] [bold]{typed}[/] [dim]{ts}[/]")
        else:
            shown = _one_line(console, readable_text(kind, m["text"]), LINE_CHARS, f"{kind}: ")
            console.print(f"[dim]{esc(kind)}: {esc(shown)}[/]")
