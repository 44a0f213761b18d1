"""Search indexes over the vault: BM25 full-text (`fts`), embeddings (`embeddings`, `vectors`), and
the search itself (`search`). Heavy libraries (torch, sentence-transformers) load only when a
model is needed: nothing to embed means no model load.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


def after_ingest(con: duckdb.DuckDBPyConnection, *, embed: bool = True, quiet: bool = False,
                 console=None, model: str | None = None) -> dict | None:
    """Called by `vault ingest`: rebuild the BM25 index if content changed, then embed new messages
    (with `model`, the `embed.model` setting; None: the vault's model, else the default).

    Returns what was done (for the ingest JSON under "index"), or None when nothing was.
    """
    from vault.faults import crash_point
    from vault.index import embeddings, fts

    out: dict = {}
    built = fts.ensure_index(con)
    if built:
        out.update(built)
        drop_orphan_chunks(con)
    crash_point("fts-done")
    if embed and not embeddings.up_to_date(con, model):
        # Even with nothing left to encode: a run killed after its last chunk had not yet switched
        # the vault to its model nor marked itself complete; this one does (no model is loaded).
        quiet = quiet or not embeddings.pending_count(con, model)
        with progress_bar(console, quiet, "embedding") as on_progress:
            rep = embeddings.embed_pending(con, model, on_progress=on_progress,
                                           on_stage=getattr(on_progress, "stage", None))
        if rep.messages or rep.switched_from:
            out["embed"] = rep.as_dict()
    return out or None


def drop_orphan_chunks(con: duckdb.DuckDBPyConnection) -> int:
    """Chunk rows of messages that a re-read file no longer has (their vectors may serve other texts)."""
    n = con.execute(
        "DELETE FROM chunks WHERE msg_id NOT IN (SELECT msg_id FROM messages)"
    ).fetchone()[0]
    return int(n)


@contextlib.contextmanager
def progress_bar(console, quiet: bool, what: str) -> Iterator:
    """A rich progress bar with a rate and an ETA on `console` (stderr), or None when quiet.

    The callback takes (done, total); its `.stage(text)` changes the description (e.g. while a model loads).
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

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), Rate(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as prog:
        task = prog.add_task(what, total=None)

        def on_progress(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        def stage(text: str) -> None:
            prog.update(task, description=text)

        on_progress.stage = stage
        yield on_progress
