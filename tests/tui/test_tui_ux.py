"""Issue 17 in the TUI: the sessions list uses the width, Alt+digit switches screens, the personas hint."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tui.app import make_app
from tui.screens.search import SearchScreen
from tui.screens.sessions import COLUMNS, SessionsScreen

from tui_data import sync


@pytest.mark.parametrize("width", [80, 160])
@sync
async def test_sessions_columns_fit_content_and_title_takes_the_rest(tui_vault, width):
    app = make_app(tui_vault)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table = screen.query_one(DataTable)
        widths = {c.label.plain: c.width - 1 for c in table.columns.values()}  # less the space between columns
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert width - 5 <= used <= width - 2  # no half-empty screen, no horizontal overflow (2: scrollbar)
        longest = {name: max(len(text(s)) for s in screen.rows) for name, _, _, text in COLUMNS}
        if width == 160:  # room for every role and project in full
            assert widths["role"] >= longest["role"] and widths["project"] >= longest["project"]
            assert widths["title / first prompt"] > 60
        else:  # 80 columns: the title keeps 24, role and project most of theirs
            assert widths["title / first prompt"] >= 24
            assert widths["role"] >= 9 and widths["project"] >= 9
        assert widths["source"] >= min(longest["source"], 5)


@sync
async def test_alt_digit_switches_screens_like_escape_then_digit(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+2")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("e", "m")  # typing in the query...
        await pilot.press("alt+1")  # ...then Escape and 1 in one read
        assert isinstance(app.screen, SessionsScreen)


@sync
async def test_personas_panel_names_the_command_that_builds_them(tui_vault):
    import duckdb
    from textual.widgets import Static

    con = duckdb.connect(str(tui_vault))
    con.execute("DELETE FROM personas")
    con.close()
    app = make_app(tui_vault)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        shown = str(app.screen.query_one("#persona-text", Static).render())
        assert "`vault personas` builds one per role" in shown and "`vault mine` distils" not in shown
