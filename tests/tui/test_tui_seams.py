"""The TUI's seams (issue #15): the app builds the key help from its own modes and bindings, and every
edit goes through one write-access guard (`VaultApp.edit`)."""

from __future__ import annotations

import ast

import duckdb
import pytest
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from support import ROOT
from tui.app import VaultApp, make_app
from tui.screens.base import VaultScreen
from tui.screens.conversation import ConversationScreen
from tui.screens.help import HelpScreen
from tui.screens.stats import StatsScreen
from tui_data import sync

SIZE = (80, 24)
REFUNDS = "43dd531a-0cbc-5e9f-95e6-e92314c5062d"  # two corrections


def written(path) -> tuple[list, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return (con.execute("SELECT * FROM reviews").fetchall(),
                con.execute("SELECT role_name, text FROM personas WHERE edited ORDER BY ALL").fetchall())
    finally:
        con.close()


# -- the key help --------------------------------------------------------------------------------

def test_help_sections_come_from_the_apps_modes_and_bindings(tui_vault):
    sections = dict(make_app(tui_vault).help_sections())
    assert list(sections) == ["everywhere", "sessions (1)", "conversation", "search (2)", "review (3)",
                              "stats & personas (4)"]
    assert ("?", "this help") in sections["everywhere"] and ("1, alt+1", "Sessions") in sections["everywhere"]
    assert ("a", "accept the pair (and go to the next)") in sections["review (3)"]
    assert ("n", "jump to the next correction") in sections["conversation"]
    assert ("enter", "open the session") in sections["sessions (1)"]  # EXTRA_KEYS after the bindings
    assert ("→, n", "Next role") in sections["stats & personas (4)"]


class NotesScreen(VaultScreen):
    BINDINGS = [Binding("w", "app.bell", "Ring", tooltip="a key of the new screen")]
    EXTRA_KEYS = [("type", "take a note")]

    def compose(self):
        yield Static("notes")

    def load(self) -> None:
        pass


def test_a_screen_without_load_fails_when_it_is_made_not_when_it_is_shown():
    class Unfinished(VaultScreen):  # load, the one method each screen must have, forgotten
        def compose(self):
            yield Static("unfinished")

    with pytest.raises(TypeError, match="abstract method '?load"):
        Unfinished()
    assert isinstance(NotesScreen(), VaultScreen)


class AppWithNotes(VaultApp):
    """A new screen is one mode and one binding on the app: the help follows without touching help.py."""
    MODES = {**VaultApp.MODES, "notes": NotesScreen}
    BINDINGS = [*VaultApp.BINDINGS, Binding("5", "switch_mode('notes')", "Notes")]


@sync
async def test_a_new_mode_appears_in_the_help_without_touching_it(tui_vault):
    base = make_app(tui_vault)
    app = AppWithNotes(base.access, base.settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert isinstance(app.screen, NotesScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        sections = dict(app.screen.sections)
        assert sections["notes (5)"] == [("w", "a key of the new screen"), ("type", "take a note")]
        assert ("5", "Notes") in sections["everywhere"]
        await pilot.press("escape")
        assert isinstance(app.screen, NotesScreen)


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_the_help_screen_knows_no_screen_of_the_app():
    assert not {m for m in _imports(ROOT / "tui" / "screens" / "help.py") if m.split(".")[0] == "tui"}


# -- one write-access guard ----------------------------------------------------------------------

async def _to_conversation_turn(pilot):
    pilot.app.push_screen(ConversationScreen(REFUNDS))
    await pilot.pause()
    await pilot.press("n")  # focus the first correction


async def _to_docs_persona(pilot):
    await pilot.press("4")
    await pilot.pause()
    stats = pilot.app.screen
    assert isinstance(stats, StatsScreen)
    for _ in stats.roles:
        if stats.role == "docs-site":
            break
        await pilot.press("right")
    assert stats.role == "docs-site"


async def _to_review(pilot):
    await pilot.press("3")
    await pilot.pause()


EDITS = {  # the four edits of the TUI: how to get there, the key
    "relabel a turn in a conversation": (_to_conversation_turn, "l"),
    "edit a pair's chosen answer": (_to_review, "e"),
    "relabel a pair's feedback": (_to_review, "l"),
    "edit a persona": (_to_docs_persona, "e"),
}


@pytest.mark.parametrize("edit", EDITS)
@sync
async def test_every_edit_is_refused_read_only_with_one_message(tui_vault, edit):
    go, key = EDITS[edit]
    app = make_app(tui_vault, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await go(pilot)
        screen = app.screen
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is screen and not isinstance(app.screen, ModalScreen)  # no editor opened
        [note] = [n for n in app._notifications if n.title == "read-only"]
        assert "this needs write access" in note.message and "--read-only" in note.message
    assert written(tui_vault) == ([], [])


@pytest.mark.parametrize("edit", EDITS)
@sync
async def test_every_edit_opens_its_editor_when_writable(tui_vault, edit):
    go, key = EDITS[edit]
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await go(pilot)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ModalScreen)
        assert not [n for n in app._notifications if "write access" in n.message]
        await pilot.press("escape")  # cancel: nothing written
        await pilot.pause()
    assert written(tui_vault) == ([], [])


def test_the_write_guard_lives_in_the_app_only():
    """The screens ask `app.edit` / `app.write`; none refuses an edit by itself."""
    for path in sorted((ROOT / "tui" / "screens").glob("*.py")):
        src = path.read_text()
        assert "not self.app.access.writable" not in src and "read_only_message" not in src, path.name
