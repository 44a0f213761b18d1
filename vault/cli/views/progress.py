"""Progress bars on stderr for the library's `on_progress(done, total)` / `on_stage(text)` callbacks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def progress_bar(console, quiet: bool, what: str, *, lazy: bool = False) -> Iterator:
    """A rich progress bar with a rate and an ETA on `console` (stderr), or None when quiet.

    The callback takes (done, total); its `.stage(text)` changes the description (e.g. while a model loads).
    `lazy`: the bar appears at the first callback, so work that turns out to be empty shows nothing.
    """
    if quiet or console is None:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.0f}/s" if task.speed else "", style="progress.data.speed")

    prog = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), Rate(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)
    from vault.cli.common import esc

    task = prog.add_task(esc(what), total=None)

    def started() -> Progress:
        if not prog.live.is_started:
            prog.start()
        return prog

    def on_progress(done: int, total: int) -> None:
        started().update(task, completed=done, total=total)

    def stage(text: str) -> None:
        started().update(task, description=esc(text))  # a model's name, a path: literal

    on_progress.stage = stage
    if not lazy:
        started()
    try:
        yield on_progress
    finally:
        if prog.live.is_started:
            prog.stop()
