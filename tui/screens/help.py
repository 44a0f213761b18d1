"""The key help (?): the sections are built by the app from its own modes and bindings
(`VaultApp.help_sections`), so the help cannot drift from them and this module knows no screen."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

HelpSection = tuple[str, list[tuple[str, str]]]  # (title, [(key, what it does)])
KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "left": "←", "right": "→"}


def key_name(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k, k) for k in key.split(","))


def key_rows(bindings: Iterable[BindingType], extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(key, what it does) for each binding, one row per action, then the `extra` rows (keys that are not bindings)."""
    rows, seen = [], set()
    for b in bindings:
        b = b if isinstance(b, Binding) else Binding(*b)
        what = b.description or b.action
        if (what, b.action) not in seen:
            seen.add((what, b.action))
            rows.append((key_name(b.key), b.tooltip or what))
    return rows + list(extra)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold cyan", no_wrap=True, width=16)
        t.add_column(ratio=1)
        for name, rows in self.sections:
            t.add_row(f"[bold underline]{name}[/]", "")
            for key, what in rows:
                t.add_row(key, what)
        with VerticalScroll(classes="dialog help"):
            yield Static(t)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
