"""Snapshots of every screen at 80x24 over the fixed example vault (`pytest --snapshot-update` rewrites them).

The vault is fixed (tests/tui/tui_data.py), the app shows no clock, and the header names the vault file only,
so the pictures do not move between runs.
"""

from __future__ import annotations

from tui.app import make_app
from tui.screens.conversation import ConversationScreen

SIZE = (80, 24)
REFUNDS = "43dd531a-0cbc-5e9f-95e6-e92314c5062d"  # two corrections and a tool rejection
CSV_EXPORT = "d207a4c9-aebe-56e8-ba0a-be3c5ebf9fba"  # an interrupt and a subagent


async def _settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_sessions(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE)


def test_sessions_sorted_by_rate_and_filtered(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE,
                        press=["s", "s", "s", "s", "slash", *"billing"])


def test_conversation_at_a_correction(snap_compare, tui_vault):
    async def open_it(pilot):
        pilot.app.push_screen(ConversationScreen(REFUNDS))
        await pilot.pause()
        await pilot.press("n")

    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, run_before=open_it)


def test_conversation_tool_call_with_subagent_expanded(snap_compare, tui_vault):
    async def open_it(pilot):
        pilot.app.push_screen(ConversationScreen(CSV_EXPORT))
        await pilot.pause()
        call = next(c for c in pilot.app.screen.query("ToolCall") if c.subagent)
        call.collapsed = False
        await pilot.pause()
        pilot.app.screen.query_one("#conv").scroll_to_widget(call, top=True, animate=False)
        call.focus(scroll_visible=False)

    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, run_before=open_it)


def test_search_keyword_hits(snap_compare, tui_vault):
    async def type_query(pilot):
        await pilot.press("2", *"run the tests")
        await pilot.pause(0.5)
        await _settle(pilot)

    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, run_before=type_query)


def test_review_pair(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, press=["3"])


def test_label_picker(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, press=["3", "l"])


def test_stats_and_persona(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, press=["4", "right"])


def test_help(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault), terminal_size=SIZE, press=["question_mark"])


def test_read_only_header_and_notice(snap_compare, tui_vault):
    assert snap_compare(make_app(tui_vault, read_only=True), terminal_size=SIZE, press=["3", "a"])
