"""What every data screen shares: header and footer, and a reload after a refresh (ctrl+r)."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from textual.screen import Screen


class _ScreenABCMeta(ABCMeta, type(Screen)):
    """Textual's message-pump metaclass with ABCMeta's check: a screen without `load` fails when it is made."""


class VaultScreen(Screen, metaclass=_ScreenABCMeta):
    """A screen showing vault data: `load()` (abstract: each screen's own) fills it; it reloads when the app's data
    generation moved.

    The key help shows `HELP_TITLE` (default: the app's mode name), the bindings, then `EXTRA_KEYS`."""

    HELP_TITLE = ""
    EXTRA_KEYS: list[tuple[str, str]] = []

    def __init__(self) -> None:
        super().__init__()
        self._generation = -1

    def on_mount(self) -> None:
        if self.app.is_headless:  # tests and snapshots: a blinking cursor would make pictures differ
            for field in self.query("Input"):
                field.cursor_blink = False
        self.reload()

    def on_screen_resume(self) -> None:
        if self._generation != self.app.generation:
            self.reload()

    def reload(self) -> None:
        self._generation = self.app.generation
        self.load()

    @abstractmethod
    def load(self) -> None:
        """Fill the screen from the vault (read through `self.app.access`)."""


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"
