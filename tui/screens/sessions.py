"""Sessions: every top-level session with role and correction rate; sortable, filterable, troubled marked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui import data
from tui.screens.base import VaultScreen, clip, pct

# (column title, width, sort key): one table drives the columns and the sort cycle.
COLUMNS = [
    ("!", 1, lambda s: s["troubled"]),
    ("started", 10, lambda s: s["started_at"] or ""),
    ("role", 10, lambda s: s["role"] or ""),
    ("project", 12, lambda s: s["project"] or ""),
    ("turns", 5, lambda s: s["human_messages"] or 0),
    ("rate", 5, lambda s: -1 if s["rate"] is None else s["rate"]),
    ("title / first prompt", 24, lambda s: s["headline"].lower()),
    ("source", 11, lambda s: s["source"] or ""),
]
SORTABLE = [i for i, c in enumerate(COLUMNS) if c[0] != "!"]


def matches(s: dict, words: list[str]) -> bool:
    """Every word of the filter appears in the row; `!` keeps troubled sessions only."""
    hay = " ".join(str(s.get(k) or "") for k in ("session_id", "role", "project", "source", "headline")).lower()
    return all(s["troubled"] if w == "!" else w in hay for w in words)


class SessionsScreen(VaultScreen):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", tooltip="filter: words to match; ! = troubled only"),
        Binding("s", "cycle_sort", "Sort", tooltip="sort by the next column"),
        Binding("o", "flip_order", "Order", tooltip="flip the sort order"),
        Binding("escape", "focus_table", "Table", show=False, tooltip="from the filter back to the table"),
    ]
    EXTRA_KEYS = [("enter", "open the session"), ("⚠", "troubled: correction rate above the threshold (vault config)")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.shown: list[dict] = []
        self.sort_col = 1  # started
        self.descending = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words in role/project/title; ! = troubled  (/)", id="filter")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="detail", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title, width, _ in COLUMNS:
            table.add_column(title, width=width, key=title)
        table.focus()

    def load(self) -> None:
        with self.app.access.read() as con:
            self.rows = data.session_rows(con, self.app.settings)
        self.refill()

    def refill(self) -> None:
        words = self.query_one("#filter", Input).value.lower().split()
        key = COLUMNS[self.sort_col][2]
        self.shown = sorted((s for s in self.rows if matches(s, words)), key=key, reverse=self.descending)
        table = self.query_one(DataTable)
        table.clear()
        for s in self.shown:
            hot = "bold red" if s["troubled"] else ""
            table.add_row(Text("⚠" if s["troubled"] else "", style="bold red"),
                          (s["started_at"] or "")[:10], clip(s["role"], 10), clip(s["project"], 12),
                          Text(str(s["human_messages"] or 0), justify="right"),
                          Text(pct(s["rate"]), style=hot, justify="right"),
                          clip(s["headline"], 60), s["source"] or "", key=s["session_id"])
        self.show_detail()

    def show_detail(self) -> None:
        table = self.query_one(DataTable)
        title, _, _ = COLUMNS[self.sort_col]
        order = "↓" if self.descending else "↑"
        head = f"{len(self.shown)}/{len(self.rows)} sessions · sort {title} {order}"
        if self.shown and 0 <= table.cursor_row < len(self.shown):
            s = self.shown[table.cursor_row]
            head += f" · {s['session_id'][:8]} {s['source']}: {s['headline']}"
        if self.rows and not any(s["labelled"] for s in self.rows):
            head = "no rates yet: run `vault mine` · " + head
        self.query_one("#detail", Static).update(Text(clip(head, 200), no_wrap=True, overflow="ellipsis"))

    # -- events and actions --------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self.refill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from tui.screens.conversation import ConversationScreen

        self.app.push_screen(ConversationScreen(event.row_key.value))

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_cycle_sort(self) -> None:
        self.sort_col = SORTABLE[(SORTABLE.index(self.sort_col) + 1) % len(SORTABLE)]
        self.refill()

    def action_flip_order(self) -> None:
        self.descending = not self.descending
        self.refill()
