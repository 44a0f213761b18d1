"""One session, readable: Markdown turns, tool calls collapsed, thinking hidden, labels and corrections marked."""

from __future__ import annotations

import json

from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from tui import data
from tui.screens.base import VaultScreen
from vault.model import Kind
from vault.render import HIDDEN, one_line, readable_text

HUMAN_TITLES = {Kind.HUMAN_PROMPT: "you", Kind.QUEUED_PROMPT: "you (queued)",
                Kind.INTERRUPT: "⏹ interrupted", Kind.TOOL_REJECTION: "✗ tool use rejected"}


class Turn(Static, can_focus=True):
    """A human-side turn: focusable, so that relabel (l) and jumps (n/p) have a target."""

    def __init__(self, msg: dict) -> None:
        self.msg = msg
        text = msg["text"] or ""
        body = Markdown(text) if msg["kind"] in Kind.HUMAN_TYPED else Text(text, style="red")
        super().__init__(body, classes="turn", id=_wid(msg["msg_id"]))
        self.set_label(msg.get("label"), bool(msg.get("relabelled")), bool(msg.get("relabel_stale")))

    def set_label(self, label: str | None, relabelled: bool = False, stale: bool = False) -> None:
        self.msg["label"] = label
        self.msg["is_correction"] = label == data.REATTEMPT_WITH_FEEDBACK
        ts = (self.msg.get("timestamp") or "")[11:16]
        branch = " (abandoned branch)" if not self.msg.get("on_main_branch", True) else ""
        self.border_title = f"{HUMAN_TITLES.get(self.msg['kind'], 'you')} {ts}{branch}"
        self.border_subtitle = data.label_note(label, relabelled, stale)
        self.set_class(self.msg["is_correction"], "correction")


class ToolCall(Static, can_focus=True):
    """A tool call with its result: one line, expanded by enter (or a click); `o` opens a subagent it spawned.

    One widget per call (not a Collapsible of four): sessions with thousands of calls stay quick to open.
    """

    BINDINGS = [Binding("enter", "toggle", "Expand", show=False)]
    collapsed: reactive[bool] = reactive(True, layout=True)

    def __init__(self, msg: dict) -> None:
        self.msg = msg
        self.subagent = msg.get("subagent_session_id")
        super().__init__(classes="tool", id=_wid(msg["msg_id"]))

    def render(self) -> Text:
        res = self.msg.get("result") or {}
        err = bool(res.get("is_error"))
        sub = " → subagent (o opens it)" if self.subagent else ""
        head = Text.assemble(("▶ " if self.collapsed else "▼ ", "bold"), ("⚙ ", "yellow"),
                             one_line(self.msg["text"], 300) if self.collapsed else (self.msg.get("tool_name") or ""),
                             (sub, "bold blue"), (" ✗" if err else "", "bold red"))
        if self.collapsed:
            return head
        body = Text(_pretty(self.msg["text"]), style="yellow")
        if res:
            body.append("\n" + (res.get("text") or "")[:4000], style="red" if err else "dim")
        return Text("\n").join([head, body])

    def watch_collapsed(self, collapsed: bool) -> None:
        self.set_class(not collapsed, "-expanded")  # collapsed: one line, cut with an ellipsis (CSS)

    def action_toggle(self) -> None:
        self.collapsed = not self.collapsed

    def on_click(self) -> None:
        self.action_toggle()


def _pretty(text: str | None) -> str:
    """A tool call's text: its JSON input indented when it is JSON."""
    t = text or ""
    head, _, rest = t.partition(" ")
    try:
        return head + "\n" + json.dumps(json.loads(rest), indent=2, ensure_ascii=False)
    except ValueError:
        return t


def _wid(msg_id: str) -> str:
    """A widget id from a message id (ids allow letters, digits, - and _ only)."""
    return "m-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in msg_id)


def message_widget(m: dict) -> Widget | None:
    kind = m["kind"]
    if kind in Kind.HUMAN_SIDE:
        return Turn(m)
    if kind == Kind.TOOL_RESULT and m.get("in_call"):
        return None  # shown inside its call; a result without one shows as "other" below
    if kind == Kind.TOOL_CALL:
        return ToolCall(m)
    ts = (m.get("timestamp") or "")[11:16]
    if kind == Kind.ASSISTANT_TEXT:
        return Static(Markdown(m["text"] or ""), classes="assistant", id=_wid(m["msg_id"]))
    classes = "other" + (" hidden-kind" if kind in HIDDEN else "")
    w = Static(Text.assemble((f"{kind} {ts} ", "bold"), readable_text(kind, m["text"])[:4000], style="italic"),
               classes=classes, id=_wid(m["msg_id"]))
    w.border_title = f"{kind} {ts}"
    return w


