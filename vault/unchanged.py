"""`vault ingest` when nothing changed, answered without opening the vault (nor importing DuckDB).

After an ingest, `record` writes beside the vault (`<vault>.files-state.json`, private as the vault) what an
unchanged re-ingest compares the archive with: each file's path, size and mtime as the `files` table holds them,
stamped with the vault file's identity (device, inode, size, mtime and ctime in ns), the code that wrote it (every
module of the vault package and DuckDB's library: path, size, mtime) and whether the embeddings were up to date. The
next `vault ingest` (`check`) answers "nothing changed" from it when all of these hold, else it runs as before:
- the vault file has no WAL and its identity is the one stamped: no process has opened it to write since (a writer's
  open changes its ctime, a write its mtime), so its `files` table, pending derivations and indexes are those of
  the ingest that recorded them, which left its keyword index fresh and nothing pending that it had not derived
  (the rows it derived stay pending, named in the record: `derived_pending`, deleted by the next ingest);
- the same code (a new migration, storage format or index layout would otherwise be skipped);
- embeddings: `--no-embed`, or they were up to date for the same `embed.model` setting;
- every path walked is a regular file (symlinks resolved as the ingester resolves them) listed with the same size
  and mtime: anything else (a new or grown file, an unreadable path, a folder named twice) takes the usual path,
  which reports it.
The record is written by the process holding the vault's write lock, after its last write and before it closes the
vault; a record that cannot be read, or that names another vault state, is ignored. Measured in docs/storage.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

SUFFIX = ".files-state.json"
FORMAT = 1


def state_path(db: Path) -> Path:
    return Path(f"{db}{SUFFIX}")


def check(db: Path, targets: Iterable[Path], embed_model: str | None, embed: bool) -> tuple[int, list[str]] | None:
    """(files unchanged, paths walked) when nothing named by `targets` changed since the recorded ingest, and
    the vault is as that ingest left it; None when the ingest must run. `embed`: embeddings are wanted (with
    `embed_model`, the `embed.model` setting)."""
    try:
        rec = _read(db)
        if rec.get("format") != FORMAT or rec.get("vault") != _stamp(db) or rec.get("code") != _code():
            return None
        if embed and rec.get("embedded_for") != [embed_model]:
            return None
        files: dict[str, list] = rec["files"]
        suffixes = tuple(rec["suffixes"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    from vault.walk import path_key, real_stat, walk_names

    walked = list(walk_names(targets, suffixes))
    real_dirs: dict[str, str] = {}
    seen: set[str] = set()
    for name in walked:  # as `Ingester._plan` tells an unchanged file; anything else is the ingester's to report
        try:
            real, st = real_stat(os.path.abspath(name), real_dirs)
        except (OSError, RuntimeError):
            return None
        if real in seen or not stat.S_ISREG(st.st_mode):
            return None
        seen.add(real)
        known = files.get(path_key(real))
        if known is None or known[0] != st.st_size or known[1] != st.st_mtime:
            return None
    return len(seen), walked


def record(con, db: Path, embedded_for: str | None, embedded: bool,
           derived: tuple[list[str], list[int]] | None = None) -> bool:
    """Write the state `check` compares with, if the vault is settled: nothing pending but what the caller vouches
    for, the keyword index fresh, no WAL (the caller's last write checkpointed). `con`: the connection that wrote,
    still holding the vault. `embedded`: the embeddings are up to date for the `embed.model` setting `embedded_for`.
    `derived`: the pending sessions and files whose derivations this process committed before its last checkpoint
    (`Ingester.forget_derived(keep=True)`): left pending, named in the record as done (`derived_pending`).
    Returns whether it wrote."""
    from vault.index import fts
    from vault.private import write_private
    from vault.walk import builtin_suffixes

    stamp = _stamp(db)  # None while the WAL holds writes not checkpointed: then no query at all
    if stamp is None:
        _drop(state_path(db))
        return False
    pending = con.execute("SELECT session_id, NULL FROM pending_sessions UNION ALL "
                          "SELECT NULL, file_id FROM pending_files").fetchall()
    sessions = sorted(r[0] for r in pending if r[0] is not None)
    files = sorted(r[1] for r in pending if r[1] is not None)
    vouched = derived is not None and set(sessions) <= set(derived[0]) and set(files) <= set(derived[1])
    if (pending and not vouched) or fts.needs_rebuild(con):
        _drop(state_path(db))
        return False
    rows = con.execute("SELECT path, size, mtime FROM files WHERE size IS NOT NULL AND mtime IS NOT NULL").fetchall()
    path = state_path(db)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:  # a record that cannot be made costs the next run its shortcut, never this ingest its result
        rec = {"format": FORMAT, "vault": stamp, "code": _code(), "embedded_for": [embedded_for] if embedded else None,
               "suffixes": list(builtin_suffixes()), "files": {p: [size, mtime] for p, size, mtime in rows},
               "derived": {"sessions": sessions, "files": files}}
        write_private(tmp, json.dumps(rec, separators=(",", ":")).encode())
        if _stamp(db) != stamp:  # (the caller holds the write lock: nothing else can have written)
            raise OSError("the vault changed while its state was written")
        os.replace(tmp, path)
    except OSError:
        _drop(tmp)
        _drop(path)
        return False
    return True


def derived_pending(db: Path) -> tuple[list[str], list[int]] | None:
    """The pending sessions and files (`pending_sessions`, `pending_files`) that the writer of the record derived and
    checkpointed, when the vault file is still as it left it (no WAL, the same identity: nothing has written it or
    opened it to write since); None when not known. To be asked before opening the vault to write (the open changes
    its identity). The next ingest deletes these rows instead of deriving them again (`vault.ingest.Ingester`): the
    writer that derived them did not, as that delete would have cost its run a commit and a second checkpoint (the
    one closing the vault). A record of a vault that was written since (a WAL replayed, another writer, a run killed
    before recording) names another identity: then the rows are derived again (the derivations are idempotent)."""
    try:
        rec = _read(db)
        if rec.get("format") != FORMAT or rec.get("vault") != _stamp(db):
            return None
        derived = rec.get("derived") or {}
        sessions, files = derived.get("sessions") or [], derived.get("files") or []
        if not all(isinstance(s, str) for s in sessions) or not all(type(f) is int for f in files):
            return None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return (sessions, files) if sessions or files else None


_last_read: tuple[tuple, dict] | None = None  # (the state file's identity, its record): read once by a run


def _read(db: Path) -> dict:
    """The record beside `db` (parsed once while the file stays the same: `check`, then `derived_pending`)."""
    global _last_read
    path = state_path(db)
    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if _last_read is None or _last_read[0] != key:
        with open(path, "rb") as fh:
            _last_read = (key, json.loads(fh.read()))
    return _last_read[1]


def _drop(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _stamp(db: Path) -> list[int] | None:
    """The vault file's identity: changed by any write (mtime), any writer's open (its chmod: ctime), a copy over
    it (inode, ctime). None while a WAL holds writes not in the file yet."""
    try:
        st = os.stat(db)
    except OSError:
        return None
    if os.path.exists(f"{db}.wal"):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _code() -> list:
    """What code would answer: every module of the vault package and DuckDB's compiled library (path, size, mtime).
    Any change (an upgrade, an edited tree) makes the next ingest run whole once, and record again."""
    import importlib.util

    import vault

    out = [vault.__version__]
    root = os.path.dirname(os.path.abspath(vault.__file__))
    todo = [root]
    while todo:
        top = todo.pop()
        with os.scandir(top) as it:
            for e in sorted(it, key=lambda e: e.name):
                if e.is_dir(follow_symlinks=False):
                    if e.name != "__pycache__":
                        todo.append(e.path)
                elif e.name.endswith(".py"):
                    st = e.stat()
                    out.append([e.path[len(root):], st.st_size, st.st_mtime_ns])
    spec = importlib.util.find_spec("_duckdb")
    if spec is not None and spec.origin:
        st = os.stat(spec.origin)
        out.append([spec.origin, st.st_size, st.st_mtime_ns])
    return out
