"""Sessions: every top-level session with role and correction rate; sortable, filterable, troubled marked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui import data
from tui.screens.base import VaultScreen, pct
from vault.render import one_line

# (column title, minimum width, sort key, cell text): one table drives the columns, their widths and the sort
# cycle. Each column is as wide as its longest cell (within the screen); the title takes the rest.
COLUMNS = [
    ("!", 1, lambda s: s["troubled"], lambda s: "⚠" if s["troubled"] else ""),
    ("started", 10, lambda s: s["started_at"] or "", lambda s: (s["started_at"] or "")[:10]),
    ("role", 6, lambda s: s["role"] or "", lambda s: s["role"] or ""),
    ("project", 7, lambda s: s["project"] or "", lambda s: s["project"] or ""),
    ("turns", 5, lambda s: s["human_messages"] or 0, lambda s: str(s["human_messages"] or 0)),
    ("rate", 4, lambda s: -1 if s["rate"] is None else s["rate"], lambda s: pct(s["rate"])),
    ("title / first prompt", 12, lambda s: s["headline"].lower(), lambda s: " ".join(s["headline"].split())),
    ("source", 5, lambda s: s["source"] or "", lambda s: s["source"] or ""),
]
SORTABLE = [i for i, c in enumerate(COLUMNS) if c[0] != "!"]
TITLE = next(i for i, c in enumerate(COLUMNS) if c[0].startswith("title"))


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
        self.widths: list[int] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words in role/project/title; ! = troubled  (/)", id="filter")
        # One space between columns (added to their widths) instead of two cells of padding: at 80 columns
        # that leaves role and project readable.
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield Static(id="detail", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.fit_columns()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        if self.fit_columns():
            self.refill()

    def fit_columns(self) -> bool:
        """Size the columns to the rows and the screen; True if they changed (the rows must be added again)."""
        from vault.columns import fit_widths, natural

        table = self.query_one(DataTable)
        room = (self.size.width or self.app.size.width) - 2 - 2  # the vertical scrollbar, the edges
        cols = [natural([text(s) for s in self.rows], title, minimum=least)
                for title, least, _, text in COLUMNS]
        widths = fit_widths(cols, TITLE, room, gap=1, give_first=[len(COLUMNS) - 1])  # the source first
        if widths == self.widths:
            return False
        self.widths = widths
        table.clear(columns=True)
        for (title, *_), width in zip(COLUMNS, widths, strict=True):
            table.add_column(title, width=width + 1, key=title)  # + the space between columns
        return True

    def load(self) -> None:
        with self.app.access.read() as con:
            self.rows = data.session_rows(con, self.app.settings)
        self.fit_columns()
        self.refill()

    def refill(self) -> None:
        words = self.query_one("#filter", Input).value.lower().split()
        key = COLUMNS[self.sort_col][2]
        self.shown = sorted((s for s in self.rows if matches(s, words)), key=key, reverse=self.descending)
        table = self.query_one(DataTable)
        table.clear()
        for s in self.shown:
            # As Text: a str cell is markup to DataTable ("[/x]" in a project or title raised MarkupError)
            cells = [Text(one_line(text(s), w)) for (_, _, _, text), w in zip(COLUMNS, self.widths, strict=True)]
            hot = "bold red" if s["troubled"] else ""
            cells[0] = Text(cells[0].plain, style="bold red")
            cells[4] = Text(cells[4].plain.rjust(self.widths[4]))
            cells[5] = Text(cells[5].plain.rjust(self.widths[5]), style=hot)
            table.add_row(*cells, key=s["session_id"])
        self.show_detail()

    def show_detail(self) -> None:
        table = self.query_one(DataTable)
        title = COLUMNS[self.sort_col][0]
        order = "↓" if self.descending else "↑"
        head = f"{len(self.shown)}/{len(self.rows)} sessions · sort {title} {order}"
        if self.shown and 0 <= table.cursor_row < len(self.shown):
            s = self.shown[table.cursor_row]
            head += f" · {s['session_id'][:8]} {s['source']}: {s['headline']}"
        if self.rows and not any(s["labelled"] for s in self.rows):
            head = "no rates yet: run `vault mine` · " + head
        self.query_one("#detail", Static).update(Text(one_line(head, 200), no_wrap=True, overflow="ellipsis"))

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
