"""`vault ingest`, `vault stats`, `vault sessions`, `vault show`."""

from __future__ import annotations

from pathlib import Path

import click

from vault.cli.common import (
    LIMIT,
    db_path,
    emit_json,
    esc,
    json_option,
    open_db,
    redactor,
    settings,
    stdout_console,
    usage_error,
    when_option,
)
from vault.cli.ingest_run import check_source, run_ingest
from vault.render import counted


@click.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--source", callback=lambda ctx, p, v: check_source(v),
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
    run_ingest(ctx, paths, source, no_embed, hook, wait, hook_worker, as_json)


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
            from vault.cli.unmatched import print_notes, unmatched_filters
            from vault.cli.views.corrections import print_corrections

            conf = settings(ctx, {"corrections.threshold": ("--threshold", threshold),
                                  "corrections.denominator": ("--denominator", denominator),
                                  "corrections.min_turns": ("--min-turns", min_turns)})
            rep = redactor(ctx).redact_obj(configured_report(con, conf, role=role))  # projects, roles
            notes = unmatched_filters(ctx, con, role=role)
            if as_json:
                emit_json(rep)
            else:
                print_corrections(stdout_console(), rep)
            print_notes(notes)
            return
        st = queries.stats(con)
        from vault.storage import storage_report

        st["storage"] = storage_report(con, db_path(ctx))
    if as_json:
        emit_json(st)
        return
    from rich.table import Table

    c = stdout_console()
    c.print(f"{counted(st['sessions'], 'session', style='bold')} ({st['subagent_sessions']} subagent), "
            f"{counted(st['messages'], 'message', style='bold')}, [bold]{st['human_messages']}[/] typed by a person; "
            f"{counted(st['files'], 'file')}, {counted(st['records'], 'record')}"
            + (f", {counted(st['skipped_lines'], 'line')} skipped" if st["skipped_lines"] else ""))
    if st["unfinished_files"]:
        n = st["unfinished_files"]
        c.print(f"[dim]{counted(n, 'file')} {'ends' if n == 1 else 'end'} in an unfinished line "
                f"({counted(st['unfinished_bytes'], 'byte')}, "
                "no newline): read by the next ingest once complete[/]")
    if st["first_message"]:
        c.print(f"from {st['first_message'][:10]} to {st['last_message'][:10]}")
    t = Table("source", "sessions", "messages", "human", title="by source")
    for src, d in st["by_source"].items():
        t.add_row(esc(src), str(d["sessions"]), str(d["messages"]), str(d["human_messages"]))
    c.print(t)
    t = Table("kind", "messages", title="by kind")
    for k, n in st["by_kind"].items():
        t.add_row(esc(k), str(n))
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
    ratio = f" ({times(sz['ratio_to_archive'])})" if sz["ratio_to_archive"] is not None else ""
    console.print(f"vault file {sz['file_bytes'] / mb:.1f} MB ({sz['free_blocks'] * sz['block_size'] / mb:.1f} MB "
                  f"free blocks) for an archive of {sz['archive_bytes'] / mb:.1f} MB{ratio}")
    if _mostly_minimum_blocks(sz):
        console.print(f"[dim]a small vault: DuckDB gives each table at least one {sz['block_size'] // 1024} KB block, "
                      "so the file is mostly that minimum; the ratio falls as the archive grows[/]")
    emb = sz.get("embeddings")
    if emb and emb["bytes"]:
        console.print(f"embeddings ({emb['format']} vectors, chunk rows): {emb['bytes'] / mb:.1f} MB, "
                      f"{times(emb['ratio_to_archive'])} the archive")


def _mostly_minimum_blocks(sz: dict) -> bool:
    """Most tables at their one-block minimum and the file above the archive: the "10 MB for an archive of 0.2 MB
    (52.7x)" of a new vault, true and startling without a word."""
    sizes = [d["bytes"] for d in sz["tables"].values() if d["bytes"]]
    at_minimum = sum(b <= sz["block_size"] for b in sizes)
    return bool(sizes) and at_minimum * 2 > len(sizes) and (sz.get("ratio_to_archive") or 0) > 1


def times(ratio: float) -> str:
    """A ratio to the archive as the text report prints it, three figures, whole above 100 (`--json` keeps the
    rounded value): 52.7x, 3.95x, 0.456x, 183x (was 52.71x beside 3.9486x)."""
    return f"{ratio:.3g}x" if ratio < 100 else f"{ratio:.0f}x"


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
    from vault.cli.unmatched import print_notes, unmatched_filters
    from vault.queries import SessionFilter, list_sessions, short_ids

    with open_db(ctx, read_only=True) as con:
        rows = list_sessions(con, SessionFilter(project=project, source=source, since=since, until=until,
                                                role=role, include_subagents=subagents, limit=limit))
        notes = [] if rows else unmatched_filters(ctx, con, project=project, source=source, role=role,
                                                          assigned=True, since=since, until=until)
        shown = None if as_json else short_ids(con, [r["session_id"] for r in rows])
    if as_json:
        emit_json(rows)
    else:
        print_sessions(stdout_console(), rows, shown)
    print_notes(notes)


def print_sessions(console, rows: list[dict], shown: dict[str, str] | None = None) -> None:
    """The sessions table: each column as wide as its content, within the terminal; the title takes the rest.
    `shown`: each session id as the table names it (`vault.queries.short_ids`: a prefix `vault show` takes); else
    its first 8 characters."""
    from rich.table import Table

    from vault.columns import fit_widths, natural

    shown = shown or {}
    cells = [[shown.get(r["session_id"], r["session_id"][:8]), (r["started_at"] or "")[:16].replace("T", " "),
              r["source"] or "",
              r["project"] or "", str(r["messages"]), str(r["human_messages"]),
              " ".join((r["title"] or r["first_prompt"] or "").split())] for r in rows]
    heads = ["session", "started", "source", "project", "msgs", "human", "title / first prompt"]
    least = max([8, *(len(c[0]) for c in cells)])  # the id is what `vault show` takes: never cut
    cols = [natural([c[i] for c in cells], h, minimum=m)
            for i, (h, m) in enumerate(zip(heads, [least, 10, 6, 8, 4, 5, 12], strict=True))]
    widths = fit_widths(cols, flex=6, total=console.width)
    t = Table(title=counted(len(rows), "session"), box=None, header_style="bold", padding=(0, 1, 0, 0),
              pad_edge=False, collapse_padding=True)
    for h, w in zip(heads, widths, strict=True):
        t.add_column(h, width=w, no_wrap=True, overflow="ellipsis",
                     justify="right" if h in ("msgs", "human") else "left")
    for c in cells:
        t.add_row(*map(esc, c))
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
    if at_msg is None and any(m["msg_id"] == session for m in msgs):
        at_msg = session  # opened from a message id (e.g. a search hit): start there
    elif at_msg is not None and not any(m["msg_id"] == at_msg for m in msgs):
        raise usage_error(f"--at: no message {at_msg!r} in session {sid} (the ids are in `vault show {sid} --json`)")
    if as_json:  # every message, and where the text view starts (a wrong --at is the same error as there)
        emit_json({"session": info, "messages": msgs, **({"at": at_msg} if at_msg else {})})
        return
    render_session(stdout_console(), info, msgs, show_all=show_all, at_msg=at_msg)
