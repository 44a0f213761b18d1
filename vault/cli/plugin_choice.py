"""A `click.Choice` of names plugins add to (`--backend`, `--format`): the built-ins known when the command is
made, the plugins' read from their entry points only when needed (the command's --help, a name no built-in has,
completion), so `vault mine` with a built-in backend reads no entry points (importlib.metadata, ~20 ms)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import click


class PluginChoice(click.Choice):
    def __init__(self, builtins: Collection[str], every: Callable[[], Iterable[str]]) -> None:
        """`builtins`: the built-in names (the registry's table itself); `every()`: all of them, the plugins' after
        (the entry points read)."""
        self.builtins = builtins
        self._every = every
        super().__init__(builtins)

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        # Asked each time (the registry keeps what it read): plugins installed later in the process show.
        return tuple(self._every())

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ sets it: the built-ins, already kept
        pass

    def convert(self, value, param, ctx):
        if value in self.builtins:  # the default and every built-in name: no entry points read
            return value
        return super().convert(value, param, ctx)
