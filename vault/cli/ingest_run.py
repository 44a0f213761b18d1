"""`vault ingest`'s code, without click: the command (`vault.cli.archive.ingest_cmd`) parses its options with click and
calls `run_ingest`; `vault.cli.quick` parses the common forms itself and calls the same function (importing click
cost a one-session ingest ~18 ms)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

from vault.cli.common import (all_default, db_path, emit_json, esc, open_db, settings, stderr_console, stdout_console,
                              usage_error)
from vault.render import counted


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
        console.print(f"[dim]found {src} archive:[/] {esc(str(p))}")
    if not out:
        console.print("[yellow]No archive found in the default locations[/] "
                      "(~/.claude/projects, $CLAUDE_CONFIG_DIR/projects, ~/.config/claude/projects, "
                      "~/.codex/sessions, ~/.gemini/tmp). Pass a path: vault ingest PATH")
    return out


def run_ingest(ctx, paths: tuple[Path, ...], source: str | None, no_embed: bool, hook: bool, wait: bool,
               hook_worker: str | None, as_json: bool) -> None:
    """`vault ingest` with what click parsed (`vault.cli.archive.ingest_cmd`), or `vault.cli.quick` did: `ctx` is
    click's context or anything with its `find_root().obj` (the group's `CliState`)."""
    if hook or hook_worker:
        from vault.cli.hook_run import run_hook, run_hook_worker

        return run_hook_worker(ctx, hook_worker) if hook_worker else run_hook(ctx, wait=wait)
    from vault import unchanged
    from vault.hooks.pending import list_pending
    from vault.ingest_report import IngestReport
    from vault.settings_light import IngestDefaults

    err = functools.cache(stderr_console)  # made when first needed: an unchanged re-ingest prints nothing there
    quiet = as_json or not sys.stderr.isatty()
    targets = list(paths) or _default_paths(err())
    pending = list_pending(db_path(ctx))  # transcripts a hook left while the vault was busy
    targets += [p for p in pending if p.exists()]
    missing = [p for p in targets if not p.exists()]
    targets = [p for p in targets if p.exists()]
    if missing and not targets:  # nothing to read: say so (one line), and create no vault for it
        from vault.errors import VaultError

        raise VaultError(f"nothing to ingest: {', '.join(str(p) for p in missing)} not found")
    for p in missing:
        err().print(f"[red]not found:[/] {esc(str(p))}", soft_wrap=True)
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
    out["not_found"] = [str(p) for p in missing]  # said on stderr too; the other paths were ingested
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
    from vault.faults import crash_point
    from vault.hooks.pending import clear_pending
    from vault.ingest import Ingester
    from vault.lightquery import no_pandas, unloaded
    from vault.walk import walk_names

    new_vault = not db.exists()
    # What the last ingest derived and left pending (asked before the open, which changes the vault's identity).
    from vault.unchanged import derived_pending

    derived_before = None if new_vault else derived_pending(db)
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
                ing = Ingester(con, source=source, settings=ingest_conf, numpy_unused=light_imports,
                               derived_before=derived_before)
                ing.ingest_files(files)
                ing.finish(checkpoint_later=True)
            else:
                from rich.progress import BarColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

                with Progress("[progress.description]{task.description}", BarColumn(), TransferSpeedColumn(),
                              TimeRemainingColumn(), console=err(), transient=True) as prog:
                    task = prog.add_task("ingesting", total=sum(_size(p) for p in files) or None)
                    ing = Ingester(con, source=source, settings=ingest_conf, numpy_unused=light_imports,
                                   derived_before=derived_before, on_file=lambda p, n: prog.update(task, advance=n,
                                                                    description=f"ingesting {esc(p.name[:40])}"))
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
            # After the checkpoint that ends `_after_ingest` (`Ingester.finish`); closed next unless compacted. Kept
            # pending into the record of the settled vault (nothing written after the checkpoint: no second one at
            # the close), unless the vault is compacted next.
            derived = ing.forget_derived(con, closing=not new_vault, keep=not new_vault)
            crash_point("derived-kept")
            if new_vault:  # DuckDB never gives free blocks back: the first fill leaves many (docs/storage.md)
                from vault.store import compact_after_first_ingest

                compact_after_first_ingest(con, db)
            else:  # for the next run, if nothing changes (`unchanged.check`); while this process holds the vault
                from vault import unchanged

                if unchanged.record(con, db, model, embedded=not no_embed, derived=derived):
                    crash_point("recorded")
                    common.end_with_process(con, db)  # settled: not closed, the process ends at once
    return rep, files, index_info


def check_source(name: str | None) -> str | None:
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
    from vault.ingest_report import error_where

    console.print(
        f"{counted(rep.files, 'file', style='bold')} read, {rep.files_unchanged} unchanged; "
        f"{counted(rep.messages_added, 'new message', style='bold')} from {counted(rep.records, 'record')}"
        + (f"; [yellow]{counted(rep.skipped_lines, 'line')} skipped[/]" if rep.skipped_lines else "")
    )
    for src, n in sorted(rep.by_source.items()):
        console.print(f"  {esc(src)}: {counted(n, 'file')}")
    emb = (index_info or {}).get("embed")
    if emb and emb.get("embedded"):
        rate = emb["embedded"] / emb["encode_seconds"] if emb.get("encode_seconds") else 0.0
        console.print(f"  embedded {counted(emb['embedded'], 'text')} in {emb['seconds']:.1f} s "
                      f"(model load {emb.get('load_seconds', 0.0):.1f} s, {rate:.0f} texts/s) with {esc(emb['model'])}")
    for e in rep.errors[:20]:
        where = error_where(e)  # path:40, path conversation 12:, or the path alone (line 0: the whole file)
        console.print(f"  [yellow]{esc(where)}[/] {esc(e['reason'])}", soft_wrap=True)  # one line each, piped too
    if len(rep.errors) > 20:
        console.print(f"  ... and {len(rep.errors) - 20} more (use --json for all)")
    for u in rep.unrecognised:
        console.print(f"  [dim]skipped {esc(u['file'])}: {esc(u['reason'])}[/]", soft_wrap=True)
    for u in rep.unfinished:
        console.print(f"  [dim]{esc(str(u['file']))}:{u['line']} ends unfinished "
                      f"({counted(u['bytes'], 'byte')}, no newline): "
                      "read once complete[/]", soft_wrap=True)
    if rep.unknown_types:
        kinds = esc(", ".join(f"{k} x{v}" for k, v in sorted(rep.unknown_types.items())))
        console.print(f"  [dim]record types kept raw but not yet understood: {kinds}[/]")
