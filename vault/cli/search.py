"""`vault search`: the command's work, without click (its options: `vault.cli.search_cmds`; the common case is
parsed without click by `vault.cli.quick`, 15-20 ms of a cold search)."""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import sys
import time

from vault.cli.common import emit_json, esc, open_db, settings, stderr_console, stdout_console


def run_search(ctx, query, mode, limit, project, role, session, since, until, kinds, human_only, model,
               as_json, source=None) -> None:
    """`vault search` with its options as parsed (by click, `vault.cli.search_cmds`, or by `vault.cli.quick`): `ctx`
    only leads to the command's settings (`ctx.find_root().obj`, a `vault.cli.common.CliState`)."""
    from vault.lightquery import gc_deferred, no_pandas

    with gc_deferred():
        from vault.index.search import SearchFilters, search, semantic_ready
    from vault.cli.unmatched import print_notes, unmatched_filters

    text = " ".join(query)
    if mode != "keyword":
        # Before numpy loads: a query is encoded on one thread anyway (embeddings.encode_query), and OpenBLAS
        # starting a thread per core as numpy loads costs a cold search 20 ms of CPU.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    err = functools.cache(stderr_console)  # made when first needed: the keyword path rarely writes to stderr
    filters = SearchFilters(project=project, role=role, session=session, source=source, since=since, until=until,
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
                unmatched = [] if hits else unmatched_filters(ctx, con, session=session, project=project,
                                                                    source=source, role=role, assigned=True,
                                                                    since=since, until=until)
        if hits is None:  # sentence-transformers takes seconds: the vault was let go meanwhile
            wait = None if explicit else settings(ctx).search.hybrid_wait  # an explicit mode waits for the model
            mode = mode if loader.wait(err, wait, started) else "keyword"
            with open_db(ctx, read_only=True) as con:
                hits = search(con, text, mode=mode, limit=limit, filters=filters, model=model)
                unmatched = [] if hits else unmatched_filters(ctx, con, session=session, project=project,
                                                                    source=source, role=role, assigned=True,
                                                                    since=since, until=until)
    if as_json:
        emit_json([h.as_json() for h in hits])
    else:
        _print_hits(hits, text)
    print_notes(unmatched, err() if unmatched else None)  # a typo in a filter is not "no match for the words"
    from vault.cli import common

    common.exit_at_once = True  # everything is written and the vault closed: nothing left to tear down


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
        status = (err().status(f"loading the embedding model {esc(self.name)} (once per process)…", spinner="dots")
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

    with open_db(ctx, read_only=True, until_exit=True) as con:
        if not fts.needs_rebuild(con):
            con.execute("SET threads = 1")
            yield con
            return
        con.close()  # (not left open: a writer opens the vault next)
    try:
        with open_db(ctx) as con:
            fts.ensure_index(con)
    except VaultLockedError:
        err().print("[yellow]the keyword index is out of date and the vault is busy; results may miss new messages[/]")
    with open_db(ctx, read_only=True) as con:
        yield con


def _print_hits(hits, query: str) -> None:
    """The hits as rich prints them: three lines each (head, snippet with its matches in bold, `vault show` line).

    Into a pipe or a file rich writes no style, only its wrapped text: `_plain_hits` writes those same bytes without
    importing rich's console (20-30 ms of a cold search's CPU), and rich prints them everywhere else."""
    out = _plain_hits(hits, query)
    if out is not None:
        sys.stdout.write(out)
        return
    from rich.text import Text

    console = stdout_console()
    for head, h, show in _hit_lines(hits, query):
        if h is None:
            console.print(Text(head))
            continue
        head_text = Text.assemble((f"{h.score:.3f} ", "dim"), (h.session_id[:8], "cyan"), " ",
                                  ((h.timestamp or "")[:16].replace("T", " "), "dim"), " ",
                                  (h.kind, "magenta"), " ", (h.project or "", "green"))
        body_text = Text(h.snippet)
        for a, b in h.spans:
            body_text.stylize("bold yellow", a, b)
        console.print(head_text)
        console.print(body_text, soft_wrap=False)
        console.print(Text(show, style="dim"), soft_wrap=True)


def _hit_lines(hits, query: str):
    """(head, hit, show line) per hit, as plain text; (the "no match" line, None, None) when there is none."""
    if not hits:
        yield f"no match for {query!r}", None, None
    for h in hits:
        head = (f"{h.score:.3f} {h.session_id[:8]} {(h.timestamp or '')[:16].replace('T', ' ')} {h.kind} "
                f"{h.project or ''}")
        yield head, h, f"  vault show {h.session_id} --at {h.msg_id}"


def _plain_hits(hits, query: str) -> str | None:
    """What rich's Console would write for the hits to stdout when it writes no style (not a terminal), or None when
    rich must print them (a terminal or what rich may take for one, an odd width or encoding, a control character).

    The same steps as rich's `Text.wrap` with its defaults (justify "default", overflow "fold"), with rich's own
    line breaking and cell widths: each text wrapped at the console's width, the head and the snippet cropped to
    it, the `vault show` line never (soft_wrap). tests/search/test_search_cli_plain.py compares both on many texts."""
    width = _plain_width()
    if width is None:
        return None
    rows = list(_hit_lines(hits, query))
    texts = [t for head, h, show in rows for t in (head, h and h.snippet, show) if t is not None]
    if not all(t.isprintable() for t in texts):  # control codes rich strips or splits at, blanks but the space
        return None
    from rich._wrap import divide_line
    from rich.cells import cell_len, set_cell_size

    def wrapped(text: str) -> str:
        lines = []
        offsets = divide_line(text, width, fold=True)
        for a, b in zip([0, *offsets], [*offsets, len(text)]):
            line = text[a:b]
            if len(line) > width:  # Text.rstrip_end: spaces past the width go (counted in characters)
                line = line[:len(line) - min(len(line) - len(line.rstrip(" ")), len(line) - width)]
            if cell_len(line) > width:  # Text.truncate (overflow "fold")
                line = set_cell_size(line, width)
            lines.append(line)
        return "\n".join(lines) + "\n"

    out = []
    for head, h, show in rows:
        out.append(wrapped(head))
        if h is not None:
            out += [wrapped(h.snippet), show + "\n"]
    return "".join(out)


def _plain_width() -> int | None:
    """The width rich's Console() wraps stdout at when stdout is no terminal to it; None when it may be one
    (or on Windows, in Jupyter or IDLE, with an encoding other than UTF-8), where rich decides."""
    try:
        if sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    if (sys.platform == "win32" or any(os.environ.get(k) for k in RICH_TERMINAL_ENV) or "idlelib" in sys.modules
            or hasattr(builtins, "get_ipython")
            or (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "") != "utf8"):
        return None
    columns = os.environ.get("COLUMNS")  # rich: COLUMNS when it is digits, else the first terminal's width, else 80
    if columns is not None and columns.isdigit():
        try:
            width = int(columns)
        except ValueError:
            return None
    else:
        width = None
        for fd in (0, 1, 2):
            try:
                width = os.get_terminal_size(fd)[0]
                break
            except (AttributeError, ValueError, OSError):
                pass
        width = width or 80
    return width if width > 0 else None
