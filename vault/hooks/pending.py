"""Beside the vault: the pending list (`<vault>.hook-pending/`, one small file per transcript path a hook handed
over, taken by the next ingest) and the run log (`<vault>.hook-runs.json`, the last run per event)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from vault.private import replace_private


def pending_dir(db: Path) -> Path:
    return db.with_name(db.name + ".hook-pending")


def runs_path(db: Path) -> Path:
    return db.with_name(db.name + ".hook-runs.json")


def now() -> str:
    """The time as the run log writes it (ISO, UTC, seconds): comparable as text."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _entry_name(path: Path) -> str:
    import hashlib

    return hashlib.sha1(str(path).encode()).hexdigest()[:20]


def add_pending(db: Path, paths: list[Path]) -> None:
    """Record paths to ingest: one small file each (atomic, and no lock needed between writers)."""
    d = pending_dir(db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in paths:
        replace_private(d / _entry_name(p), str(p).encode("utf-8"))


def list_pending(db: Path) -> dict[Path, Path]:
    """{transcript path: its entry file}."""
    d = pending_dir(db)
    out: dict[Path, Path] = {}
    try:
        entries = sorted(d.iterdir())
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):  # one being written
            continue
        try:
            out[Path(e.read_text(encoding="utf-8").strip())] = e
        except (OSError, UnicodeDecodeError):
            continue
    return out


def clear_pending(entries: list[Path]) -> None:
    for e in entries:
        e.unlink(missing_ok=True)


def read_runs(db: Path) -> dict[str, Any]:
    try:
        data = json.loads(runs_path(db).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def wait_for_run(db: Path, event: str, after: str, timeout: float, poll: float = 0.1) -> dict[str, Any]:
    """The logged run of `event` at or after `after` (an ISO time, as `now` writes it), waited for up to `timeout`
    seconds: the worker runs detached, so who needs its result (a bench, a test) polls the log."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        run = read_runs(db).get(event)
        if run and run["at"] >= after:
            return run
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {event} run logged at or after {after} in {timeout} s: {read_runs(db)}")
        time.sleep(poll)


def record_run(db: Path, event: str, result: str, seconds: float) -> None:
    """The last run per event, for `vault hooks status` (atomic replace; the last writer wins)."""
    runs = read_runs(db)
    runs[event] = {"at": now(), "result": result, "seconds": round(seconds, 3)}
    _write_runs(db, runs)


def unreported_error(db: Path) -> str | None:
    """The error of the last background run, once (the next hook run shows it to the person)."""
    runs = read_runs(db)
    err = runs.get("error")
    if not err or err.get("reported"):
        return None
    err["reported"] = True
    _write_runs(db, runs)
    return f"the background ingest of {err['at']} failed: {err['result']}"


def _write_runs(db: Path, runs: dict[str, Any]) -> None:
    path = runs_path(db)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_private(path, json.dumps(runs, indent=1).encode())
