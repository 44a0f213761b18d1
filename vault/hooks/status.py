"""What `vault hooks status` shows: our hooks per event, the vault each writes to, its last run, what is pending."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vault.hooks.claude_settings import SettingsFile
from vault.hooks.command import db_of_command
from vault.hooks.install import installed
from vault.hooks.pending import list_pending, read_runs


def status(path: Path, default_db: Path) -> dict[str, Any]:
    """What is installed where, which vault each hook writes to, and when each event last ran."""
    sf = SettingsFile.read(path)
    events = installed(sf.data)
    out: dict[str, Any] = {"settings": str(path), "exists": sf.raw is not None, "events": {}}
    for event, commands in sorted(events.items()):
        db = db_of_command(commands[0]) or default_db
        runs = read_runs(db)
        out["events"][event] = {"command": commands[0], "duplicates": len(commands) - 1, "db": str(db),
                                "last_run": runs.get(event)}
    dbs = {Path(e["db"]) for e in out["events"].values()} or {default_db}
    out["pending"] = sorted(str(p) for db in dbs for p in list_pending(db))
    return out
