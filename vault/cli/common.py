"""Helpers shared by the CLI command modules: settings, opening the vault, JSON output, consoles."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from vault.settings import Settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (see CONTRACTS.md).")


class CliState:
    """What the root group hands every command: its flags, and the settings loaded from them once.

    Loaded on first use, so `vault CMD --help` does not pay for reading them.
    """

    def __init__(self, flags: dict[str, tuple[str, Any]] | None = None) -> None:
        self.flags = flags or {}
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from vault.settings import load

            self._settings = load(self.flags)
        return self._settings


def settings(ctx: click.Context, flags: dict[str, tuple[str, Any]] | None = None) -> Settings:
    """This run's settings, with the command's own `flags` applied ({"corrections.threshold": ("--threshold", v)})."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    s = root.obj.settings
    return s.with_flags(flags) if flags else s


def redactor(ctx: click.Context):
    """The vault.redact.Redactor of this run (the `[redact]` settings): for everything that leaves the vault."""
    from vault.redact import Redactor

    return Redactor.from_settings(settings(ctx))


def db_path(ctx: click.Context) -> Path:
    return settings(ctx).db


LOCK_WAIT = 2.0  # seconds to wait for a short holder of the vault (`vault mcp`, the TUI) before giving up


@contextlib.contextmanager
def open_db(ctx: click.Context, *, read_only: bool = False) -> Iterator[Any]:
    """A vault connection for the duration of a command (writers hold the lock only that long)."""
    import duckdb

    from vault.store import VaultDamagedError, open_vault_waiting

    path = db_path(ctx)
    con = open_vault_waiting(path, read_only=read_only, wait=LOCK_WAIT)
    try:
        yield con
    except duckdb.IOException as e:  # opened fine, but a block read later failed its checksum: damage
        raise VaultDamagedError(f"the vault {path} is damaged or unreadable: {str(e).splitlines()[0]}") from None
    finally:
        con.close()


def _default(o: Any) -> Any:
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=_default) + "\n")


def emit_jsonl(rows) -> None:
    w = sys.stdout.write
    for r in rows:
        w(json.dumps(r, ensure_ascii=False, default=_default) + "\n")


def stdout_console():
    from rich.console import Console

    return Console()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def confirm_paid_plan(as_json: bool):
    """confirm(plan) for a paid backend: says what will be sent and what it costs, then asks.

    Without a terminal to ask on (or with --json) nothing is sent unless --yes was given.
    """

    def confirm(plan) -> bool:
        err = stderr_console()
        err.print(f"{plan.describe()}.\nTexts are redacted (secrets, e-mails, phone numbers, IP addresses, home paths, "
                  "user names) before sending (docs/privacy.md).")
        if as_json or not sys.stdin.isatty():
            err.print("[red]Not confirmed: pass --yes to send without asking.[/]")
            return False
        return click.confirm("Send?", default=False, err=True)

    return confirm
