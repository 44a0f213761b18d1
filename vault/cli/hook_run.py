"""What `vault ingest --hook` and its detached worker run (`--hook-worker`), without click: called by the ingest command
(`vault.cli.ingest_run`), whether click parsed it or `vault.cli.quick` did."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vault.cli.common import db_path, settings


def _flag(ctx, name: str) -> Path | None:
    """A root flag (--db, --config) as given on the command line, without loading the settings."""
    obj = ctx.find_root().obj
    value = getattr(obj, "flags", {}).get(name, (None, None))[1]
    return Path(value) if value else None


def _fail(db: Path | None, msg: str, start: float) -> None:
    """A real error: one line on stderr and exit 1, which Claude Code shows as a non-blocking error and
    carries on (exit 2 would block compaction or keep Claude from stopping)."""
    from vault.hooks.pending import record_run

    if db is not None:
        try:
            record_run(db, "error", msg[:300], time.perf_counter() - start)
        except OSError:
            pass
    sys.stderr.write(f"{msg}\n" if msg.startswith("vault ") else f"vault: {msg}\n")  # not "vault: vault ingest …"
    sys.exit(1)


def run_hook(ctx, wait: bool = False) -> None:
    """`vault ingest --hook`: record the hook's transcript as pending and ingest it in a detached process.

    Silent with exit 0, unless something is really wrong. The settings are only loaded when the command
    has no --db (install bakes it in): loading them costs more than the rest of this half.
    """
    from vault.hooks.accept import MAX_HOOK_INPUT, HookInputError, accept_hook, spawn_worker
    from vault.hooks.pending import unreported_error

    start = time.perf_counter()
    db = _flag(ctx, "db")
    try:
        if db is None:
            db = settings(ctx).db
        if sys.stdin is None or sys.stdin.isatty():
            raise HookInputError("vault ingest --hook reads the hook's JSON on stdin (Claude Code sends it)")
        raw = sys.stdin.buffer.read(MAX_HOOK_INPUT + 1)
        if len(raw) > MAX_HOOK_INPUT:
            raise HookInputError("vault ingest --hook: the hook JSON on stdin is larger than 1 MB")
        event, _ = accept_hook(raw, db)
        if wait:
            _work(ctx, db, event, start)
        else:
            spawn_worker(db, event, _flag(ctx, "config"))
        previous = unreported_error(db)
    except Exception as e:  # anything: one line, never a traceback into the session
        _fail(db, str(e) or type(e).__name__, start)
    if previous:
        _fail(None, previous, start)
    sys.exit(0)


def run_hook_worker(ctx, event: str) -> None:
    """The detached half: ingest what is pending (or leave it, if the vault is busy), and log the run."""
    start = time.perf_counter()
    db = None
    try:
        db = db_path(ctx)  # the settings (pydantic) loaded only when something is to validate (vault.settings_light)
        _work(ctx, db, event, start)
    except Exception as e:
        _fail(db, str(e) or type(e).__name__, start)
    sys.exit(0)


def _work(ctx, db: Path, event: str, start: float) -> None:
    from vault.cli import common
    from vault.hooks.pending import record_run
    from vault.hooks.worker import work

    conf = settings(ctx) if _flag(ctx, "db") is None or _flag(ctx, "config") else None
    # A settled writer is left to the process's end, which comes at once (`end_with_process`: its close cost 10-30 ms
    # of CPU): the run log below is written with the vault already as recorded, as a kill there would leave it.
    res = work(db, event, batch_bytes=conf.ingest.batch_bytes if conf else None,
               whole_process=common.whole_process, keep=lambda con: common.end_with_process(con, db))
    record_run(db, event, res.describe(), time.perf_counter() - start)
