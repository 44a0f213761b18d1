"""Search: keyword results as you type (debounced), hybrid on Enter; filters as `key:value` words."""

from __future__ import annotations

import re

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui.screens.base import VaultScreen

DEBOUNCE = 0.3  # seconds of quiet typing before a keyword search
LIMIT = 50
FILTER_KEYS = ("project", "role", "session", "since", "until", "kind", "human")
_FILTER = re.compile(r"(?<!\S)(" + "|".join(FILTER_KEYS) + r"):(\S+)")


def parse_query(text: str):
    """(query, SearchFilters) from what was typed: `project:api kind:human_prompt flaky test`."""
    from vault.index.search import SearchFilters

    opts: dict = {"kinds": []}
    for key, value in _FILTER.findall(text):
        if key == "kind":
            opts["kinds"].append(value)
        elif key == "human":
            opts["human_only"] = value.lower() in ("1", "yes", "true", "y")
        else:
            opts[key] = value
    opts["kinds"] = tuple(opts["kinds"])
    return " ".join(_FILTER.sub(" ", text).split()), SearchFilters(**opts)


class SearchScreen(VaultScreen):
    BINDINGS = [
        Binding("slash", "focus_query", "Query"),
        Binding("escape", "focus_results", "Results"),
    ]
    EXTRA_KEYS = [("type", "keyword search as you type"), ("enter (in query)", "hybrid search (loads the model)"),
                  ("enter (on a hit)", "open the conversation at that message"),
                  ("filters", "project:X role:X session:X since:DATE until:DATE kind:K human:yes")]

    def __init__(self) -> None:
        super().__init__()
        self.hits: list = []
        self._timer = None
        self._asked = 0  # numbers the searches: a slow older one must not overwrite newer results
        self._mode = "keyword"  # the newest search's: a reload (ctrl+r) asks it again the same way
        self.index_note = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder='words, "a phrase", project:X role:X kind:K since:D …  Enter: hybrid', id="query")
        yield Static("Type to search by keyword; Enter for hybrid (keyword + semantic).", id="search-status",
                     classes="status")
        yield DataTable(id="hits", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title, width in (("session", 8), ("date", 10), ("kind", 14), ("snippet", 200)):
            table.add_column(title, width=width)
        self.query_one("#query", Input).focus()

    def load(self) -> None:
        """Keep the keyword index fresh: rebuild it now if content changed and the vault is writable."""
        from vault.index import fts

        with self.app.access.read() as con:
            stale = fts.needs_rebuild(con)
        self.index_note = ""
        if stale and self.app.access.writable:
            self.rebuild_index()
        elif stale:
            self.index_note = " (keyword index out of date: read-only)"
        query = self.query_one("#query", Input).value
        if query.strip():
            self.search(query, self._mode)

    @work(thread=True, exclusive=True, group="index")
    def rebuild_index(self) -> None:
        from vault.index import fts

        from tui.access import ReadOnlyError

        self.app.call_from_thread(self.set_status, "building the keyword index…")
        try:
            with self.app.access.write() as con:
                fts.ensure_index(con)
        except ReadOnlyError:
            self.index_note = " (keyword index out of date: vault busy)"
        self.app.call_from_thread(self.set_status, "keyword index ready.")

    def set_status(self, text: str, wrap: bool = False) -> None:
        """One line, cut to the width; `wrap`: as many as the status holds (two), for a note that names what to
        type instead."""
        self.query_one("#search-status", Static).update(Text(text + self.index_note, no_wrap=not wrap,
                                                             overflow="ellipsis"))

    # -- searching -------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, lambda: self.search(event.value, "keyword"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.search(event.value, "hybrid")
        self.query_one(DataTable).focus()

    def search(self, text: str, mode: str) -> None:
        self._asked += 1
        self._mode = mode
        self.run_search(text, mode, self._asked)

    @work(thread=True, group="search")
    def run_search(self, text: str, mode: str, asked: int) -> None:
        from vault.index.search import search, semantic_ready

        query, filters = parse_query(text)
        if not query:
            self.app.call_from_thread(self.show_hits, [], "", asked)
            return
        note = ""
        try:
            with self.app.access.read() as con:
                if mode != "keyword" and not semantic_ready(con):
                    mode, note = "keyword", " (no embeddings yet: `vault embed`)"
                if mode != "keyword":
                    self.app.call_from_thread(self.set_status, f"{mode} search (loading the model)…")
                hits = search(con, query, mode=mode, limit=LIMIT, filters=filters)
                unknown = None if hits else self.unmatched(con, filters)
        except Exception as e:  # a bad filter value (since:yesterday) must not end the app
            self.app.call_from_thread(self.show_failure, f"search failed: {e}", asked)
            return
        self.app.call_from_thread(self.show_hits, hits, f"{mode}{note}", asked, unknown)

    def unmatched(self, con, filters) -> str | None:
        """Why the filters match no session, as `vault search` says it on stderr: a `role:` no session has, a
        `since:`/`until:` window no session falls in (`vault.queries.window_note`, with the vault's dates)."""
        from vault.queries import window_note

        notes = [n for n in (self.unknown_role(con, filters.role),
                             window_note(con, filters.since, filters.until, ("since", "until"))) if n]
        return " · ".join(notes) or None

    def unknown_role(self, con, role: str | None) -> str | None:
        """`role: …` when no session has the `role:` asked for, worded as `vault search --role` words it
        (`miner.tables.role_unmatched`; search reads the roles `vault mine` stored)."""
        from miner.roles import load_rules
        from miner.tables import role_unmatched

        why = role_unmatched(con, load_rules(self.app.settings), role, assigned=True)
        return f"role: {why}" if why else None

    def show_failure(self, message: str, asked: int) -> None:
        """Say why the search `asked` failed, unless a newer one was asked meanwhile (checked here, in the app's
        thread, where `search` counts): the hits go too, or an earlier query's (a live search's) would stay."""
        if asked == self._asked:
            self.show_hits([], "", asked)
            self.set_status(message)

    def show_hits(self, hits: list, mode: str, asked: int, unknown: str | None = None) -> None:
        """The hits of the search `asked`; `unknown`: why a filter matches no session (said after the count)."""
        if asked != self._asked:
            return  # a newer search was asked for meanwhile
        self.hits = hits
        table = self.query_one(DataTable)
        table.clear()
        for i, h in enumerate(hits):
            snip = Text(" ".join(h.snippet.split()))
            flat = h.snippet
            for a, b in h.spans:  # spans index the raw snippet; map them onto the flattened one
                word = flat[a:b]
                at = snip.plain.find(word)
                if at >= 0:
                    snip.stylize("bold yellow", at, at + len(word))
            table.add_row(Text(h.session_id[:8]), Text((h.timestamp or "")[:10]), Text(h.kind), snip,
                          key=str(i))  # Text, not str: DataTable reads a str cell as markup
        if unknown:
            self.set_status(f"{len(hits)} hits · {mode} · {unknown}", wrap=True)
        else:
            self.set_status(f"{len(hits)} hits · {mode}" if mode else "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from tui.screens.conversation import ConversationScreen

        hit = self.hits[int(event.row_key.value)]
        self.app.push_screen(ConversationScreen(hit.session_id, at_msg=hit.msg_id))

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_results(self) -> None:
        self.query_one(DataTable).focus()
