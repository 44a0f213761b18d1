"""The key help (?): built from the bindings themselves, so it cannot drift from them."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


def _key(b: Binding) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "left": "←", "right": "→"}
    return ", ".join(names.get(k, k) for k in b.key.split(","))


def key_table() -> list[tuple[str, list[tuple[str, str]]]]:
    """(screen, [(key, what it does)]) for every screen, app-wide keys first."""
    from tui.app import VaultApp
    from tui.screens.conversation import ConversationScreen
    from tui.screens.review import ReviewScreen
    from tui.screens.search import SearchScreen
    from tui.screens.sessions import SessionsScreen
    from tui.screens.stats import StatsScreen

    groups = [("everywhere", VaultApp), ("sessions (1)", SessionsScreen), ("conversation", ConversationScreen),
              ("search (2)", SearchScreen), ("review (3)", ReviewScreen), ("stats & personas (4)", StatsScreen)]
    out = []
    for name, cls in groups:
        rows, seen = [], set()
        for b in cls.BINDINGS:
            b = b if isinstance(b, Binding) else Binding(*b)
            what = b.description or b.action
            if (what, b.action) in seen:
                continue
            seen.add((what, b.action))
            rows.append((_key(b), b.tooltip or what))
        out.append((name, rows + getattr(cls, "EXTRA_KEYS", [])))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold cyan", no_wrap=True, width=16)
        t.add_column(ratio=1)
        for name, rows in key_table():
            t.add_row(f"[bold underline]{name}[/]", "")
            for key, what in rows:
                t.add_row(key, what)
        with VerticalScroll(classes="dialog help"):
            yield Static(t)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
