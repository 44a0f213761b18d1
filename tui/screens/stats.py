"""Stats and personas: the correction-rate histogram and weekly trend per role, and the role's persona."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from tui import data
from tui.screens.base import VaultScreen, pct
from vault.render import one_line

ALL = None  # the "every role" choice


# Personas are built by `vault personas` from the corrections that `vault mine` finds.
PERSONAS_HINT = "No personas yet: `vault personas` builds one per role from the corrections `vault mine` found."

class StatsScreen(VaultScreen):
    HELP_TITLE = "stats & personas"
    BINDINGS = [
        Binding("right,n", "cycle(1)", "Next role"),
        Binding("left,p", "cycle(-1)", "Prev role"),
        Binding("e", "edit", "Edit persona", tooltip="edit the role's persona (ctrl+s saves)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict = {}
        self.personas: dict[str, dict] = {}
        self.roles: list[str | None] = [ALL]
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="stats-head", classes="status")
        with Horizontal(id="plots"):
            yield PlotextPlot(id="histogram")
            yield PlotextPlot(id="trend")
        yield VerticalScroll(Static(id="persona-text"), id="persona-box", classes="box")
        yield Footer()

    def load(self) -> None:
        with self.app.access.read() as con:
            self.report = data.corrections(con, self.app.settings)
            self.personas = {p["role_name"]: p for p in data.personas(con)}
        named = sorted({r["role"] for r in self.report["roles"] if r["role"]} | set(self.personas))
        current = self.roles[self.index] if self.index < len(self.roles) else ALL
        self.roles = [ALL, *named]
        self.index = self.roles.index(current) if current in self.roles else 0
        self.show()

    @property
    def role(self) -> str | None:
        return self.roles[self.index]

    def show(self) -> None:
        rep, role = self.report, self.role
        summary = rep["overall"] if role is ALL else next((r for r in rep["roles"] if r["role"] == role), {})
        self.query_one("#stats-head", Static).update(Text(
            f"{role or 'all roles'} ({self.index + 1}/{len(self.roles)}, ←/→) · "
            f"{summary.get('sessions', 0)} sessions · {summary.get('turns', 0)} turns · "
            f"{summary.get('corrections', 0)} corrections · pooled {pct(summary.get('rate'))} · "
            f"{summary.get('troubled', 0)} troubled", no_wrap=True, overflow="ellipsis"))
        self._histogram(role)
        self._trend(role)
        self._persona(role)

    def _cleared(self, plot_id: str) -> PlotextPlot:
        """The plot, its data and figure cleared for drawing again."""
        plot = self.query_one(plot_id, PlotextPlot)
        plot.plt.clear_data()
        plot.plt.clear_figure()
        return plot

    def _histogram(self, role: str | None) -> None:
        """Sessions per 5 % bin of correction rate (rated sessions of the role), binned as the report bins them."""
        from miner.analytics import histogram

        of_role = [s for s in self.report["sessions"] if role is ALL or s["role"] == role]
        bins = [b["sessions"] for b in histogram(of_role)]
        last = max([i for i, n in enumerate(bins) if n] + [9])
        plot = self._cleared("#histogram")
        plt = plot.plt
        filled = [(5 * i + 2.5, n) for i, n in enumerate(bins) if n]  # zero bins drawn as nothing
        if filled:
            xs = [x for x, _ in filled]
            gap = (xs[-1] - xs[0]) / (len(xs) - 1) if len(xs) > 1 else 1.0  # plotext scales width by it
            plt.bar(xs, [n for _, n in filled], width=min(1.0, 4.5 / gap))
            top = max(bins)
            plt.yticks(list(range(0, top + 1, max(1, top // 4))))
        plt.vline(100 * self.report["definition"]["threshold"], "red")  # troubled above this
        plt.xlim(0, 5 * (last + 1))
        plt.xticks(list(range(0, 5 * (last + 2), 10)))
        plt.title("sessions by correction rate %")
        plot.refresh()

    def _trend(self, role: str | None) -> None:
        """The weekly pooled correction rate of the role (all roles pooled when none is chosen)."""
        weeks: dict[str, list[int]] = {}
        for w in self.report["weekly"]:
            if w["week"] and (role is ALL or w["role"] == role):
                t = weeks.setdefault(w["week"], [0, 0])
                t[0] += w["corrections"]
                t[1] += w["turns"]
        plot = self._cleared("#trend")
        plt = plot.plt
        plt.title("weekly correction rate %")
        if weeks:
            keys = sorted(weeks)[-12:]
            plt.plot(list(range(len(keys))), [100 * weeks[k][0] / weeks[k][1] if weeks[k][1] else 0 for k in keys],
                     marker="braille")
            step = max(1, len(keys) // 3)
            plt.xticks(list(range(0, len(keys), step)), [k[2:] for k in keys][::step])
            plt.ylim(0, 100)
        plot.refresh()

    def _persona(self, role: str | None) -> None:
        box = self.query_one("#persona-box", VerticalScroll)
        text = self.query_one("#persona-text", Static)
        if role is ALL:
            box.border_title = "personas"
            lines = Text("\n").join(Text.assemble((r, "bold"), ": ", one_line(p["text"], 200))
                                    for r, p in self.personas.items())
            text.update(lines if self.personas else Text(PERSONAS_HINT))
            return
        p = self.personas.get(role)
        box.border_title = Text(f"persona · {role}" + (" (edited)" if p and p["edited"] else ""))  # a str is markup
        if p is None:
            text.update(Text(f"No persona for this role yet: `vault personas {role}` builds it (after `vault mine`)."))
            return
        rules = "\n".join(f"- {r.get('rule')} ({r.get('support', '?')})" for r in p["rules"] if isinstance(r, dict))
        text.update(Text(p["text"] + ("\n\nrules:\n" + rules if rules else "")))

    # -- actions -------------------------------------------------------------------------------
    def action_cycle(self, step: int) -> None:
        self.index = (self.index + step) % len(self.roles)
        self.show()

    def action_edit(self) -> None:
        from tui.screens.modals import TextEditor

        role = self.role
        if role is ALL or role not in self.personas:
            self.notify("Pick a role with a persona first (←/→).", timeout=3)
            return
        def done(text: str | None) -> None:
            if text is not None and self.app.write(data.save_persona, role, text):
                self.personas[role].update(text=text, edited=True)
                self.notify(f"Persona of {role} saved.", timeout=2, markup=False)
                self.show()

        self.app.edit(TextEditor(f"Persona of {role}", self.personas[role]["text"]), done)
