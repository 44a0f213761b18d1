"""Small dialogs: pick a label, edit a text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tui.data import RELABEL_CHOICES


class LabelPicker(ModalScreen[str | None]):
    """The label of a human turn: arrows and Enter, or the digit shown; escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")] + [
        Binding(str(i + 1), f"pick({i})", show=False) for i in range(len(RELABEL_CHOICES))]

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Relabel this turn (now: {self.current or 'not labelled'})", classes="dialog-title")
            yield OptionList(*[Option(f"{i + 1} {lab}", id=lab) for i, lab in enumerate(RELABEL_CHOICES)])
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in RELABEL_CHOICES:
            options.highlighted = RELABEL_CHOICES.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        self.dismiss(RELABEL_CHOICES[index])


class TextEditor(ModalScreen[str | None]):
    """Edit a text in a TextArea: ctrl+s saves, escape cancels."""

    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog editor"):
            yield Static(Text(self.title_text + "  (ctrl+s save, esc cancel)"), classes="dialog-title")  # a role
            yield TextArea(self.text, soft_wrap=True, id="editor")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)
