"""The Textual application: four modes (sessions, search, review, stats) over one vault.

`make_app(db_path, settings=...)` is the one factory the CLI and the tests use.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen

from tui.access import READ_WRITE, ReadOnlyError, VaultAccess
from tui.screens.conversation import ConversationScreen
from tui.screens.help import HelpScreen, HelpSection, key_rows
from tui.screens.review import ReviewScreen
from tui.screens.search import SearchScreen
from tui.screens.sessions import SessionsScreen
from tui.screens.stats import StatsScreen

if TYPE_CHECKING:
    from vault.settings import Settings

SCREEN_KEYS = ("sessions", "search", "review", "stats")  # keys 1..4


def _read_escape_digit_as_alt_digit() -> None:
    """Escape then a screen digit arriving in one read is the key Alt+digit, bound to the same screens.

    Textual reads the bytes ESC 2 (a quick Escape-2, any Escape-2 on a loaded machine, or Alt+2) as the
    macOS Option+2 character `™`, which the search box would then type. As Alt+2 it switches screens from
    anywhere, as the person meant. (Two keys, Escape then 2, would race: the search box takes the 2 before
    Escape has moved the focus away.)
    """
    from types import SimpleNamespace

    from textual._ansi_sequences import ANSI_SEQUENCES_KEYS

    for n in range(1, len(SCREEN_KEYS) + 1):
        ANSI_SEQUENCES_KEYS[f"\x1b{n}"] = (SimpleNamespace(value=f"alt+{n}"),)


_read_escape_digit_as_alt_digit()


class VaultApp(App):
    CSS_PATH = Path(__file__).with_name("vault.tcss")  # absolute: an app subclassing this one finds it too
    TITLE = "vault"
    ENABLE_COMMAND_PALETTE = False  # every action has a key (see ?); the footer needs the room at 80 columns
    MODES = {"sessions": SessionsScreen, "search": SearchScreen, "review": ReviewScreen, "stats": StatsScreen}
    OPENED_FROM = {"sessions": [ConversationScreen]}  # screens pushed from a mode: in the help after it
    DEFAULT_MODE = "sessions"
    BINDINGS = [
        # Alt+digit, and Escape-digit read as one key: the same screens.
        Binding("1,alt+1", "switch_mode('sessions')", "Sessions"),
        Binding("2,alt+2", "switch_mode('search')", "Search"),
        Binding("3,alt+3", "switch_mode('review')", "Review"),
        Binding("4,alt+4", "switch_mode('stats')", "Stats"),
        Binding("question_mark", "help", "Help", tooltip="this help"),
        Binding("ctrl+r", "reload", "Refresh", show=False,
                tooltip="reload the data (after an ingest); reopen read-write if the vault is free"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, access: VaultAccess, settings: Settings) -> None:
        super().__init__()
        self.access = access
        self.settings = settings  # the same [corrections] options as `vault stats --corrections`
        self.generation = 0  # bumped by a refresh; screens reload when they see a newer one
        access.on_snapshot = self._went_read_only

    def on_mount(self) -> None:
        self.sub_title = self.access.status()
        if self.access.mode != READ_WRITE:
            self.notify(f"Read-only: {self.access.reason}. Review needs write access.", severity="warning",
                        timeout=12, markup=False)  # the reason may quote a path

    def on_unmount(self) -> None:
        self.access.close()

    # -- shared by the screens -----------------------------------------------------------------
    def write(self, action, *args) -> bool:
        """Run `action(con, *args)` on a write connection; explain (and return False) when read-only."""
        try:
            with self.access.write() as con:
                action(con, *args)
        except ReadOnlyError as e:
            self._explain_read_only(str(e))
            return False
        return True

    def edit(self, editor: ModalScreen, done) -> None:
        """Open `editor` (a modal asking for a new value) only when the vault can be written, else say why:
        the one write-access guard of every edit; `done(value)` then saves with `write`."""
        if not self.access.writable:
            self._explain_read_only(self.access.read_only_message())
            return
        self.push_screen(editor, done)

    def _explain_read_only(self, message: str) -> None:
        self.sub_title = self.access.status()
        self.notify(message, title="read-only", severity="warning", timeout=8, markup=False)

    def help_sections(self) -> list[HelpSection]:
        """The key help, from the app's own bindings and modes: everywhere, then each mode (with the key
        that switches to it) followed by the screens opened from it."""
        mode_keys = {b.action: b.key.split(",")[0] for b in self.BINDINGS if isinstance(b, Binding)}
        sections = [("everywhere", key_rows(self.BINDINGS))]
        for mode, screen in self.MODES.items():
            key = mode_keys.get(f"switch_mode({mode!r})")
            title = getattr(screen, "HELP_TITLE", "") or mode
            sections.append((f"{title} ({key})" if key else title,
                             key_rows(screen.BINDINGS, getattr(screen, "EXTRA_KEYS", []))))
            sections += [(sub.HELP_TITLE, key_rows(sub.BINDINGS, sub.EXTRA_KEYS))
                         for sub in self.OPENED_FROM.get(mode, [])]
        return sections

    def _went_read_only(self) -> None:
        def tell() -> None:
            self.sub_title = self.access.status()
            self.notify("Another process is writing the vault: reading a snapshot. ctrl+r reopens.",
                        severity="warning", timeout=8)

        if threading.current_thread() is threading.main_thread():
            tell()
        else:
            self.call_from_thread(tell)

    # -- actions -------------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def action_reload(self) -> None:
        from vault.store import VaultError

        try:
            mode = self.access.reopen()
        except VaultError as e:
            self.notify(str(e), severity="error", timeout=10, markup=False)
            return
        self.generation += 1
        self.sub_title = self.access.status()
        for screen in self.screen_stack:
            if hasattr(screen, "reload"):
                screen.reload()
        self.notify(f"Reloaded ({mode}).", timeout=3)


def make_app(db_path: str | Path | None = None, read_only: bool | None = None,
             settings: Settings | None = None) -> VaultApp:
    """The app over the vault at `db_path` (default: the settings' `db`): read-write if possible, else
    read-only, else a snapshot. `settings`: the CLI's; None reads them (vault.settings.load).

    read_only=True never writes. Raises vault.errors.VaultError when the vault or the settings cannot be read.
    """
    if settings is None:
        from vault.settings import load

        settings = load()
    return VaultApp(VaultAccess(settings.db if db_path is None else db_path, read_only=read_only), settings)
