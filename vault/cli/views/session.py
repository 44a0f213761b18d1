"""`vault show`: one session for the terminal: human turns, assistant text, tool calls on one line."""

from __future__ import annotations

from typing import Any

from vault.cli.common import esc
from vault.model import Kind
from vault.render import HIDDEN, one_line, readable_text


# Characters of a tool call, an error or a command `vault show` prints on one line (trainer.fit cuts older turns so).
LINE_CHARS = 110

# Characters of one message `vault show` renders: a pasted log or file of megabytes took rich minutes of CPU to
# wrap (47 s of CPU for 8 MiB); the rest is named, and `vault show --json` has it whole.
SHOW_CHARS = 20_000


def _shown(text: str | None) -> tuple[str, str | None]:
    """The part of a message's text to render, and a note on what was left out (None: nothing)."""
    text = text or ""
    if len(text) <= SHOW_CHARS:
        return text, None
    return text[:SHOW_CHARS], f"… {len(text) - SHOW_CHARS:,} more characters (`vault show --json` has them all)"


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
            sub = f" [blue]→ {esc(m['subagent_session_id'])}[/]" if m.get("subagent_session_id") else ""
            console.print(f"  [yellow]⚙[/] {esc(one_line(m['text'], LINE_CHARS))}{sub}")
        elif kind == Kind.TOOL_RESULT:
            if show_all or m.get("is_error"):
                style = "red" if m.get("is_error") else "dim"
                console.print(f"    [{style}]↳ {esc(one_line(m['text'], 100))}[/]")
        elif kind == Kind.API_ERROR:
            console.print(f"[red]API error:[/] {esc(one_line(m['text'], LINE_CHARS))}")
        elif kind == Kind.COMPACT_SUMMARY:
            console.print("[dim]── conversation compacted ──[/]")
        elif kind == Kind.COMMAND:
            typed = esc(one_line(readable_text(kind, m["text"]), LINE_CHARS))
            console.print(f"[dim]command:[/] [bold]{typed}[/] [dim]{ts}[/]")
        else:
            console.print(f"[dim]{esc(kind)}: {esc(one_line(readable_text(kind, m['text']), LINE_CHARS))}[/]")
