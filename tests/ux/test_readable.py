"""Issue 17: things shown as a person reads them (command records, the sessions table)."""

from __future__ import annotations

import io

import pytest

from support import CLAUDE_CORPUS, needs_shared, run_cli
from vault.render import readable_text


@pytest.mark.parametrize("kind, raw, shown", [
    ("command", "<command-name>/mcp</command-name>\n            <command-message>mcp</command-message>\n"
                "            <command-args></command-args>", "/mcp"),
    ("command", "/mcp", "/mcp"),
    ("command", "<command-message>init is analyzing your codebase…</command-message>\n"
                "                      <command-name>init</command-name>", "/init"),
    ("command", "<command-name>/compact</command-name> <command-message>compact</command-message> "
                "<command-args>and continue\n with the tasks</command-args>", "/compact and continue with the tasks"),
    ("command_output", "<local-command-stdout>Reconnected to tidewave.</local-command-stdout>",
     "Reconnected to tidewave."),
    ("command_output", "<local-command-stdout>Kept model as \x1b[1mDefault (recommended)\x1b[22m</local-command-stdout>",
     "Kept model as Default (recommended)"),
    ("command_output", "<local-command-stderr>boom</local-command-stderr>", "stderr: boom"),
    ("command_output", "<local-command-stdout></local-command-stdout>", "(no output)"),
    ("human_prompt", "<command-name>/mcp</command-name>", "<command-name>/mcp</command-name>"),
])
def test_command_records_read_as_typed(kind, raw, shown):
    assert readable_text(kind, raw) == shown


@needs_shared
def test_show_renders_every_mcp_command_the_same_way(tmp_path):
    db = tmp_path / "v.duckdb"
    run_cli("ingest", "--no-embed", str(CLAUDE_CORPUS / "spotter" / "tool_heavy.jsonl"), db=db)
    code, out, err = run_cli("show", "d6e0bada", db=db)
    assert code == 0, err
    assert "<command-" not in out and "<local-command" not in out
    assert out.count("command: /mcp") == 3  # one queued `/mcp`, two typed ones written as XML
    assert "command_output: Reconnected to tidewave." in out


def _table(rows, width):
    from rich.console import Console

    from vault.cli.archive import print_sessions

    buf = io.StringIO()
    print_sessions(Console(file=buf, width=width, color_system=None), rows)
    return buf.getvalue().splitlines()


def _row(title, source="claude_code", project="spotter-gqc"):
    return {"session_id": "258c7280-ae70-4798-800f-63464d01a85d", "started_at": "2026-02-11T20:36:00",
            "source": source, "project": project, "messages": 500, "human_messages": 4, "title": title,
            "first_prompt": None}


def test_sessions_table_fits_columns_to_content_and_gives_the_title_the_rest():
    title = "Implement the transcript renderer so that every command record reads as typed " * 2
    lines = _table([_row(title.strip())], 140)
    assert all(len(line) <= 140 for line in lines)
    row = lines[-1]
    assert "claude_code" in row and "spotter-gqc" in row  # nothing cut at 140 columns
    shown = row.split("4 ", 1)[1]
    assert len(row) == 140 and shown.endswith("…")  # the title takes the rest of the width


def test_sessions_table_in_a_narrow_terminal_keeps_a_readable_title():
    lines = _table([_row("Work on bead spotter-dov and run the tests", project="a-very-long-project-name-here")], 80)
    assert all(len(line) <= 80 for line in lines)
    assert "Work on bead spotter" in lines[-1]


def test_sessions_table_short_titles_take_no_more_room_than_they_need():
    lines = _table([_row("short")], 200)
    assert len(lines[-1].rstrip()) < 80


def test_a_tool_call_whose_text_starts_blank_is_shown_on_one_line_not_as_nothing():
    """`vault show` folded a tool call's first 880 characters only (for speed on huge texts): a call whose text
    began with that much white space printed an empty `⚙` line."""
    from rich.console import Console

    from vault.cli.views.session import render_session
    from vault.render import one_line

    out = io.StringIO()
    msgs = [{"msg_id": "m1", "kind": "tool_call", "text": "\n" * 2000 + "Bash(pytest -q)"},
            {"msg_id": "m2", "kind": "api_error", "text": "  \n" * 500 + "overloaded " * 100_000}]
    render_session(Console(file=out, width=200), {"session_id": "s1"}, msgs)
    shown = out.getvalue().splitlines()
    assert "  ⚙ Bash(pytest -q)" in shown
    error = next(line for line in shown if line.startswith("API error:"))
    assert error == "API error: " + ("overloaded " * 20)[:109] + "…"
    assert one_line("word " * 1_000_000, 12) == "word word w…"  # a prefix is enough for a huge text
    assert one_line(" \n\t", 5) == "" and one_line(None, 5) == ""


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


SHOW_MSGS = [{"msg_id": "m1", "kind": "tool_call", "text": "Bash(" + "pytest -q tests/ux " * 10 + ")"},
             {"msg_id": "m2", "kind": "tool_call", "text": "Task(" + "explore the code " * 10 + ")",
              "subagent_session_id": "s1/agent-a1b2c3"},
             {"msg_id": "m3", "kind": "tool_result", "text": "FAILED tests/ux/test_readable.py " * 6, "is_error": True},
             {"msg_id": "m4", "kind": "api_error", "text": "overloaded " * 30},
             {"msg_id": "m5", "kind": "command", "text": "/compact " + "keep the plan " * 12,
              "timestamp": "2026-11-17T10:00:00"},
             {"msg_id": "m6", "kind": "tool_call", "text": "Read(" + "文件" * 60 + ")"}]


@pytest.mark.parametrize("width", [80, 100])
def test_show_cuts_one_line_items_to_the_terminal_width(monkeypatch, width):
    """At 80 columns `vault show` cut tool calls at 110 characters and results at 100, so each wrapped onto a second
    line despite the README's "one line each". On a terminal (COLUMNS read by rich) each fits its width now."""
    from rich.cells import cell_len
    from rich.console import Console

    from vault.cli.views.session import render_session

    monkeypatch.setenv("COLUMNS", str(width))
    out = _Tty()
    console = Console(file=out, color_system=None)
    assert console.width == width
    render_session(console, {"session_id": "s1"}, SHOW_MSGS)
    lines = out.getvalue().splitlines()[2:]  # after the title and the meta line
    assert len(lines) == len(SHOW_MSGS), lines  # one line each
    ends = ("…", "s1/agent-a1b2c3", "10:00:00")
    assert all(cell_len(line) <= width and line.endswith(ends) for line in lines), lines
    assert lines[1].startswith("  ⚙ Task(explore the code") and lines[1].endswith("… → s1/agent-a1b2c3")
    assert lines[4].startswith("command: /compact keep the plan") and lines[4].endswith("… 10:00:00")


def test_show_piped_keeps_its_cuts(monkeypatch):
    """Piped, `vault show` prints what it printed before (scripts see no change): 110 characters of a tool call, 100
    of a result, whatever the width."""
    from rich.console import Console

    from vault.cli.views.session import render_session

    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    render_session(Console(file=out, color_system=None, width=400), {"session_id": "s1"}, SHOW_MSGS)
    lines = out.getvalue().splitlines()[2:]
    assert lines[0] == "  ⚙ " + ("Bash(" + "pytest -q tests/ux " * 10)[:109] + "…"
    assert lines[2] == "    ↳ " + ("FAILED tests/ux/test_readable.py " * 6)[:99] + "…"
    assert lines[3] == "API error: " + ("overloaded " * 30)[:109] + "…"