class ConversationScreen(VaultScreen):
    HELP_TITLE = "conversation"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("n", "jump(1)", "Next corr.", tooltip="jump to the next correction"),
        Binding("p", "jump(-1)", "Prev corr.", tooltip="jump to the previous correction"),
        Binding("t", "toggle_hidden", "Thinking", tooltip="show or hide thinking and meta records"),
        Binding("l", "relabel", "Relabel", tooltip="relabel the focused human turn"),
        Binding("o", "open_subagent", "Subagent", tooltip="open the subagent of the focused tool call"),
        Binding("x", "toggle_tools", "Tools", show=False, tooltip="expand or collapse every tool call"),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]
    EXTRA_KEYS = [("tab", "move between turns and tool calls"), ("enter", "expand or collapse a tool call"),
                  ("↑ ↓ pgup pgdn", "scroll")]

    def __init__(self, session_id: str, at_msg: str | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self.at_msg = at_msg
        self.msgs: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="conv-head", classes="status")
        yield VerticalScroll(id="conv")
        yield Footer()

    def load(self) -> None:
        with self.app.access.read() as con:
            info, self.msgs = data.conversation(con, self.session_id)
        head = self.query_one("#conv-head", Static)
        if info is None:
            head.update(Text(f"no session {self.session_id}"))
            return
        n_corr = sum(m["is_correction"] for m in self.msgs)
        parent = f" · subagent of {info['parent_session_id'][:8]}" if info.get("parent_session_id") else ""
        head.update(Text(one_line(f"{info.get('title') or info.get('first_prompt') or self.session_id}", 200)
                         + f"\n{self.session_id[:8]} · {info.get('project') or ''} · "
                         f"{(info.get('started_at') or '')[:16].replace('T', ' ')} · {n_corr} corrections{parent}",
                         no_wrap=True, overflow="ellipsis"))
        box = self.query_one("#conv", VerticalScroll)
        box.remove_children()
        box.mount_all([w for w in map(message_widget, self.msgs) if w is not None])
        target = self.at_msg
        self.at_msg = None
        self.call_after_refresh(self.go_to, target)

    # -- navigation ----------------------------------------------------------------------------
    def go_to(self, msg_id: str | None) -> None:
        """Scroll to a message (a search hit): show hidden kinds or expand its tool call as needed."""
        box = self.query_one("#conv", VerticalScroll)
        if msg_id is None:
            box.focus()
            return
        by_result = {(m.get("result") or {}).get("msg_id"): m["msg_id"] for m in self.msgs if m.get("result")}
        wid = _wid(by_result.get(msg_id, msg_id))
        found = box.query(f"#{wid}")
        if not found:
            box.focus()
            return
        w = found.first()
        if w.has_class("hidden-kind"):
            self.add_class("-show-all")
        if isinstance(w, ToolCall):
            w.collapsed = False
        w.add_class("hit")
        self.call_after_refresh(lambda: (box.scroll_to_widget(w, top=True, animate=False),
                                         w.focus(scroll_visible=False) if w.can_focus else box.focus()))

    def turns(self, corrections_only: bool) -> list[Turn]:
        return [t for t in self.query(Turn) if t.msg["is_correction"] or not corrections_only]

    def action_jump(self, step: int) -> None:
        corr = self.turns(corrections_only=True)
        if not corr:
            self.notify("No correction in this session.", timeout=3)
            return
        box = self.query_one("#conv", VerticalScroll)
        cur = self.focused if isinstance(self.focused, Turn) else None
        if cur is not None:
            ys = [t.virtual_region.y for t in corr]
            y = cur.virtual_region.y
            ahead = [t for t, ty in zip(corr, ys, strict=True) if (ty > y if step > 0 else ty < y)]
        else:
            top = box.scroll_y
            ahead = [t for t in corr if (t.virtual_region.y > top if step > 0 else t.virtual_region.y < top)]
        if not ahead:
            self.notify("No more corrections " + ("below." if step > 0 else "above."), timeout=2)
            return
        target = ahead[0] if step > 0 else ahead[-1]
        box.scroll_to_widget(target, top=True, animate=False)
        target.focus(scroll_visible=False)

    def action_toggle_hidden(self) -> None:
        self.toggle_class("-show-all")

    def action_toggle_tools(self) -> None:
        calls = list(self.query(ToolCall))
        expand = any(c.collapsed for c in calls)
        for c in calls:
            c.collapsed = not expand

    def action_scroll_home(self) -> None:
        self.query_one("#conv", VerticalScroll).scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.query_one("#conv", VerticalScroll).scroll_end(animate=False)

    def _focused(self, cls: type) -> Widget | None:
        node = self.focused
        while node is not None and not isinstance(node, cls):
            node = node.parent
        return node

    def action_relabel(self) -> None:
        from tui.screens.modals import LabelPicker

        turn = self._focused(Turn)
        if turn is None:
            self.notify("Focus a human turn first (n/p or tab).", timeout=3)
            return
        def done(label: str | None) -> None:
            if label and self.app.write(data.record_review, "turn", turn.msg["msg_id"], "relabel", label):
                turn.set_label(label, relabelled=True)
                self.notify(f"Relabelled: {label}", timeout=3)

        self.app.edit(LabelPicker(turn.msg.get("label")), done)

    def action_open_subagent(self) -> None:
        call = self._focused(ToolCall)
        if call is None or not call.subagent:
            self.notify("Focus a tool call that spawned a subagent (marked → subagent).", timeout=3)
            return
        self.app.push_screen(ConversationScreen(call.subagent))
