"""`vault migrate`: upgrade a vault written by an older version, the one step read-only commands ask for."""

from __future__ import annotations

import click

from vault.cli.common import emit_json, existing_db_path, json_option, open_db


@click.command("migrate")
@json_option
@click.pass_context
def migrate_cmd(ctx, as_json: bool) -> None:
    """Upgrade the vault to this version (a backup copy of it is kept first)."""
    from vault.store import backups, needed_migrations

    path = existing_db_path(ctx)
    todo = needed_migrations(path)
    before = set(backups(path))
    if todo:
        with open_db(ctx):  # a write open applies them, after the backup copy
            pass
    made = sorted(set(backups(path)) - before)
    if as_json:
        emit_json({"db": str(path), "migrations": todo, "backup": str(made[-1]) if made else None})
    elif todo:
        click.echo(f"upgraded {path}: {len(todo)} migration{'s' if len(todo) > 1 else ''} ({', '.join(todo)})"
                   + (f"; the previous version is kept in {made[-1]}" if made else ""))
    else:
        click.echo(f"{path} is up to date: nothing to migrate")
