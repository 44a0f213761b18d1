"""`vault ingest`, `vault stats`, `vault sessions`, `vault show`."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import click

from vault.cli.common import (
    LIMIT,
    all_default,
    db_path,
    emit_json,
    json_option,
    open_db,
    redactor,
    settings,
    stderr_console,
    stdout_console,
    usage_error,
    when_option,
)


def _default_paths(console) -> list[Path]:
    from vault.paths import default_archive_roots

    found = [(src, p) for src, p in default_archive_roots() if p.is_dir()]
    seen: set[Path] = set()
    out = []
    for src, p in found:
        rp = p.resolve()
        if rp in seen:
            continue
        seen.add(rp)
        out.append(rp)
        console.print(f"[dim]found {src} archive:[/] {p}")
    if not out:
        console.print("[yellow]No archive found in the default locations[/] "
                      "(~/.claude/projects, $CLAUDE_CONFIG_DIR/projects, ~/.config/claude/projects, "
                      "~/.codex/sessions, ~/.gemini/tmp). Pass a path: vault ingest PATH")
    return out


@click.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--source", callback=lambda ctx, p, v: _check_source(v),
              help="Force a format instead of detecting it (e.g. claude_code, neutral).")
@click.option("--no-embed", is_flag=True, help="Skip computing embeddings after the ingest.")
@click.option("--hook", is_flag=True, help="Run as a Claude Code hook: ingest the transcript named by the hook "
                                           "JSON on stdin, silently, in the background (see `vault hooks`).")
@click.option("--wait", is_flag=True, help="With --hook: ingest before returning instead of in the background.")
@click.option("--hook-worker", hidden=True, default=None)
@json_option
@click.pass_context
def ingest_cmd(ctx, paths: tuple[Path, ...], source: str | None, no_embed: bool, hook: bool, wait: bool,
               hook_worker: str | None, as_json: bool) -> None:
    """Ingest transcripts (files or folders; default: every known archive location)."""
    if hook or hook_worker:
        from vault.cli.loop import run_hook, run_hook_worker

        return run_hook_worker(ctx, hook_worker) if hook_worker else run_hook(ctx, wait=wait)
    from vault import unchanged
    from vault.hooks import list_pending
    from vault.ingest_report import IngestReport
    from vault.settings_light import IngestDefaults

    err = functools.cache(stderr_console)  # made when first needed: an unchanged re-ingest prints nothing there
    quiet = as_json or not sys.stderr.isatty()
    targets = list(paths) or _default_paths(err())
    pending = list_pending(db_path(ctx))  # transcripts a hook left while the vault was busy
    targets += [p for p in pending if p.exists()]
    missing = [p for p in targets if not p.exists()]
    for p in missing:
        err().print(f"[red]not found:[/] {p}")
    targets = [p for p in targets if p.exists()]
    if missing and not targets:  # nothing to read: say so, and create no vault for it
        from vault.errors import VaultError

        raise VaultError(f"nothing to ingest: {', '.join(str(p) for p in missing)} not found")
    # With every setting at its default (nothing to validate), pydantic stays unloaded (vault.settings_light).
    defaults = all_default(ctx)
    ingest_conf = IngestDefaults() if defaults else settings(ctx).ingest
    model = None if defaults else settings(ctx).embed.model
    db = Path(db_path(ctx)).expanduser()
    new_vault = not db.exists()
    # Nothing changed since the last ingest recorded its state (vault.unchanged): answered without the vault.
    fast = None if new_vault or pending or source else unchanged.check(db, targets, model, embed=not no_embed)
    if fast is not None:
        rep, files, index_info = IngestReport(files_unchanged=fast[0]), fast[1], None
    else:
        rep, files, index_info = _ingest(ctx, db, targets, pending, source, no_embed, quiet, err, ingest_conf, model)
    out = rep.as_contract()
    if index_info:
        out["index"] = index_info
    if as_json:
        emit_json(out)
    else:
        _print_ingest(stdout_console(), rep, index_info)
    if (missing and not files) or (files and rep.files == 0 and rep.files_unchanged == 0):
        sys.exit(1)


def _ingest(ctx, db: Path, targets: list[Path], pending: dict, source: str | None, no_embed: bool, quiet: bool,
            err, ingest_conf, model: str | None):
    """The ingest proper: (report, paths walked, what the index updates did)."""
    from vault.cli import common
    from vault.hooks import clear_pending
    from vault.ingest import Ingester
    from vault.lightquery import no_pandas, unloaded
    from vault.walk import walk_names

    new_vault = not db.exists()
    with contextlib.ExitStack() as light:
        # Nothing here needs pandas, yet DuckDB imports it (0.3 s) at the first query with parameters: keep it
        # out (vault.lightquery) unless a model is to be loaded for embeddings (that path may want it).
        light.enter_context(no_pandas())
        light_imports = no_embed and common.whole_process  # this process computes no embeddings
        if light_imports:  # nor pyarrow.dataset and dateutil (numpy: `Ingester`)
            light.enter_context(unloaded())
        with open_db(ctx, create=True, appends=not new_vault) as con, contextlib.ExitStack() as reopened:
            files = list(walk_names(targets))  # strings: an unchanged file never becomes a Path
            if quiet:
                ing = Ingester(con, source=source, settings=ingest_conf, numpy_unused=light_imports)
                ing.ingest_files(files)
                ing.finish(checkpoint_later=True)
            else:
                from rich.progress import BarColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

                with Progress("[progress.description]{task.description}", BarColumn(), TransferSpeedColumn(),
                              TimeRemainingColumn(), console=err(), transient=True) as prog:
                    task = prog.add_task("ingesting", total=sum(_size(p) for p in files) or None)
                    ing = Ingester(con, source=source, settings=ingest_conf, numpy_unused=light_imports,
                                   on_file=lambda p, n: prog.update(task, advance=n,
                                                                    description=f"ingesting {p.name[:40]}"))
                    ing.ingest_files(files)
                    prog.update(task, description="indexing sessions")
                    ing.finish(checkpoint_later=True)
            rep = ing.report
            clear_pending(list(pending.values()))
            if new_vault:  # the whole keyword index is built next: see `_reopened`
                con = reopened.enter_context(contextlib.closing(_reopened(ctx, con)))
            if not no_embed and not _embedded(con, model):
                light.close()
            # Always: an earlier run may have been interrupted before its indexes were brought up to date.
            index_info = _after_ingest(con, embed=not no_embed, quiet=quiet, console=err, model=model)
            ing.forget_derived(con)  # after the checkpoint that ends `_after_ingest` (`Ingester.finish`)
            if new_vault:  # DuckDB never gives free blocks back: the first fill leaves many (docs/storage.md)
                from vault.store import compact_after_first_ingest

                compact_after_first_ingest(con, db)
            else:  # for the next run, if nothing changes (`unchanged.check`); while this process holds the vault
                from vault import unchanged

                unchanged.record(con, db, model, embedded=not no_embed)
    return rep, files, index_info


def _check_source(name: str | None) -> str | None:
    if name is None:  # nothing to check: the parsers (and their plugins' entry points) stay unloaded
        return None
    from vault.sources import parsers

    known = [p.name for p in parsers()]
    if name is not None and name not in known:
        raise usage_error(f"--source: unknown format {name!r}; known: {', '.join(known)}")
    return name


def _embedded(con, model: str | None) -> bool:
    from vault.index.embeddings import up_to_date

    return up_to_date(con, model)


def _reopened(ctx, con):
    """A new connection to the vault `con` just filled (closing it). DuckDB kept the new tables' data in memory in
    the connection that wrote them: a whole keyword index build there took 12.4 s and peaked at 1.08 GB on the 1 GB
    archive, against 7.5 s and 0.61 GB in a new one (docs/foundation.md)."""
    from vault.cli.common import connect_vault

    con.close()
    return connect_vault(db_path(ctx))


def _size(p: str) -> int:
    try:
        return os.stat(p).st_size
    except OSError:
        return 0


def _after_ingest(con, *, embed: bool, quiet: bool, console, model: str | None) -> dict:
    """Refresh the search indexes (keyword, embeddings); `console()` makes the stderr console if a bar shows."""
    from vault.cli.views.progress import progress_bar
    from vault.index import after_ingest

    with progress_bar(None if quiet else console(), quiet, "embedding", lazy=True) as bar:
        return after_ingest(con, embed=embed, model=model, on_progress=bar, on_stage=getattr(bar, "stage", None))


def _print_ingest(console, rep, index_info: dict | None = None) -> None:
    console.print(
        f"[bold]{rep.files}[/] files read, {rep.files_unchanged} unchanged; "
        f"[bold]{rep.messages_added}[/] new messages from {rep.records} records"
        + (f"; [yellow]{rep.skipped_lines} lines skipped[/]" if rep.skipped_lines else "")
    )
    for src, n in sorted(rep.by_source.items()):
        console.print(f"  {src}: {n} files")
    emb = (index_info or {}).get("embed")
    if emb and emb.get("embedded"):
        rate = emb["embedded"] / emb["encode_seconds"] if emb.get("encode_seconds") else 0.0
        console.print(f"  embedded {emb['embedded']} texts in {emb['seconds']:.1f} s "
                      f"(model load {emb.get('load_seconds', 0.0):.1f} s, {rate:.0f} texts/s) with {emb['model']}")
    for e in rep.errors[:20]:
        console.print(f"  [yellow]{e['file']}:{e['line']}[/] {e['reason']}")
    if len(rep.errors) > 20:
        console.print(f"  ... and {len(rep.errors) - 20} more (use --json for all)")
    for u in rep.unrecognised:
        console.print(f"  [dim]skipped {u['file']}: {u['reason']}[/]")
    if rep.unknown_types:
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(rep.unknown_types.items()))
        console.print(f"  [dim]record types kept raw but not yet understood: {kinds}[/]")


@click.command("stats")
@click.option("--corrections", is_flag=True, help="Correction rates per session, role and week.")
@click.option("--threshold", type=float, default=None,
              help="Correction rate above which a session is flagged as troubled [corrections.threshold, 0.15].")
@click.option("--role", help="Only this role (with --corrections).")
@click.option("--denominator", type=click.Choice(["typed", "human_side"]), default=None,
              help="Rate over typed messages, or every human-side turn (interrupts too) [corrections.denominator, typed].")
@click.option("--min-turns", type=click.IntRange(min=1), default=None,
              help="Sessions with fewer human turns get no rate [corrections.min_turns, 3].")
@json_option
@click.pass_context
def stats_cmd(ctx, corrections: bool, threshold: float | None, role: str | None, denominator: str | None,
              min_turns: int | None, as_json: bool) -> None:
    """Counts of sessions and messages per source."""
    from vault import queries

    with open_db(ctx, read_only=True) as con:
        if corrections:
            from miner.analytics import configured_report
            from vault.cli.views.corrections import print_corrections

            conf = settings(ctx, {"corrections.threshold": ("--threshold", threshold),
                                  "corrections.denominator": ("--denominator", denominator),
                                  "corrections.min_turns": ("--min-turns", min_turns)})
            rep = redactor(ctx).redact_obj(configured_report(con, conf, role=role))  # projects, roles
            if as_json:
                emit_json(rep)
            else:
                print_corrections(stdout_console(), rep)
            return
        st = queries.stats(con)
        from vault.storage import storage_report

        st["storage"] = storage_report(con, db_path(ctx))
    if as_json:
        emit_json(st)
        return
    from rich.table import Table

    c = stdout_console()
    c.print(f"[bold]{st['sessions']}[/] sessions ({st['subagent_sessions']} subagent), "
            f"[bold]{st['messages']}[/] messages, [bold]{st['human_messages']}[/] typed by a person; "
            f"{st['files']} files, {st['records']} records"
            + (f", {st['skipped_lines']} lines skipped" if st["skipped_lines"] else ""))
    if st["first_message"]:
        c.print(f"from {st['first_message'][:10]} to {st['last_message'][:10]}")
    t = Table("source", "sessions", "messages", "human", title="by source")
    for src, d in st["by_source"].items():
        t.add_row(src, str(d["sessions"]), str(d["messages"]), str(d["human_messages"]))
    c.print(t)
    t = Table("kind", "messages", title="by kind")
    for k, n in st["by_kind"].items():
        t.add_row(k, str(n))
    c.print(t)
    print_storage(c, st["storage"])


def print_storage(console, sz: dict) -> None:
    """The vault's size by table (estimated from DuckDB's blocks) and its ratio to the archive."""
    from rich.table import Table

    mb = 2 ** 20
    t = Table("table", "rows", "MB", "share", title="size by table (estimated)")
    used = sum(d["bytes"] for d in sz["tables"].values()) or 1
    for name, d in sz["tables"].items():
        if d["bytes"]:
            t.add_row(name, str(d["rows"]), f"{d['bytes'] / mb:.1f}", f"{d['bytes'] / used:.0%}")
    console.print(t)
    ratio = f" ({sz['ratio_to_archive']}x)" if sz["ratio_to_archive"] is not None else ""
    console.print(f"vault file {sz['file_bytes'] / mb:.1f} MB ({sz['free_blocks'] * sz['block_size'] / mb:.1f} MB "
                  f"free blocks) for an archive of {sz['archive_bytes'] / mb:.1f} MB{ratio}")
    emb = sz.get("embeddings")
    if emb and emb["bytes"]:
        console.print(f"embeddings ({emb['format']} vectors, chunk rows): {emb['bytes'] / mb:.1f} MB, "
                      f"{emb['ratio_to_archive']}x the archive")


@click.command("sessions")
@click.option("--project", help="Project name or cwd substring.")
@click.option("--source", help="Only this source (claude_code, codex, ...).")
@click.option("--role", help="Only this role (after `vault mine`).")
@when_option("--since", "Sessions active on or after this date or time (YYYY-MM-DD[THH:MM]).")
@when_option("--until", "Sessions started on or before this date or time (a date includes its day).")
@click.option("--subagents", is_flag=True, help="Include subagent sessions.")
@click.option("--limit", type=LIMIT, default=None, help="At most this many sessions.")
@json_option
@click.pass_context
def sessions_cmd(ctx, project, source, role, since, until, subagents, limit, as_json) -> None:
    """List sessions, newest first."""
    from vault.queries import SessionFilter, list_sessions

    with open_db(ctx, read_only=True) as con:
        rows = list_sessions(con, SessionFilter(project=project, source=source, since=since, until=until,
                                                role=role, include_subagents=subagents, limit=limit))
    if as_json:
        emit_json(rows)
        return
    print_sessions(stdout_console(), rows)


def print_sessions(console, rows: list[dict]) -> None:
    """The sessions table: each column as wide as its content, within the terminal; the title takes the rest."""
    from rich.table import Table

    from vault.columns import fit_widths, natural

    cells = [[r["session_id"][:8], (r["started_at"] or "")[:16].replace("T", " "), r["source"] or "",
              r["project"] or "", str(r["messages"]), str(r["human_messages"]),
              " ".join((r["title"] or r["first_prompt"] or "").split())] for r in rows]
    heads = ["session", "started", "source", "project", "msgs", "human", "title / first prompt"]
    cols = [natural([c[i] for c in cells], h, minimum=m)
            for i, (h, m) in enumerate(zip(heads, [8, 10, 6, 8, 4, 5, 12], strict=True))]
    widths = fit_widths(cols, flex=6, total=console.width)
    t = Table(title=f"{len(rows)} sessions", box=None, header_style="bold", padding=(0, 1, 0, 0),
              pad_edge=False, collapse_padding=True)
    for h, w in zip(heads, widths, strict=True):
        t.add_column(h, width=w, no_wrap=True, overflow="ellipsis",
                     justify="right" if h in ("msgs", "human") else "left")
    for c in cells:
        t.add_row(*c)
    console.print(t)


@click.command("show")
@click.argument("session")
@click.option("--all", "show_all", is_flag=True, help="Also thinking, meta and system records.")
@click.option("--at", "at_msg", help="Start the view at this message id.")
@json_option
@click.pass_context
def show_cmd(ctx, session: str, show_all: bool, at_msg: str | None, as_json: bool) -> None:
    """Show SESSION (an id, a unique prefix, or a message id) as a conversation."""
    from vault import queries
    from vault.cli.views.session import render_session

    with open_db(ctx, read_only=True) as con:
        sid = queries.resolve_session(con, session)
        if sid is None:
            raise click.ClickException(f"no session matches {session!r} (try `vault sessions`)")
        info = queries.session_info(con, sid)
        msgs = queries.session_messages(con, sid)
    if as_json:
        emit_json({"session": info, "messages": msgs})
        return
    if at_msg is None and any(m["msg_id"] == session for m in msgs):
        at_msg = session  # opened from a message id (e.g. a search hit): start there
    elif at_msg is not None and not any(m["msg_id"] == at_msg for m in msgs):
        raise usage_error(f"--at: no message {at_msg!r} in session {sid} (the ids are in `vault show {sid} --json`)")
    render_session(stdout_console(), info, msgs, show_all=show_all, at_msg=at_msg)
