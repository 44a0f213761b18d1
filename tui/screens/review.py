"""Review queue: mined pairs one at a time; accept, reject, edit chosen, relabel the feedback turn."""

from __future__ import annotations

from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static

from tui import data
from tui.screens.base import VaultScreen
from vault.render import one_line

MARKS = {"accept": ("✓ accepted", "green"), "reject": ("✗ rejected", "red"), None: ("undecided", "yellow")}


class ReviewScreen(VaultScreen):
    BINDINGS = [
        Binding("a", "decide('accept')", "Accept", tooltip="accept the pair (and go to the next)"),
        Binding("r", "decide('reject')", "Reject", tooltip="reject the pair (and go to the next)"),
        Binding("e", "edit", "Edit chosen", tooltip="edit the chosen answer (ctrl+s saves)"),
        Binding("l", "relabel", "Relabel", tooltip="relabel the feedback turn"),
        Binding("n,right", "move(1)", "Next"),
        Binding("p,left", "move(-1)", "Prev"),
        Binding("v", "view", "Session", show=False, tooltip="open the session at the feedback"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[data.Pair] = []
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="pair-head", classes="status")
        yield Static(id="feedback", classes="box")
        yield Static(id="persona", classes="box")
        with Horizontal(id="sides"):
            yield VerticalScroll(Static(id="rejected-text"), id="rejected", classes="side")
            yield VerticalScroll(Static(id="chosen-text"), id="chosen", classes="side")
        yield Footer()

    def load(self) -> None:
        current = self.pairs[self.index].pair_id if self.pairs else None
        with self.app.access.read() as con:
            self.pairs = data.pairs(con)
        ids = [p.pair_id for p in self.pairs]
        self.index = ids.index(current) if current in ids else 0
        self.show()

    def show(self) -> None:
        head = self.query_one("#pair-head", Static)
        if not self.pairs:
            head.update("No preference pairs to review. Run `vault mine` first (it builds them).")
            for sel in ("#feedback", "#persona", "#sides"):
                self.query_one(sel).display = False
            return
        for sel in ("#feedback", "#persona", "#sides"):
            self.query_one(sel).display = True
        p = self.pairs[self.index]
        done = sum(x.decision is not None for x in self.pairs)
        mark, color = MARKS[p.decision]
        head.update(Text.assemble(
            (f"pair {self.index + 1}/{len(self.pairs)}", "bold"), f" · {done} decided · ",
            (mark, f"bold {color}"), f" · {p.role_name or '-'} · {p.method} · {p.session_id[:8]}",
            no_wrap=True, overflow="ellipsis"))
        fb = self.query_one("#feedback", Static)
        fb.update(Text(p.feedback or "(no typed feedback)"))
        fb.border_title = "feedback"
        fb.border_subtitle = data.label_note(p.label, p.relabelled, p.relabel_stale)
        persona = self.query_one("#persona", Static)
        persona.update(Text(one_line(p.persona, 400) if p.persona else "(no persona for this role yet)"))
        persona.border_title = Text(f"persona · {p.role_name or '-'}")  # a str title is markup
        self.query_one("#rejected-text", Static).update(Markdown(p.rejected or ""))
        self.query_one("#chosen-text", Static).update(Markdown(p.edited if p.edited is not None else p.chosen))
        self.query_one("#rejected").border_title = "rejected"
        self.query_one("#chosen").border_title = "chosen (edited)" if p.edited is not None else "chosen"
        for side in ("#rejected", "#chosen"):
            self.query_one(side, VerticalScroll).scroll_home(animate=False)

    @property
    def pair(self) -> data.Pair | None:
        return self.pairs[self.index] if self.pairs else None

    # -- actions -------------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        if self.pairs:
            self.index = (self.index + step) % len(self.pairs)
            self.show()

    def action_decide(self, decision: str) -> None:
        p = self.pair
        if p and self.app.write(data.record_review, "pair", p.pair_id, decision):
            p.decision = decision
            self.notify(f"{MARKS[decision][0]}: {p.pair_id[:12]}", timeout=2)
            if self.index + 1 < len(self.pairs):
                self.action_move(1)
            else:
                self.show()  # the last pair: stay, showing the decision

    def action_edit(self) -> None:
        from tui.screens.modals import TextEditor

        p = self.pair
        if p is None:
            return
        def done(text: str | None) -> None:
            if text is not None and text != (p.edited or p.chosen) and self.app.write(
                    data.record_review, "pair", p.pair_id, "edit", text):
                p.edited = text
                self.notify("Chosen answer saved.", timeout=2)
                self.show()

        self.app.edit(TextEditor("Edit the chosen answer", p.edited or p.chosen), done)

    def action_relabel(self) -> None:
        from tui.screens.modals import LabelPicker

        p = self.pair
        if p is None or not p.feedback_msg_id:
            return
        def done(label: str | None) -> None:
            if label and self.app.write(data.record_review, "turn", p.feedback_msg_id, "relabel", label):
                p.label, p.relabelled, p.relabel_stale = label, True, False
                self.notify(f"Feedback turn relabelled: {label}", timeout=2)
                self.show()

        self.app.edit(LabelPicker(p.label), done)

    def action_view(self) -> None:
        from tui.screens.conversation import ConversationScreen

        p = self.pair
        if p:
            self.app.push_screen(ConversationScreen(p.session_id, at_msg=p.feedback_msg_id))
